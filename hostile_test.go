package mmap

// Tests of the package used as a hostile caller would use it: inputs at the
// edges of what the types allow, files and memory changed behind a region's
// back. What could crash the test binary runs in a child process.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func init() {
	childFuncs["hostileViewZeroSize"] = hostileChildViewZeroSize
	childFuncs["hostileOverlapFault"] = hostileChildOverlapFault
}

// childDeadline is how long a child process of runChild may run: one that
// runs longer hangs.
const childDeadline = time.Minute

// runChild runs the child function name, with files as descriptors 3, 4...
// and env added to its environment, and fails the test with the child's
// output unless it exits with status 0 within childDeadline.
func runChild(t *testing.T, name string, files []*os.File, env ...string) {
	t.Helper()
	cmd := childCommand(t, name, files, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("child %s: %v", name, err)
	}
	timer := time.AfterFunc(childDeadline, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("child %s did not return within %v: killed\n%s", name, childDeadline, out.Bytes())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child %s: %v\n%s", name, err, out.Bytes())
		}
		t.Fatalf("child %s: %v", name, err)
	}
}

// hostileChildViewZeroSize takes views of values of no size of an empty
// region from Open, whose address is nil.
func hostileChildViewZeroSize() int {
	dir, err := os.MkdirTemp("", "mmaptest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "empty")
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := Open(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Open of an empty file:", err)
		return 1
	}
	defer r.Close()
	status := 0
	if v, err := View[struct{}](r, 0, 3); err != nil || len(v) != 3 {
		fmt.Fprintf(os.Stderr, "View[struct{}](empty, 0, 3) = %d values, %v; want 3, nil\n", len(v), err)
		status = 1
	}
	if v, err := View[[0]uint64](r, 0, 1<<20); err != nil || len(v) != 1<<20 {
		fmt.Fprintf(os.Stderr, "View[[0]uint64](empty, 0, 1<<20) = %d values, %v; want 1<<20, nil\n", len(v), err)
		status = 1
	}
	if v, err := View[uint64](r, 0, 1); err == nil {
		fmt.Fprintf(os.Stderr, "View[uint64](empty, 0, 1) = %d values, nil error; want an error\n", len(v))
		status = 1
	}
	return status
}

// TestViewZeroSizeValuesOfEmptyRegion checks that a View of values of no
// size works on an empty region (no memory, nil address) instead of
// crashing (under -race, unsafe.Slice of a nil pointer is a fatal error).
func TestViewZeroSizeValuesOfEmptyRegion(t *testing.T) {
	runChild(t, "hostileViewZeroSize", nil)
}

// TestViewZeroSizeValues checks that a View of values of no size on a mapped
// region has the length asked for, at any offset inside the region.
func TestViewZeroSizeValues(t *testing.T) {
	r := mapAnon(t, PageSize(), Read|Write, Private)
	for _, off := range []int{0, 1, PageSize()} {
		v, err := View[struct{}](r, off, 5)
		if err != nil || len(v) != 5 {
			t.Errorf("View[struct{}](r, %d, 5) = %d values, %v; want 5, nil", off, len(v), err)
		}
	}
	if _, err := View[struct{}](r, PageSize()+1, 1); err == nil {
		t.Errorf("View[struct{}] at an offset past the end: nil error")
	}
}

// hostileChildOverlapFault copies between a region and buffers that are
// the region's own memory, overlapping the other side at a higher address
// (so that the copy runs backwards), where the buffer faults: ReadAt into a
// read-only region. Each call must return an error matching ErrFault.
func hostileChildOverlapFault() int {
	ps := PageSize()
	r, err := NewAnon(4*ps, Read|Write, Private)
	if r = childMap("map", r, err); r == nil {
		return 1
	}
	defer r.Unmap()
	if _, err := r.WriteAt(pattern(4*ps, 3), 0); err != nil {
		fmt.Fprintln(os.Stderr, "WriteAt:", err)
		return 1
	}
	if err := r.Protect(Read); err != nil {
		fmt.Fprintln(os.Stderr, "Protect:", err)
		return 1
	}
	b := r.Bytes()
	status := 0
	for _, c := range []struct{ at, off, n int }{
		{948, 5, 1549},
		{ps + 100, 0, 2 * ps},
		{10, 0, 3 * ps},
	} {
		n, err := r.ReadAt(b[c.at:c.at+c.n], int64(c.off))
		if !errors.Is(err, ErrFault) || n >= c.n {
			fmt.Fprintf(os.Stderr, "ReadAt into the read-only region's bytes [%d, %d) from offset %d = %d, %v; want fewer bytes and an error matching ErrFault\n",
				c.at, c.at+c.n, c.off, n, err)
			status = 1
		}
	}
	return status
}

// TestReadAtIntoOwnReadOnlyMemory checks that ReadAt into a buffer that is
// the region's own read-only memory, overlapping the source at a higher
// address, returns a fault rather than crashing or hanging. On 386 (and
// amd64 without AVX) a fault in memmove's backward copy leaves the CPU's
// direction flag set for the code that handles it.
func TestReadAtIntoOwnReadOnlyMemory(t *testing.T) {
	runChild(t, "hostileOverlapFault", nil)
}

func TestNilRegionMethodsReturnErrInvalid(t *testing.T) {
	// What a constructor returns with its error: a caller that ignored the
	// error gets errors, not a panic.
	var r *Region
	buf := make([]byte, 8)
	calls := map[string]func() error{
		"ReadAt":          func() error { _, err := r.ReadAt(buf, 0); return err },
		"WriteAt":         func() error { _, err := r.WriteAt(buf, 0); return err },
		"Access":          func() error { return r.Access(0, 1, func([]byte) error { return nil }) },
		"Map":             r.Map,
		"Unmap":           r.Unmap,
		"Close":           r.Close,
		"Flush":           r.Flush,
		"FlushAsync":      r.FlushAsync,
		"FlushRange":      func() error { return r.FlushRange(0, 1) },
		"FlushAsyncRange": func() error { return r.FlushAsyncRange(0, 1) },
		"Advise":          func() error { return r.Advise(WillNeed) },
		"AdviseRange":     func() error { return r.AdviseRange(0, 1, WillNeed) },
		"Lock":            r.Lock,
		"LockRange":       func() error { return r.LockRange(0, 1) },
		"Unlock":          r.Unlock,
		"UnlockRange":     func() error { return r.UnlockRange(0, 1) },
		"Protect":         func() error { return r.Protect(Read) },
		"Resident":        func() error { _, err := r.Resident(); return err },
		"Reserve":         func() error { return r.Reserve(1 << 20) },
		"Resize":          func() error { return r.Resize(1) },
		"Grow":            func() error { return r.Grow(1) },
		"Seal":            func() error { return r.Seal(SealShrink) },
		"CacheStat":       func() error { _, err := r.CacheStat(); return err },
		"View":            func() error { _, err := View[uint64](r, 0, 1); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s of a nil *Region: %v, want an error matching fs.ErrInvalid", name, err)
		}
	}
	if r.Bytes() != nil || r.Len() != 0 || r.Offset() != 0 || r.Flags() != 0 || r.Prot() != 0 ||
		r.Mapped() || r.SecretMemory() || r.File() != nil || r.Reserved() != 0 {
		t.Error("the accessors of a nil *Region do not return their zero values")
	}
}

func TestZeroRegionCannotBeMapped(t *testing.T) {
	// The zero Region is not a region: it has no length, protection or
	// sharing that a constructor checked.
	var r Region
	if err := r.Map(); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("Map of the zero Region: %v, want an error matching fs.ErrInvalid", err)
	}
	if err := r.Resize(pageSize); !errors.Is(err, ErrNotMapped) {
		t.Errorf("Resize of the zero Region: %v, want ErrNotMapped", err)
	}
	if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrNotMapped) {
		t.Errorf("ReadAt of the zero Region: %v, want ErrNotMapped", err)
	}
}
