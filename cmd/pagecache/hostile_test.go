//go:build linux

// Tests of what a hostile user may do: output that cannot be written,
// odd arguments, lists that never come, signals at awkward times. They use
// Linux: FIFOs, signals, and the helpers of util_test.go.

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pcFailWriter fails every write, as a full disk does.
type pcFailWriter struct{}

func (pcFailWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestPagecacheWriteError(t *testing.T) {
	// Output lost is a failure, not a success.
	dir := t.TempDir()
	pcWriteFile(t, dir, "f", pageSize, false)
	for _, args := range [][]string{{dir}, {"-json", dir}, {"-v", dir}} {
		var stderr bytes.Buffer
		code := run(t.Context(), args, pcFailWriter{}, &stderr)
		if code != exitSkipped || !strings.Contains(stderr.String(), syscall.ENOSPC.Error()) {
			t.Errorf("pagecache %q to a full disk: exit %d, stderr %q; want 1 and the write error", args, code, stderr.String())
		}
	}
}

func TestPagecacheFlagValueDashDash(t *testing.T) {
	// "--" as the value of a flag does not end the flags.
	dir := t.TempDir()
	f := pcWriteFile(t, dir, "f", pageSize, false)
	code, out, errs := pcRun(t, "-i", "--", f, "-json")
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache -i -- FILE -json: exit %d, stderr %q", code, errs)
	}
	if files, _ := pcParseJSON(t, out); len(files) != 1 {
		t.Errorf("records %v, want %s", files, f)
	}
	// After the end of the flags, a path that looks like a flag is a path.
	code, _, errs = pcRun(t, "-s", "--", "-json")
	if code != exitSkipped || !strings.Contains(errs, "-json") {
		t.Errorf("pagecache -s -- -json: exit %d, stderr %q; want 1, -json not found", code, errs)
	}
}

// pcFIFOWriter makes a FIFO and starts cmd, which reads it, and returns the
// FIFO's write end once cmd has opened it: cmd is then waiting for a list
// that does not come. Closing the write end ends the list.
func pcFIFOWriter(t *testing.T, fifo string, cmd *exec.Cmd) *os.File {
	t.Helper()
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once cmd opened it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// pcWaitExit waits for cmd to exit after an interrupt, and returns its exit
// status; it fails the test if cmd is still running after 30s.
func pcWaitExit(t *testing.T, cmd *exec.Cmd, w *os.File) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		w.Close() // the list ends: the program stops waiting for it
		<-done
		t.Fatalf("still running 30s after SIGINT")
		return 0
	}
}

func TestPagecacheFilesFromInterrupted(t *testing.T) {
	// A list read from a FIFO (or a terminal) that does not come: SIGINT
	// stops the wait.
	fifo := filepath.Join(t.TempDir(), "list")
	cmd := pcCommand(t, "-files-from", fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w := pcFIFOWriter(t, fifo, cmd)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := pcWaitExit(t, cmd, w); code != exitSkipped || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("-files-from FIFO, SIGINT: exit %d, stderr %q; want 1, interrupted", code, stderr.String())
	}
}

func TestPagecacheDaemonFilesFromStdin(t *testing.T) {
	// -files-from - with -d: the daemon reads the list from the command's
	// standard input.
	dir := t.TempDir()
	f := pcWriteFile(t, dir, "f", 3*pageSize, false)
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd := pcCommand(t, "-lock", "-d", "-pidfile", pidfile, "-files-from", "-")
	cmd.Stdin = strings.NewReader(f + "\n")
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	b, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 {
		defer syscall.Kill(pid, syscall.SIGTERM)
	}
	if err != nil || pid == 0 || !strings.Contains(out.String(), "total (1 file") {
		t.Fatalf("-lock -d -files-from -: %v, pidfile %q, stdout %q, stderr %q; want the file locked", err, b, out.String(), errs.String())
	}
	if got := pcLocked(t, pid); got < 3*pageSize {
		t.Errorf("the daemon has %d bytes locked, want at least %d", got, 3*pageSize)
	}
}

func TestPagecacheDaemonInterrupted(t *testing.T) {
	// The daemon is in a session of its own, out of reach of the terminal's
	// SIGINT: while the command waits for it to lock, SIGINT to the command
	// ends both.
	dir := t.TempDir()
	fifo := filepath.Join(dir, "list")
	pidfile := filepath.Join(dir, "pid")
	cmd := pcCommand(t, "-lock", "-d", "-pidfile", pidfile, "-files-from", fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w := pcFIFOWriter(t, fifo, cmd) // opened by the daemon
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := pcWaitExit(t, cmd, w); code != exitSkipped || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("-lock -d, SIGINT before the daemon locked: exit %d, stderr %q; want 1, interrupted", code, stderr.String())
	}
	// The daemon, the FIFO's only reader, is gone.
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("the daemon still reads its list after the command was interrupted: write %v", err)
	}
	if _, err := os.Stat(pidfile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pidfile after the interrupt: %v", err)
	}
}

func TestPagecacheTouchOfShrunkFileNamesIt(t *testing.T) {
	// A file that shrinks between its mapping and its loading is reported
	// by its path first, as every other skipped file is.
	dir := t.TempDir()
	f := pcWriteFile(t, dir, "shrinks", 4*pageSize, false)
	if code, _, errs := pcRun(t, "-evict", f); code != exitOK {
		t.Fatalf("pagecache -evict: exit %d, %s", code, errs)
	}
	testHookMapped = func(path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookMapped = nil }()
	code, _, errs := pcRun(t, "-touch", f)
	if code != exitSkipped || !strings.HasPrefix(errs, "pagecache: "+f+": ") || !strings.Contains(errs, errTruncated.Error()) {
		t.Errorf("pagecache -touch of a file truncated once mapped: exit %d, stderr %q; want 1 and the path first", code, errs)
	}
}

func TestPagecacheErrorsNameTheirCause(t *testing.T) {
	// The process that is not there, the list that is not there.
	code, _, errs := pcRun(t, "-pid", "2147483647")
	if code != exitSkipped || errs != "pagecache: -pid 2147483647: no such process\n" {
		t.Errorf("pagecache -pid of no process: exit %d, stderr %q", code, errs)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	code, _, errs = pcRun(t, "-files-from", missing)
	if code != exitUsage || !strings.HasPrefix(errs, "pagecache: -files-from: ") || !strings.Contains(errs, missing) {
		t.Errorf("pagecache -files-from of a missing list: exit %d, stderr %q", code, errs)
	}
}

func TestPagecacheOverlappingPathsCountEachFileOnce(t *testing.T) {
	// A directory and a directory or file inside it: each file once.
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	pcWriteFile(t, dir, "a", pageSize, false)
	b := pcWriteFile(t, sub, "b", 2*pageSize, false)
	_, total := pcJSON(t, dir)
	for _, args := range [][]string{{dir, sub}, {sub, dir}, {dir, b}, {b, dir, b}} {
		if _, got := pcJSON(t, args...); got.Files != total.Files || got.Pages != total.Pages {
			t.Errorf("pagecache %q: %d files, %d pages; want %d files, %d pages, as for %s alone", args, got.Files, got.Pages, total.Files, total.Pages, dir)
		}
	}
}
