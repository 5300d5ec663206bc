package mmap

// Tests of the package used as a hostile caller would use it: inputs at the
// edges of what the types allow, files and memory changed behind a region's
// back. What could crash the test binary runs in a child process.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func init() {
	childFuncs["hostileViewZeroSize"] = hostileChildViewZeroSize
}

// runChild runs the child function name, with files as descriptors 3, 4...
// and env added to its environment, and fails the test with the child's
// output unless it exits with status 0.
func runChild(t *testing.T, name string, files []*os.File, env ...string) {
	t.Helper()
	cmd := childCommand(t, name, files, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
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
