//go:build linux

// The tests in this file use Linux: posix_fadvise, /proc, pseudo-terminals,
// FIFOs and mount points, fincore and vmtouch.

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mmapkit/mmap"
)

// pcWalk walks the paths and returns the files visited, the directory
// count and the warnings.
func pcWalk(t *testing.T, follow, xdev bool, paths ...string) (files []string, dirs int, warnings []string) {
	t.Helper()
	// With stat, the walk itself counts hard-linked files once (the worker
	// does otherwise: see TestPagecacheHardLinksOnce).
	w := &walker{follow: follow, xdev: xdev, stat: true,
		visit: func(e entry) { files = append(files, e.path) },
		warn:  func(format string, a ...any) { warnings = append(warnings, format) },
	}
	for _, p := range paths {
		w.walk(context.Background(), p)
	}
	return files, w.dirs, warnings
}

func TestPagecacheWalk(t *testing.T) {
	dir := t.TempDir()
	j := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	for _, d := range []string{"a", "a/b", "c"} {
		if err := os.Mkdir(j(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"top", "a/one", "a/b/two", "c/three"} {
		if err := os.WriteFile(j(f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("../c", j("a/linkdir")))       // to a directory
	must(os.Symlink("../top", j("a/linkfile")))    // to a file seen elsewhere
	must(os.Symlink("missing", j("dangling")))     // to nothing
	must(os.Symlink("..", j("a/b/loop")))          // to an ancestor
	must(os.Link(j("c/three"), j("hardlink")))     // a second name of c/three
	must(syscall.Mkfifo(j("fifo"), 0o644))         // special files are skipped
	must(os.Symlink(j("c/three"), j("c/abslink"))) // to a file in the same directory

	t.Run("nofollow", func(t *testing.T) {
		files, dirs, warns := pcWalk(t, false, true, dir)
		want := []string{j("a/b/two"), j("a/one"), j("c/three"), j("top")}
		if !slices.Equal(files, want) || dirs != 4 || len(warns) != 0 {
			t.Errorf("files %q, dirs %d, warnings %q; want files %q, 4 dirs, no warnings", files, dirs, warns, want)
		}
	})
	t.Run("follow", func(t *testing.T) {
		files, dirs, warns := pcWalk(t, true, true, dir)
		// Each file once, under the first name met; the link loop is
		// reported; the dangling link and the FIFO are skipped silently.
		want := []string{j("a/b/two"), j("a/linkdir/abslink"), j("a/linkfile"), j("a/one")}
		if !slices.Equal(files, want) {
			t.Errorf("files %q, want %q", files, want)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "loop") {
			t.Errorf("warnings %q, want one about a loop", warns)
		}
		if dirs != 5 { // dir, a, a/b, a/linkdir, c
			t.Errorf("dirs %d, want 5", dirs)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		w := &walker{xdev: true, sorted: true, ignore: []string{"b", "t*"}}
		var files []string
		// Without stat, the walk is the fast one: paths are views.
		w.visit = func(e entry) { files = append(files, strings.Clone(e.path)) }
		w.warn = func(format string, a ...any) { t.Errorf(format, a...) }
		w.walk(context.Background(), dir)
		// a/b is not entered, top and c/three are skipped: c/three is met
		// under its other name.
		if want := []string{j("a/one"), j("hardlink")}; !slices.Equal(files, want) || w.dirs != 3 {
			t.Errorf("files %q, dirs %d; want %q, 3 dirs", files, w.dirs, want)
		}
	})
	t.Run("arguments", func(t *testing.T) {
		// Links named as arguments are followed; a FIFO or a missing path
		// named as an argument is reported.
		files, dirs, warns := pcWalk(t, false, true, j("a/linkfile"), j("a/linkdir"), j("fifo"), j("nothing"), j("dangling"))
		want := []string{j("a/linkfile"), j("a/linkdir/three")}
		if !slices.Equal(files, want) || dirs != 1 || len(warns) != 3 {
			t.Errorf("files %q, dirs %d, warnings %q; want files %q, 1 dir, 3 warnings", files, dirs, warns, want)
		}
	})
}

func TestPagecacheWalkXdev(t *testing.T) {
	// /dev/shm is usually a tmpfs mounted inside /dev: a file there is on
	// another file system than /dev.
	var devSt, shmSt syscall.Stat_t
	if syscall.Stat("/dev", &devSt) != nil || syscall.Stat("/dev/shm", &shmSt) != nil || devSt.Dev == shmSt.Dev {
		t.Skip("/dev/shm is not a separate file system here")
	}
	sub, err := os.MkdirTemp("/dev/shm", "pagecache-test-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(sub) })
	file := filepath.Join(sub, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, _, _ := pcWalk(t, false, true, "/dev")
	if slices.Contains(files, file) {
		t.Errorf("walk of /dev with -xdev visited %s on another file system", file)
	}
	files, _, _ = pcWalk(t, false, false, "/dev")
	if !slices.Contains(files, file) {
		t.Errorf("walk of /dev with -xdev=false did not visit %s (visited %q)", file, files)
	}
	// Named as an argument, the other file system is walked.
	files, _, _ = pcWalk(t, false, true, sub)
	if !slices.Equal(files, []string{file}) {
		t.Errorf("walk of %s visited %q", sub, files)
	}
}

func TestPagecacheUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-nosuchflag"}, exitUsage, "flag provided but not defined"},
		{[]string{"-touch", "-evict", "."}, exitUsage, "-evict cannot be combined"},
		{[]string{"-lock", "-evict", "."}, exitUsage, "-evict cannot be combined"},
		{[]string{"-json", "-v", "."}, exitUsage, "-v"},
		{[]string{""}, exitUsage, "empty path"},
		{[]string{"-xdev=maybe"}, exitUsage, "invalid boolean"},
		{[]string{"-i", "[", "."}, exitUsage, "bad pattern"},
		{[]string{"-pid", "0"}, exitUsage, "want a process ID above 0"},
		{[]string{"-pid", "-3"}, exitUsage, "want a process ID above 0"},
		{[]string{"-h"}, exitOK, "-xdev"},
	} {
		code, out, errs := pcRun(t, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errs, tc.msg) {
			t.Errorf("pagecache %q: exit %d, stdout %q, stderr %q; want exit %d, no stdout, stderr with %q",
				tc.args, code, out, errs, tc.code, tc.msg)
		}
	}
	// The help names every flag.
	_, _, help := pcRun(t, "-h")
	for _, f := range []string{"-v", "-s", "-json", "-bytes", "-touch", "-evict", "-lock", "-follow", "-xdev", "-i", "Exit status"} {
		if !strings.Contains(help, f) {
			t.Errorf("-h does not mention %s:\n%s", f, help)
		}
	}
}

func TestPagecacheSkipped(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	// A directory with a FIFO in it: skipped silently, exit 0.
	code, out, errs := pcRun(t, "-json", dir)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errs)
	}
	files, total := pcParseJSON(t, out)
	if _, ok := files[good]; !ok || len(files) != 1 || total.Files != 1 || total.Skipped != 0 || total.Directories != 1 {
		t.Errorf("records %v, total %+v", files, total)
	}

	// Missing paths and special files named as arguments: reported, the
	// rest is still counted, exit 1.
	missing := filepath.Join(dir, "missing")
	code, out, errs = pcRun(t, "-json", missing, good, fifo)
	if code != exitSkipped || !strings.Contains(errs, missing) || !strings.Contains(errs, fifo) {
		t.Errorf("exit %d, stderr %q; want 1 naming %s and %s", code, errs, missing, fifo)
	}
	files, total = pcParseJSON(t, out)
	if c := files[good]; len(files) != 1 || c.size != 4 || c.pages != 1 || total.Skipped != 2 {
		t.Errorf("records %v, total %+v; want %s only, 2 skipped", files, total, good)
	}

	// A file that vanished or was replaced between the walk and the open.
	w := &worker{}
	fi, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := fileID(fi)
	if _, err := w.process(context.Background(), entry{path: missing, hasID: true, id: id}); !os.IsNotExist(err) {
		t.Errorf("vanished file: error %v, want not-exist", err)
	}
	other := id
	other.ino++
	if _, err := w.process(context.Background(), entry{path: good, hasID: true, id: other}); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("replaced file: error %v, want one saying so", err)
	}
	// A file replaced by a symbolic link is not read through it.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if _, err := w.process(context.Background(), entry{path: link}); err == nil {
		t.Errorf("file replaced by a link: read through the link")
	}
	// A file replaced by a FIFO: the open does not block.
	if _, err := w.process(context.Background(), entry{path: fifo, follow: true}); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Errorf("file replaced by a FIFO: error %v", err)
	}
}

func TestPagecacheUnmappable(t *testing.T) {
	// Attribute files of sysfs are regular files of one page that cannot
	// be mapped. Counting maps nothing where the kernel has cachestat;
	// touching does.
	const path = "/sys/kernel/mm/transparent_hugepage/enabled"
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		t.Skipf("%s is not here as a regular file with a size", path)
	}
	code, out, errs := pcRun(t, "-json", "-touch", path)
	if code != exitSkipped || !strings.Contains(errs, path) || !strings.Contains(errs, "mmap") {
		t.Errorf("exit %d, stderr %q; want 1 and an mmap error about %s", code, errs, path)
	}
	if _, total := pcParseJSON(t, out); total.Skipped != 1 || total.Files != 0 {
		t.Errorf("total %+v, want 1 skipped", total)
	}
}

func TestPagecacheEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-s", "-touch", "-evict", "-v"} {
		code, out, errs := pcRun(t, flag, "-bytes", empty)
		if code != exitOK || errs != "" || !strings.Contains(out, "         0          0          0       -  ") ||
			!strings.Contains(out, "total (1 file, 0 directories)") {
			t.Errorf("%s on an empty file: exit %d, stderr %q, output:\n%s", flag, code, errs, out)
		}
	}
	if got := pcCount(t, empty); got != (pcCounts{}) {
		t.Errorf("empty file: %v", got)
	}
}

func TestPagecacheRepository(t *testing.T) {
	// The README's first command: the tool on the repository itself,
	// skipping the repository's .git directory; -top 0 lists every file,
	// so that the files checked for are there whatever their size.
	code, out, errs := pcRun(t, "-top", "0", "-i", ".git", "../..")
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache -i .git ../..: exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(strings.TrimSpace(lines[0]), "SIZE") ||
		!strings.Contains(lines[len(lines)-1], "total (") || !strings.Contains(out, "region.go") ||
		!strings.Contains(out, "cmd/pagecache/main.go") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "/.git/") {
		t.Errorf("walked into .git? output:\n%s", out)
	}
}

func TestPagecacheInterrupted(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, act := range []string{"-s", "-touch", "-evict", "-lock"} {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"-json", act, dir}, &stdout, &stderr)
		if code != exitSkipped || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("%s interrupted: exit %d, stderr %q; want 1 and interrupted", act, code, stderr.String())
		}
		if _, total := pcParseJSON(t, stdout.String()); total.Files != 0 {
			t.Errorf("%s interrupted before starting: total %+v", act, total)
		}
	}
}

func TestPagecacheTouchFault(t *testing.T) {
	// A file truncated under the mapping: touching it returns ErrFault
	// instead of crashing.
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 3*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := mmap.NewFile(f, 0, int(3*pageSize), mmap.Read, mmap.Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
	if err := os.Truncate(path, pageSize); err != nil {
		t.Fatal(err)
	}
	w := &worker{act: touch}
	if err := w.touch(context.Background(), r, 3*pageSize); !errors.Is(err, mmap.ErrFault) || !strings.Contains(err.Error(), path) {
		t.Errorf("touch of a truncated file: error %v, want ErrFault naming %s", err, path)
	}
	// Counting it now finds the file shorter than the walk said.
	if res, err := w.process(context.Background(), entry{path: path, size: 3 * pageSize}); err != nil || res.pages != 1 || res.resident() != 1 {
		t.Errorf("after truncation: %+v, %v; want 1 page, resident", res, err)
	}
}

func TestPagecacheFastWalkMatchesPortable(t *testing.T) {
	// The repository: the fast walk (no status read per file), sorted and
	// not, and the portable one (os.ReadDir and a status per file) find the
	// same files, sorted in the same order, and as many directories.
	walk := func(stat, sorted bool) ([]string, int) {
		var files []string
		w := &walker{xdev: true, stat: stat, sorted: sorted, ignore: []string{".git"},
			visit: func(e entry) { files = append(files, strings.Clone(e.path)) },
			warn:  func(format string, a ...any) { t.Errorf(format, a...) },
		}
		w.walk(context.Background(), "../..")
		return files, w.dirs
	}
	portable, dirs := walk(true, false)
	fast, fastDirs := walk(false, true)
	if !slices.Equal(fast, portable) || fastDirs != dirs || len(fast) < 50 {
		t.Errorf("fast walk: %d files, %d directories; portable: %d files, %d directories\nfast %q\nportable %q",
			len(fast), fastDirs, len(portable), dirs, fast, portable)
	}
	unsorted, unsortedDirs := walk(false, false)
	slices.Sort(unsorted)
	sorted := slices.Sorted(slices.Values(portable))
	if !slices.Equal(unsorted, sorted) || unsortedDirs != dirs {
		t.Errorf("unsorted fast walk: %d files, %d directories; portable: %d files, %d directories",
			len(unsorted), unsortedDirs, len(portable), dirs)
	}
}
