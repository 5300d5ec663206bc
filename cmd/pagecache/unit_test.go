package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestPagecachePagesOf(t *testing.T) {
	ps := pageSize
	for _, tc := range []struct{ size, want int64 }{
		{0, 0}, {1, 1}, {ps - 1, 1}, {ps, 1}, {ps + 1, 2}, {3 * ps, 3},
		{1 << 40, (1 << 40) / ps}, {1<<40 + 1, (1<<40)/ps + 1},
		{1<<63 - 1, (1<<63-1)/ps + 1},
	} {
		if got := pagesOf(tc.size); got != tc.want {
			t.Errorf("pagesOf(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestPagecachePercent(t *testing.T) {
	for _, tc := range []struct {
		resident, pages int64
		want            string
	}{
		{0, 0, "-"}, {0, 5, "0%"}, {5, 5, "100%"}, {1, 2, "50.0%"}, {1, 3, "33.3%"},
		{2, 3, "66.6%"}, {999, 1000, "99.9%"}, {9999, 10000, "99.9%"}, {1, 1000, "0.1%"},
		{1, 1001, "<0.1%"}, {1, 1 << 51, "<0.1%"}, {1<<51 - 1, 1 << 51, "99.9%"},
	} {
		if got := percent(tc.resident, tc.pages); got != tc.want {
			t.Errorf("percent(%d, %d) = %q, want %q", tc.resident, tc.pages, got, tc.want)
		}
	}
}

func TestPagecacheHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0K"}, {1536, "1.5K"}, {1 << 20, "1.0M"},
		{3 << 30, "3.0G"}, {1 << 40, "1.0T"}, {1<<63 - 1, "8.0E"},
	} {
		if got := humanSize(tc.n); got != tc.want {
			t.Errorf("humanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPagecacheBuckets(t *testing.T) {
	// Every page falls in exactly one slice, slices are in page order, and
	// bucketPages agrees with bucketOf.
	for _, pages := range []int64{1, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 12345} {
		width := min(int64(barWidth), pages)
		counts := make([]int64, width)
		last := int64(0)
		for i := range pages {
			b := bucketOf(i, pages, width)
			if b < last || b >= width {
				t.Fatalf("pages %d: page %d in slice %d after slice %d (width %d)", pages, i, b, last, width)
			}
			last = b
			counts[b]++
		}
		for b, n := range counts {
			if want := bucketPages(int64(b), pages, width); n != want || n == 0 {
				t.Errorf("pages %d: slice %d has %d pages, bucketPages says %d", pages, b, n, want)
			}
		}
	}
}

func TestPagecacheResidencyBar(t *testing.T) {
	r := result{pages: 6, buckets: []int64{1, 0, 1, 1, 0, 1}}
	if got, want := residencyBar(r), "[O OO O]"; got != want {
		t.Errorf("bar of 6 pages = %q, want %q", got, want)
	}
	// 64 pages in 32 slices of 2: full, partial, empty.
	r = result{pages: 64, buckets: make([]int64, 32)}
	r.buckets[0], r.buckets[1] = 2, 1
	want := "[Oo" + strings.Repeat(" ", 30) + "]"
	if got := residencyBar(r); got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	if got := residencyBar(result{}); got != "[]" {
		t.Errorf("bar of an empty file = %q, want []", got)
	}
}

func TestPagecacheTextFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &textReporter{w: &b}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1})
	rep.file(result{path: "dir/empty", size: 0})
	rep.file(result{path: "new\nline", size: 1, pages: 1, resident: 1})
	rep.total(totals{files: 3, dirs: 1, skipped: 2, size: 5001, pages: 3, resident: 2})
	want := `      SIZE      PAGES   RESIDENT PERCENT  PATH
      4.9K          2          1   50.0%  a
        0B          0          0       -  dir/empty
        1B          1          1    100%  "new\nline"
      4.9K          3          2   66.6%  total (3 files, 1 directory, 2 skipped)
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	rep = &textReporter{w: &b, bytes: true, bar: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1, buckets: []int64{1, 0}})
	rep.total(totals{files: 1, dirs: 0, size: 5000, pages: 2, resident: 1})
	want = `      SIZE      PAGES   RESIDENT PERCENT  RESIDENCY                           PATH
      5000          2          1   50.0%  [O ]                                a
      5000          2          1   50.0%                                      total (1 file, 0 directories)
`
	if b.String() != want {
		t.Errorf("table with -v -bytes:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	rep = &textReporter{w: &b, summary: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1})
	rep.total(totals{files: 1, size: 5000, pages: 2, resident: 1})
	if strings.Contains(b.String(), " a\n") || !strings.Contains(b.String(), "total (1 file, 0 directories)") {
		t.Errorf("-s table:\n%s", b.String())
	}
}

func TestPagecacheJSONFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &jsonReporter{enc: json.NewEncoder(&b)}
	rep.header()
	rep.file(result{path: "a\"b", size: 5000, pages: 2, resident: 1, buckets: []int64{1, 0}})
	rep.total(totals{files: 1, dirs: 2, skipped: 3, size: 5000, pages: 2, resident: 1})
	want := `{"path":"a\"b","size":5000,"pages":2,"resident":1}
{"total":true,"files":1,"directories":2,"skipped":3,"size":5000,"pages":2,"resident":1}
`
	if b.String() != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b.String(), want)
	}
}

// pcWalk walks the paths and returns the files visited, the directory
// count and the warnings.
func pcWalk(t *testing.T, follow, xdev bool, paths ...string) (files []string, dirs int, warnings []string) {
	t.Helper()
	w := &walker{follow: follow, xdev: xdev,
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
		w := &walker{xdev: true, ignore: []string{"b", "t*"}}
		var files []string
		w.visit = func(e entry) { files = append(files, e.path) }
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
	// be mapped.
	const path = "/sys/kernel/mm/transparent_hugepage/enabled"
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		t.Skipf("%s is not here as a regular file with a size", path)
	}
	code, out, errs := pcRun(t, "-json", path)
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
	// The README's first command: the tool on the repository itself.
	code, out, errs := pcRun(t, "../..")
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache ../..: exit %d, stderr %q", code, errs)
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
