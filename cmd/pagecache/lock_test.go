//go:build linux

// The tests in this file use Linux: posix_fadvise, /proc, pseudo-terminals,
// FIFOs and mount points, fincore and vmtouch.

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain runs the program itself instead of the tests when a test starts
// the test binary as a child with PAGECACHE_TEST_MAIN set, so that signals,
// exit statuses and terminals are those of the real program.
func TestMain(m *testing.M) {
	if os.Getenv("PAGECACHE_TEST_MAIN") == "1" {
		if os.Getenv("PAGECACHE_TEST_FAST_PROGRESS") == "1" {
			progressDelay, progressPeriod = 0, time.Millisecond
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// pcCommand returns a command that runs the program with args.
// Under an emulator (scripts/test-386.sh, scripts/test-qemu.sh) the child
// runs under the same emulator, or the test is skipped where the emulator
// cannot run children.
func pcCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if reason := os.Getenv("MMAP_TEST_NO_CHILD"); reason != "" {
		t.Skipf("no child processes here: %s", reason)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	if emu := strings.Fields(os.Getenv("MMAP_TEST_EMULATOR")); len(emu) > 0 {
		cmd = exec.Command(emu[0], append(emu[1:], append([]string{exe}, args...)...)...)
	}
	cmd.Env = append(os.Environ(), "PAGECACHE_TEST_MAIN=1")
	return cmd
}

// pcLocked returns the memory the process pid has locked, in bytes, from
// VmLck in /proc/pid/status.
func pcLocked(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmLck:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmLck line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmLck in /proc/%d/status", pid)
	return 0
}

// pcWaitLine reads lines from r until one contains want, and returns the
// lines read. It fails the test after a timeout.
func pcWaitLine(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), want) {
				break
			}
		}
		got <- b.String()
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, want) {
			t.Fatalf("no line with %q in %q", want, s)
		}
		return s
	case <-time.After(30 * time.Second):
		t.Fatalf("no line with %q after 30s", want)
		return ""
	}
}

func TestPagecacheLock(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, size := range []int64{0, 5, 1<<20 + 1} {
		files = append(files, pcWriteFile(t, dir, "f"+strconv.Itoa(i), size, false))
	}
	const want = 1 + (1<<20)/4096 + 1 // pages with 4 KiB pages; checked below
	pages := pagesOf(5) + pagesOf(1<<20+1)
	lockedBefore := pcLocked(t, os.Getpid())

	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stderrR.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"-lock", "-json", dir}, &stdout, stderrW)
		stderrW.Close()
		done <- code
	}()
	pcWaitLine(t, stderrR, "waiting for SIGINT or SIGTERM")

	// While it waits, the files are locked in this process and resident.
	if got := pcLocked(t, os.Getpid()) - lockedBefore; got != pages*pageSize {
		t.Errorf("VmLck grew by %d bytes while locked, want %d", got, pages*pageSize)
	}
	for _, f := range files {
		if c := pcCount(t, f); c.resident != c.pages {
			t.Errorf("%s while locked: %v", f, c)
		}
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("pagecache -lock did not return after its context was done")
	}
	rest, _ := io.ReadAll(stderrR)
	if code != exitOK || !strings.Contains(string(rest), "unlocked") {
		t.Errorf("exit %d, stderr after waiting %q; want 0 and unlocked", code, rest)
	}
	if got := pcLocked(t, os.Getpid()); got != lockedBefore {
		t.Errorf("VmLck %d bytes after unlocking, want %d as before", got, lockedBefore)
	}
	recs, total := pcParseJSON(t, stdout.String())
	if total.Files != 3 || total.Pages != pages || total.Resident != pages || len(recs) != 3 {
		t.Errorf("records %v, total %+v; want 3 files of %d pages, all resident", recs, total, pages)
	}
	if pageSize == 4096 && pages != want {
		t.Errorf("pages %d, want %d", pages, want)
	}
}

func TestPagecacheLockSignal(t *testing.T) {
	dir := t.TempDir()
	pcWriteFile(t, dir, "f", 3*pageSize+1, false)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := pcCommand(t, "-lock", dir)
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			pcWaitLine(t, stderr, "waiting for SIGINT or SIGTERM")
			if got := pcLocked(t, cmd.Process.Pid); got < 4*pageSize {
				t.Errorf("child has %d bytes locked, want at least %d", got, 4*pageSize)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(stderr)
			if err := cmd.Wait(); err != nil {
				t.Errorf("after %v: %v; stderr %q", sig, err, rest)
			}
			if !strings.Contains(string(rest), "unlocked") {
				t.Errorf("stderr after %v: %q, want unlocked", sig, rest)
			}
			if !strings.Contains(stdout.String(), "4          4      16.0K    100%") {
				t.Errorf("stdout:\n%s", stdout.String())
			}
		})
	}
}

func TestPagecacheExitStatus(t *testing.T) {
	// The real program's exit statuses.
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{dir}, exitOK},
		{[]string{filepath.Join(dir, "missing")}, exitSkipped},
		{[]string{"-evict", "-touch", dir}, exitUsage},
	} {
		err := pcCommand(t, tc.args...).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("pagecache %q: exit %d, want %d", tc.args, code, tc.code)
		}
	}
}

// pcPty opens a pseudo-terminal and returns its two ends.
func pcPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestPagecacheProgress(t *testing.T) {
	master, slave := pcPty(t)
	if !isTerminal(slave.Fd()) {
		t.Fatal("isTerminal says a pseudo-terminal is not a terminal")
	}
	pcPipe := func() (r, w *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}
	_, w := pcPipe()
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, x := range []*os.File{w, f} {
		if isTerminal(x.Fd()) {
			t.Errorf("isTerminal(%s) is true", x.Name())
		}
	}
	if newProgress(w, 1) != nil || newProgress(&bytes.Buffer{}, 1) != nil {
		t.Errorf("a progress bar for something that is not a terminal")
	}

	dir := t.TempDir()
	pcWriteFile(t, dir, "big", 32<<20, false)
	pcWriteFile(t, dir, "small", 100, false)
	for _, act := range []string{"-touch", "-evict"} {
		t.Run(act, func(t *testing.T) {
			// On a terminal, the bar is drawn on stderr and erased at the
			// end; stdout, a pipe, gets the table only.
			cmd := pcCommand(t, act, dir)
			cmd.Env = append(cmd.Env, "PAGECACHE_TEST_FAST_PROGRESS=1")
			var stdout bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, slave
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			if err := master.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Skipf("no read deadline on the pseudo-terminal: %v", err)
			}
			var screen []byte
			buf := make([]byte, 1<<16)
			for !bytes.HasSuffix(screen, []byte("\r\x1b[K")) {
				n, err := master.Read(buf)
				screen = append(screen, buf[:n]...)
				if err != nil {
					t.Fatalf("reading the terminal: %v; got %q", err, screen)
				}
			}
			// How far the bar got depends on timing: evicting 32 MiB is
			// a single call.
			if !bytes.HasPrefix(screen, []byte("\r[")) || !bytes.Contains(screen, []byte("/32.0M ")) {
				t.Errorf("no progress bar on the terminal: %q", screen)
			}
			if strings.ContainsAny(stdout.String(), "\r\x1b") || !strings.Contains(stdout.String(), "total (2 files") {
				t.Errorf("stdout %q", stdout.String())
			}

			// Not on a terminal (a pipe): nothing on stderr.
			r, w := pcPipe()
			code := run(context.Background(), []string{act, dir}, io.Discard, w)
			w.Close()
			rest, _ := io.ReadAll(r)
			if code != exitOK || len(rest) != 0 {
				t.Errorf("stderr not a terminal: exit %d, stderr %q", code, rest)
			}
		})
	}
}
