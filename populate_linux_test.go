package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// The tests of Populate and of the populate advice where a page cannot be
// faulted in: a full tmpfs, a page past the end of the file. Both the
// populate advice (Linux 5.14) and the touch with faults caught, which
// other systems use, are checked; the touch runs in a child process, so that
// a fault it failed to catch cannot take the test binary down.

func init() {
	childFuncs["populateFaults"] = populateChildFaults
}

// populateDirEnv names, for the child, the directory of a full 1 MiB tmpfs,
// or is empty where none could be mounted.
const populateDirEnv = "MMAP_TEST_POPULATE_TMPFS"

// populateTouchEnv, set for the child, makes it take the touch path.
const populateTouchEnv = "MMAP_TEST_POPULATE_TOUCH"

// populateChecker gathers the failures of a child.
type populateChecker struct{ failed bool }

func (c *populateChecker) errorf(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
}

// checkFault checks that err is the error of a page that could not be
// faulted in: with the advice, an *fs.PathError of madvise keeping EFAULT;
// with the touch, a *FaultError; both match ErrFault, and ErrPastEOF when
// pastEOF is set (and only then).
func (c *populateChecker) checkFault(what string, err error, pastEOF bool) {
	var pe *fs.PathError
	var fe *FaultError
	switch {
	case err == nil:
		c.errorf("%s: no error, want a fault", what)
		return
	case !errors.Is(err, ErrFault):
		c.errorf("%s: %v, want an error matching ErrFault", what, err)
	case testNoPopulateAdvice && !errors.As(err, &fe):
		c.errorf("%s: %v (%T), want a *FaultError from the touch", what, err, err)
	case !testNoPopulateAdvice && (!errors.As(err, &pe) || pe.Op != "madvise" || !errors.Is(err, syscall.EFAULT)):
		c.errorf("%s: %v, want an *fs.PathError of madvise with EFAULT", what, err)
	}
	if errors.Is(err, ErrPastEOF) != pastEOF {
		c.errorf("%s: %v: matches ErrPastEOF %v, want %v", what, err, errors.Is(err, ErrPastEOF), pastEOF)
	}
	if errors.Is(err, fs.ErrInvalid) {
		c.errorf("%s: %v matches fs.ErrInvalid; a fault is not an invalid argument", what, err)
	}
}

// checkRss checks that the smaps entry of r's memory has an Rss of its
// whole length.
func (c *populateChecker) checkRss(what string, r *Region) {
	if emulated() {
		return // smaps shows the host's pages, which qemu-user places and sizes itself
	}
	if err := r.Advise(Random); err != nil { // splits the entry off its neighbours
		c.errorf("%s: %v", what, err)
		return
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		c.errorf("%s: %v", what, err)
		return
	}
	maps, err := parseSmaps(data)
	if err != nil {
		c.errorf("%s: %v", what, err)
		return
	}
	addr := uintptr(regionAddr(r))
	for _, m := range maps {
		if m.start == addr && m.end == addr+r.mappedLen() {
			if got := m.counters["Rss"]; got != int64(r.mappedLen()) {
				c.errorf("%s: Rss %d, want the region's %d bytes", what, got, r.mappedLen())
			}
			return
		}
	}
	c.errorf("%s: no smaps entry of exactly the region at %#x", what, addr)
}

// mapped maps r, which a constructor returned with err, or reports what
// could not be mapped and returns nil.
func (c *populateChecker) mapped(what string, r *Region, err error) *Region {
	if r = childMap("child: "+what, r, err); r == nil {
		c.failed = true
	}
	return r
}

// populateChildFaults runs the checks of Populate that may fault, with the
// advice or, if populateTouchEnv is set, with the touch.
func populateChildFaults() int {
	testNoPopulateAdvice = os.Getenv(populateTouchEnv) != ""
	var c populateChecker
	if dir := os.Getenv(populateDirEnv); dir != "" {
		populateFullTmpfs(&c, dir)
	}
	populatePastEOF(&c)
	if c.failed {
		return 1
	}
	return 0
}

// populateFile creates a file of size bytes (a hole) in dir.
func populateFile(c *populateChecker, dir, name string, size int64) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = f.Truncate(size)
	}
	if err != nil {
		c.errorf("%v", err)
		return nil
	}
	return f
}

// populateFullTmpfs maps a file of 2 MiB, all of it a hole, on a tmpfs that
// holds 1 MiB: its pages cannot all be faulted in.
func populateFullTmpfs(c *populateChecker, dir string) {
	const size = 2 << 20
	ps := PageSize()
	f := populateFile(c, dir, "full", size)
	if f == nil {
		return
	}
	defer f.Close()
	defer os.Remove(f.Name())

	// Map with Populate fails and leaves the region unmapped.
	r, err := NewFile(f, 0, size, Read|Write, Shared|Populate)
	if err != nil {
		c.errorf("NewFile: %v", err)
		return
	}
	c.checkFault("Map with Populate of a file larger than its tmpfs", r.Map(), false)
	if r.Mapped() {
		c.errorf("the region is mapped after Map failed")
		r.Unmap()
	}
	c.truncate(f, 0) // frees what the failed Map allocated
	c.truncate(f, size)

	// What fits maps and is populated; Resize beyond what fits fails and
	// leaves the region as it was.
	r, err = NewFile(f, 0, 16*ps, Read|Write, Shared|Populate)
	if r = c.mapped("Map with Populate of 16 pages on the tmpfs", r, err); r == nil {
		return
	}
	c.checkRss("Map with Populate of 16 pages on the tmpfs", r)
	c.checkFault("Resize with Populate beyond the tmpfs", r.Resize(size), false)
	if r.Len() != 16*ps {
		c.errorf("Len %d after a failed Resize, want %d", r.Len(), 16*ps)
	}
	if _, err := r.WriteAt([]byte("still mapped"), 0); err != nil {
		c.errorf("WriteAt after a failed Resize: %v", err)
	}
	// Grow allocates the file's blocks before mapping: the full tmpfs is
	// its error.
	c.truncate(f, 16*ps)
	if err := r.Grow(size); !errors.Is(err, syscall.ENOSPC) {
		c.errorf("Grow with Populate beyond the tmpfs: %v, want ENOSPC", err)
	}
	if err := r.Unmap(); err != nil {
		c.errorf("Unmap: %v", err)
	}
	c.truncate(f, 0)
	c.truncate(f, size)

	// The advice reports the pages it cannot fault in.
	r, err = NewFile(f, 0, size, Read|Write, Shared)
	if r = c.mapped("Map of the 2 MiB file", r, err); r == nil {
		return
	}
	defer r.Unmap()
	c.checkFault("PopulateWrite advice beyond the tmpfs", r.Advise(PopulateWrite), false)
	c.checkFault("PopulateRead advice beyond the tmpfs", r.Advise(PopulateRead), false)
	c.checkFault("AdviseRange(PopulateWrite) of the second MiB", r.AdviseRange(1<<20, 1<<20, PopulateWrite), false)
}

// truncate sets the size of f, reporting a failure: the steps after it
// count on the size.
func (c *populateChecker) truncate(f *os.File, size int) {
	if err := f.Truncate(int64(size)); err != nil {
		c.errorf("truncate to %d bytes: %v", size, err)
	}
}

// populatePastEOF maps a file of 4 pages and cuts it to one.
func populatePastEOF(c *populateChecker) {
	ps := PageSize()
	dir, err := os.MkdirTemp("", "mmaptest")
	if err != nil {
		c.errorf("%v", err)
		return
	}
	defer os.RemoveAll(dir)
	f := populateFile(c, dir, "short", 4*int64(ps))
	if f == nil {
		return
	}
	defer f.Close()
	r, err := NewFile(f, 0, 4*ps, Read|Write, Shared|Populate)
	if r = c.mapped("Map with Populate of a file of 4 pages", r, err); r == nil {
		return
	}
	defer r.Unmap()
	c.checkRss("Map with Populate of a file of 4 pages", r)
	if err := f.Truncate(int64(ps)); err != nil {
		c.errorf("%v", err)
		return
	}
	c.checkFault("PopulateRead advice past the end of the file", r.Advise(PopulateRead), true)
	c.checkFault("PopulateWrite advice past the end of the file", r.Advise(PopulateWrite), true)
	c.checkFault("AdviseRange(PopulateRead) of the last page, past the end of the file", r.AdviseRange(3*ps, ps, PopulateRead), true)
	if err := r.AdviseRange(0, ps, PopulateWrite); err != nil {
		c.errorf("AdviseRange(PopulateWrite) of the page inside the file: %v", err)
	}
	// Map and Resize check the file's size first.
	if err := r.Resize(8 * ps); !errors.Is(err, ErrPastEOF) {
		c.errorf("Resize with Populate past the end of the file: %v, want ErrPastEOF", err)
	}
	r.Unmap()
	if err := r.Map(); !errors.Is(err, ErrPastEOF) {
		c.errorf("Map with Populate past the end of the file: %v, want ErrPastEOF", err)
	}
}

// TestPopulateReportsFaults checks, in a child process, that Map, Resize
// and Grow with Populate and the populate advice return a classified error
// where a page cannot be faulted in (a full 1 MiB tmpfs, a page past the end
// of the file) instead of crashing, with the advice and with the touch.
func TestPopulateReportsFaults(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	dir := ""
	switch {
	case emulated():
		t.Logf("under %s: the full tmpfs is not tested, only the end of a file: "+
			"pages of a file beyond what its tmpfs holds read as zeros there instead of faulting", os.Getenv(emulatorEnv))
	case os.Geteuid() == 0:
		dir = smallFS(t)
	default:
		t.Log("not root: the full tmpfs is not tested, only the end of a file")
	}
	for _, touch := range []bool{false, true} {
		name := "advice"
		env := []string{populateDirEnv + "=" + dir}
		if touch {
			name = "touch"
			env = append(env, populateTouchEnv+"=1")
		}
		t.Run(name, func(t *testing.T) {
			if !touch && !hasPopulateAdvice() {
				t.Skip("this kernel has no MADV_POPULATE_READ (Linux 5.14)")
			}
			var stderr strings.Builder
			cmd := childCommand(t, "populateFaults", nil, env...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) && !ee.Exited() {
				t.Fatalf("the child crashed: %v\n%s", err, stderr.String())
			}
			if err != nil {
				t.Fatalf("child: %v\n%s", err, stderr.String())
			}
		})
	}
}

// TestPopulateAdviceFaultsInWholeRegion checks in smaps that the populate
// advice, and the touch that stands in for it, fault every page in.
func TestPopulateAdviceFaultsInWholeRegion(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "smaps shows the host's mappings, which qemu-user places and merges itself")
	const n = 8
	withAndWithout(t, "touch", &testNoPopulateAdvice, func(t *testing.T, _ bool) {
		for _, tc := range []struct {
			name   string
			new    func() (*Region, error)
			advice Advice
		}{
			{"anon-write", func() (*Region, error) { return NewAnon(n*pageSize, Read|Write, Private) }, PopulateWrite},
			{"anon-shared-write", func() (*Region, error) { return NewAnon(n*pageSize, Read|Write, Shared) }, PopulateWrite},
			{"file-read", func() (*Region, error) {
				f, _ := tempFile(t, pattern(n*pageSize, 9), os.O_RDONLY)
				return NewFile(f, 0, n*pageSize, Read, Private)
			}, PopulateRead},
			{"file-write", func() (*Region, error) {
				f, _ := tempFile(t, pattern(n*pageSize, 9), os.O_RDWR)
				return NewFile(f, 0, n*pageSize, Read|Write, Shared)
			}, PopulateWrite},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r, err := tc.new()
				if err != nil {
					t.Fatal(err)
				}
				r = mapRegion(t, r, nil)
				if rss := isolatedSmaps(t, r).counters["Rss"]; rss != 0 {
					t.Fatalf("Rss %d before the advice, want 0", rss)
				}
				if err := r.Advise(tc.advice); err != nil {
					t.Fatalf("Advise(%v): %v", tc.advice, err)
				}
				if rss := isolatedSmaps(t, r).counters["Rss"]; rss != int64(n*pageSize) {
					t.Errorf("Rss %d after Advise(%v), want %d", rss, tc.advice, n*pageSize)
				}
				if r.file != nil {
					checkContents(t, r, pattern(n*pageSize, 9))
				}
			})
		}
	})
}

// TestPopulateResizeFaultsInNewPages checks that Resize of a Populate
// region faults the new pages in, with the advice and with the touch.
func TestPopulateResizeFaultsInNewPages(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "smaps shows the host's mappings, which qemu-user places and merges itself")
	withAndWithout(t, "touch", &testNoPopulateAdvice, func(t *testing.T, _ bool) {
		r := mapAnon(t, 2*pageSize, Read|Write, Shared|Populate)
		if err := r.Resize(8 * pageSize); err != nil {
			t.Fatal(err)
		}
		if rss := isolatedSmaps(t, r).counters["Rss"]; rss != 8*int64(pageSize) {
			t.Errorf("Rss %d after Resize to 8 pages with Populate, want %d", rss, 8*pageSize)
		}
	})
}
