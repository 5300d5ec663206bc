//go:build linux

// The tests in this file check the counts against cachestat(2) through the
// library, util-linux's fincore and mincore, and what a user who may not
// know sees.

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmapkit/mmap"
)

// pcTree makes n files of random sizes (up to 64 pages, some empty, some a
// byte past a page) in a few directories under dir, and reads random pages
// of most of them, so that residency varies file by file.
func pcTree(t *testing.T, dir string, n int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := make([]string, 0, n)
	data := make([]byte, 64*pageSize)
	for i := range n {
		sub := filepath.Join(dir, "d"+strconv.Itoa(i%17))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		size := rng.Int64N(64 * pageSize)
		switch i % 7 {
		case 0:
			size = 0
		case 1:
			size = pageSize * (1 + rng.Int64N(8))
		case 2:
			size = pageSize*(1+rng.Int64N(8)) + 1
		}
		p := filepath.Join(sub, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, data[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if err := exec.Command("sync").Run(); err != nil {
		t.Fatal(err)
	}
	for i, p := range files {
		pcEvict(t, p)
		if i%5 == 4 {
			continue // left wholly out of the cache
		}
		var pages []int64
		for range 1 + rng.IntN(6) {
			pages = append(pages, rng.Int64N(64))
		}
		pcReadPages(t, p, pages...)
	}
	return files
}

// pcJSONFiles runs the tool with -json and args and returns each file's
// record.
func pcJSONFiles(t *testing.T, args ...string) (map[string]jsonFile, jsonTotal) {
	t.Helper()
	code, out, errs := pcRun(t, append([]string{"-json"}, args...)...)
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache -json %q: exit %d, stderr %q", args, code, errs)
	}
	files := make(map[string]jsonFile)
	var total jsonTotal
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, `{"total":true`) {
			if err := json.Unmarshal([]byte(line), &total); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var f jsonFile
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		files[f.Path] = f
	}
	return files, total
}

func TestPagecacheCountsEqualCachestatAndFincore(t *testing.T) {
	pcNeedTools(t)
	dir := pcDiskDir(t)
	files := pcTree(t, dir, 3000)
	pcEventually(t, func() []string {
		var problems []string
		got, total := pcJSONFiles(t, dir)
		if total.Files != len(files) || total.Unknown != 0 {
			t.Fatalf("total %+v, want %d files, none unknown", total, len(files))
		}
		// The library's FileCacheStat, file by file.
		var cached int64
		for _, p := range files {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := mmap.FileCacheStat(f, 0, 0)
			f.Close()
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("no cachestat here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			r := got[p]
			if r.Resident == nil || *r.Resident != cs.Cached || r.Dirty == nil || *r.Dirty != cs.Dirty ||
				*r.Writeback != cs.Writeback || *r.Evicted != cs.Evicted || *r.RecentlyEvicted != cs.RecentlyEvicted {
				problems = append(problems, fmt.Sprintf("%s: tool %s, FileCacheStat %+v", p, pcRecord(r), cs))
			}
			cached += cs.Cached
		}
		if total.Resident != cached {
			problems = append(problems, fmt.Sprintf("total resident %d, FileCacheStat's sum %d", total.Resident, cached))
		}
		// fincore, all files in one call.
		out, err := exec.Command("fincore", append([]string{"--bytes", "--noheadings", "--raw", "-o", "PAGES,FILE"}, files...)...).Output()
		if err != nil {
			t.Fatalf("fincore: %v", err)
		}
		seen := 0
		for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
			pages, path, _ := strings.Cut(line, " ")
			n, err := strconv.ParseInt(pages, 10, 64)
			if err != nil {
				t.Fatalf("fincore line %q", line)
			}
			seen++
			if r, ok := got[path]; !ok || *r.Resident != n {
				problems = append(problems, fmt.Sprintf("%s: tool %s, fincore %d resident", path, pcRecord(r), n))
			}
		}
		if seen != len(files) {
			problems = append(problems, fmt.Sprintf("fincore listed %d files of %d", seen, len(files)))
		}
		// mincore through the library counts the same.
		noCachestat = true
		t.Cleanup(func() { noCachestat = false }) // also if pcJSONFiles fails
		byMincore, _ := pcJSONFiles(t, dir)
		noCachestat = false
		for p, r := range got {
			m := byMincore[p]
			if m.Resident == nil || *m.Resident != *r.Resident || m.Dirty != nil && r.Pages > 0 {
				problems = append(problems, fmt.Sprintf("%s: cachestat %s, mincore %s", p, pcRecord(r), pcRecord(m)))
			}
		}
		return problems
	})
}

func pcRecord(r jsonFile) string {
	n := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("{size %d pages %d resident %s dirty %s writeback %s evicted %s recent %s}",
		r.Size, r.Pages, n(r.Resident), n(r.Dirty), n(r.Writeback), n(r.Evicted), n(r.RecentlyEvicted))
}

// pcNobody returns a command that runs the program with args as the user
// nobody, from a copy of the test binary that nobody may run.
func pcNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run the program as nobody")
	}
	cmd := pcCommand(t, args...)
	exe, _ := os.Executable()
	if cmd.Path != exe {
		t.Skip("the program runs under an emulator")
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pagecache-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	copyExe := filepath.Join(dir, "pagecache.test")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyExe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Path, cmd.Args[0] = copyExe, copyExe
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

func TestPagecacheNobodySeesUnknown(t *testing.T) {
	dir := pcDiskDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []string{pcWriteFile(t, dir, "a", 5*pageSize, false), pcWriteFile(t, dir, "b", 3*pageSize+1, false)}
	for _, f := range files {
		pcEvict(t, f) // none resident: mincore would still say all are
	}
	var out, errs bytes.Buffer
	cmd := pcNobody(t, append([]string{"-v"}, files...)...)
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("as nobody: %v, stderr %q", err, errs.String())
	}
	text := out.String()
	if strings.Contains(text, "100%") || strings.Contains(text, "█") ||
		strings.Count(text, "        ?       ?  [") != 2 || !strings.Contains(text, "2 unknown") ||
		!strings.Contains(text, "residency unknown for 2 files (9 pages)") {
		t.Errorf("as nobody, on files nothing of which is cached:\n%s\nwant '?' for each, 2 unknown, no 100%%", text)
	}

	out.Reset()
	cmd = pcNobody(t, "-json", dir)
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("as nobody: %v, stderr %q", err, errs.String())
	}
	if strings.Count(out.String(), `"resident":null`) != 2 || !strings.Contains(out.String(), `"unknown":2,"size":`+strconv.Itoa(int(8*pageSize+1))+`,"pages":9,"resident":0}`) {
		t.Errorf("-json as nobody:\n%s", out.String())
	}
}

func TestPagecacheHardLinksOnce(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.WriteFile(a, make([]byte, 3*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if _, total := pcJSON(t, dir); total.Files != 1 || total.Pages != 3 {
		t.Errorf("two names of one file: total %+v, want 1 file of 3 pages", total)
	}
	// With -follow, a file and a directory reached through symbolic links
	// as well as by name are counted once.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), make([]byte, 2*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "a-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(dir, "sub-link")); err != nil {
		t.Fatal(err)
	}
	if _, total := pcJSON(t, "-follow", dir); total.Files != 2 || total.Pages != 5 {
		t.Errorf("-follow over links to a file and a directory: total %+v, want 2 files of 5 pages", total)
	}
}

func TestPagecacheSelection(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.db")
	if err := os.WriteFile(big, make([]byte, 10*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.txt")
	if err := os.WriteFile(small, make([]byte, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	weird := filepath.Join(dir, "x\xff\n.db")
	if err := os.WriteFile(weird, make([]byte, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(list, []byte(weird+"\x00"+small+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		files []string
		pages int64 // of the total
	}{
		{[]string{dir, "-include", "*.db"}, []string{big, weird}, 11},    // flags after the path
		{[]string{"-max", "1K", dir}, []string{small, weird}, 2},         // -max
		{[]string{"-range", "4K:8K", big}, []string{big}, 2},             // -range
		{[]string{"-range", "36K:", big}, []string{big}, 1},              // -range to the end
		{[]string{"-files-from", list, "-0"}, []string{weird, small}, 2}, // NUL-separated list
		{[]string{"-top", "1", dir}, []string{big}, 12},                  // -top keeps the total
		{[]string{"--", dir, "-s"}, nil, 0},                              // -- ends the flags: -s is a path
	} {
		code, out, errs := pcRun(t, append([]string{"-json"}, tc.args...)...)
		if tc.files == nil {
			if code != exitSkipped || !strings.Contains(errs, "-s") {
				t.Errorf("pagecache -json %q: exit %d, stderr %q; want 1 naming -s", tc.args, code, errs)
			}
			continue
		}
		if code != exitOK {
			t.Errorf("pagecache -json %q: exit %d, stderr %q", tc.args, code, errs)
			continue
		}
		var got []string
		var total jsonTotal
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var f jsonFile
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatalf("pagecache -json %q: %v in %q", tc.args, err, line)
			}
			if err := json.Unmarshal([]byte(line), &total); err != nil {
				t.Fatalf("pagecache -json %q: %v in %q", tc.args, err, line)
			}
			p := f.Path
			if f.PathBase64 != "" {
				b, err := base64.StdEncoding.DecodeString(f.PathBase64)
				if err != nil {
					t.Fatalf("pagecache -json %q: path_base64 %q: %v", tc.args, f.PathBase64, err)
				}
				p = string(b)
			}
			if !total.Total {
				got = append(got, p)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.files) || total.Pages != tc.pages {
			t.Errorf("pagecache -json %q: files %q, total %+v; want files %q, %d pages", tc.args, got, total, tc.files, tc.pages)
		}
	}
}

func TestPagecacheProcessFiles(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	held, err := os.CreateTemp(t.TempDir(), "held")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// A live file whose name ends as the kernel marks deleted ones counts as
	// any other; a file deleted while held open is left out, and said so.
	odd, err := os.Create(filepath.Join(t.TempDir(), "odd (deleted)"))
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Close()
	gone, err := os.CreateTemp(t.TempDir(), "gone")
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if err := os.Remove(gone.Name()); err != nil {
		t.Fatal(err)
	}

	code, out, errs := pcRun(t, "-json", "-pid", strconv.Itoa(os.Getpid()))
	if code != exitOK || !strings.Contains(errs, "files not measured: deleted or replaced") {
		t.Fatalf("pagecache -pid of the test: exit %d, stderr %q; want 0 and a word on the deleted file", code, errs)
	}
	for _, want := range []string{exe, held.Name(), odd.Name()} {
		if !strings.Contains(out, strconv.Quote(want)) {
			t.Errorf("-pid of the test: no record of %s (mapped or held open) in\n%s", want, out)
		}
	}
	if strings.Contains(out, filepath.Base(gone.Name())) {
		t.Errorf("-pid of the test: a record of the deleted %s in\n%s", gone.Name(), out)
	}
}

func TestPagecacheLockNothingFails(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := pcRun(t, "-lock", empty)
	if code != exitSkipped || !strings.Contains(errs, "nothing locked") {
		t.Errorf("-lock of an empty file: exit %d, stderr %q; want 1, nothing locked", code, errs)
	}
	// As a daemon: the command waits for the daemon's verdict and exits 1.
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd := pcCommand(t, "-lock", "-d", "-pidfile", pidfile, empty)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitSkipped || !strings.Contains(stderr.String(), "nothing locked") {
		t.Errorf("-lock -d of an empty file: %v, stderr %q; want exit 1, nothing locked", err, stderr.String())
	}
	if _, err := os.Stat(pidfile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pidfile left behind when nothing was locked: %v", err)
	}
}

func TestPagecacheKindsInWords(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{os.DevNull: "character device", fifo: "named pipe (FIFO)"} {
		code, _, errs := pcRun(t, path)
		if code != exitSkipped || !strings.Contains(errs, path+": is a "+kind+", not a regular file or directory") {
			t.Errorf("pagecache %s: exit %d, stderr %q; want 1 and %q", path, code, errs, kind)
		}
	}
}

func TestPagecacheDaemon(t *testing.T) {
	dir := t.TempDir()
	pcWriteFile(t, dir, "f", 5*pageSize, false)
	pidfile := filepath.Join(t.TempDir(), "pid")
	pid, out := pcDaemon(t, pidfile, dir)
	if got := pcLocked(t, pid); got < 5*pageSize {
		t.Errorf("the daemon has %d bytes locked, want at least %d", got, 5*pageSize)
	}
	if !strings.Contains(out, "total (1 file") {
		t.Errorf("pid %d, stdout %q", pid, out)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(pidfile); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pidfile still there 30s after SIGTERM")
		}
	}
}

// TestPagecacheDaemonKeepsSuccessorsPidfile starts two daemons with one
// pidfile: the second writes its ID there, and the first, stopped, leaves
// the file to it.
func TestPagecacheDaemonKeepsSuccessorsPidfile(t *testing.T) {
	dir := t.TempDir()
	pcWriteFile(t, dir, "f", pageSize, false)
	pidfile := filepath.Join(t.TempDir(), "pid")
	first, _ := pcDaemon(t, pidfile, dir)
	second, _ := pcDaemon(t, pidfile, dir)
	if err := syscall.Kill(first, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); pcRunning(first); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon %d still running 30s after SIGTERM", first)
		}
	}
	if b, err := os.ReadFile(pidfile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(second) {
		t.Errorf("pidfile after the first daemon (%d) stopped = %q, %v; want the second's ID %d", first, b, err, second)
	}
}

// pcDaemon runs pagecache -lock -d -pidfile pidfile dir, and returns the
// daemon's process ID, read from the pidfile, and what the command printed.
// The daemon is killed at the end of the test.
func pcDaemon(t *testing.T, pidfile, dir string) (int, string) {
	t.Helper()
	cmd := pcCommand(t, "-lock", "-d", "-pidfile", pidfile, dir)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("-lock -d: %v, stderr %q", err, errs.String())
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("no pidfile once -d returned: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == cmd.Process.Pid {
		t.Fatalf("pidfile %q (the command was %d)", b, cmd.Process.Pid)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid, out.String()
}

// pcRunning reports whether process pid still runs: it exists and is not
// a zombie waiting for its parent.
func pcRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
