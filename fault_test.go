package mmap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// faultCheckCaller checks that a ReadAt or WriteAt that returned n, err
// faulted in the caller's buffer after wantN bytes, at offset off+wantN of
// the region: a *FaultError matching ErrFault and errBadAddress
// (syscall.EFAULT where the system has it).
func faultCheckCaller(t *testing.T, what string, n int, err error, off int64, wantN int) {
	t.Helper()
	var fe *FaultError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFault) || !errors.Is(err, errBadAddress) {
		t.Fatalf("%s = %d, %v (%T); want a *FaultError matching ErrFault and EFAULT", what, n, err, err)
	}
	if n != wantN || fe.Offset != off+int64(wantN) {
		t.Errorf("%s = %d bytes, fault at offset %d; want %d bytes, offset %d", what, n, fe.Offset, wantN, off+int64(wantN))
	}
}

// faultChildEnv names the test that a child process of the test binary
// runs itself (see runInChild).
const faultChildEnv = "MMAP_TEST_FAULT_CHILD"

// runInChild runs the calling test in a child process of the test binary
// under a deadline, and reports whether it did so (the caller then
// returns); in the child, and where no child can run, it returns false and
// the test runs here. A copy that loops on a fault can stall the whole
// runtime (its collector waits for the looping goroutine), which no
// deadline inside the process then ends: the child's does.
func runInChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(faultChildEnv) == t.Name() || os.Getenv(noChildEnv) != "" {
		return false
	}
	args, err := selfArgs("-test.run=^"+t.Name()+"$", "-test.v")
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), faultChildEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not end within 2 minutes in a child process (a copy loops on a fault):\n%s", t.Name(), out)
	case err != nil:
		t.Fatalf("%s failed in a child process: %v\n%s", t.Name(), err, out)
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("skipped in the child process:\n%s", out)
	}
	return true
}

// faultCall runs a ReadAt or WriteAt under a deadline: a regression that
// loops fails the test instead of hanging it.
func faultCall(t *testing.T, what string, fn func() (int, error)) (n int, err error) {
	t.Helper()
	deadline(t, what, func() { n, err = fn() })
	return n, err
}

// TestReadAtIntoOwnReadOnlyPages reads a region into its own pages after
// Protect(Read): the write into the caller's buffer faults, at an address
// inside the region's range, and must not be taken for the region's fault.
func TestReadAtIntoOwnReadOnlyPages(t *testing.T) {
	if runInChild(t) {
		return
	}
	ps := PageSize()
	r := mapAnon(t, 4*ps, Read|Write, Private)
	copy(r.Bytes(), pattern(4*ps, 2))
	if err := r.Protect(Read); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 10, int64(2 * ps)} {
		n, err := faultCall(t, "ReadAt", func() (int, error) { return r.ReadAt(r.Bytes()[ps:], off) })
		faultCheckCaller(t, fmt.Sprintf("ReadAt(r.Bytes()[ps:], %d) under Protect(Read)", off), n, err, off, 0)
	}
	deadline(t, "Unmap after faults in the caller's buffer", func() {
		if err := r.Unmap(); err != nil {
			t.Error(err)
		}
	})
}

// TestReadAtIntoInaccessibleBuffer reads into a buffer whose second page
// cannot be written: the first page is copied and counted, then EFAULT.
// The buffers come from another region: one whose middle page has no
// access, and one from Open (read-only).
func TestReadAtIntoInaccessibleBuffer(t *testing.T) {
	if runInChild(t) {
		return
	}
	ps := PageSize()
	data := pattern(8*ps, 3)
	r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)

	other := mapAnon(t, 3*ps, Read|Write, Private)
	if err := sysProtect(unsafe.Pointer(&other.Bytes()[ps]), uintptr(ps), 0); err != nil {
		t.Fatal(err)
	}
	buf := other.Bytes()
	n, err := faultCall(t, "ReadAt", func() (int, error) { return r.ReadAt(buf[100:], 7) })
	faultCheckCaller(t, "ReadAt into a buffer whose second page has no access", n, err, 7, ps-100)
	if !bytes.Equal(buf[100:ps], data[7:7+ps-100]) {
		t.Error("the bytes before the fault differ from the region's")
	}

	name := filepath.Join(tempDir(t), "ro")
	if err := os.WriteFile(name, pattern(2*ps, 9), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	n, err = faultCall(t, "ReadAt", func() (int, error) { return r.ReadAt(ro.Bytes(), int64(ps)) })
	faultCheckCaller(t, "ReadAt into a buffer from Open", n, err, int64(ps), 0)
	// Writing from such a buffer is fine.
	if n, err := r.WriteAt(ro.Bytes()[:ps], 0); err != nil || n != ps {
		t.Errorf("WriteAt from a buffer from Open = %d, %v", n, err)
	}
}

// TestWriteAtFromTruncatedPages writes a region's own pages beyond its
// file's new end into its first pages: the read of the caller's buffer
// faults (SIGBUS) inside the region's range, and is the caller's fault; a
// write across the end is the region's, without EFAULT.
func TestWriteAtFromTruncatedPages(t *testing.T) {
	if runInChild(t) {
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a file while a view of it is mapped")
	}
	skipUnderLargePages(t, "qemu-user maps a file only up to the host page that holds its end")
	ps := PageSize()
	r, f, _ := mapFile(t, pattern(4*ps, 5), os.O_RDWR, 0, 4*ps, Read|Write, Shared)
	if err := f.Truncate(int64(2 * ps)); err != nil {
		t.Fatal(err)
	}
	n, err := faultCall(t, "WriteAt", func() (int, error) { return r.WriteAt(r.Bytes()[3*ps:], 0) })
	faultCheckCaller(t, "WriteAt(r.Bytes()[3*ps:], 0) after truncation to 2 pages", n, err, 0, 0)
	// Half a page from inside the file, then the truncated page.
	n, err = faultCall(t, "WriteAt", func() (int, error) { return r.WriteAt(r.Bytes()[2*ps-ps/2:3*ps], 0) })
	faultCheckCaller(t, "WriteAt of a buffer that runs past the file's end", n, err, 0, ps/2)

	n, err = faultCall(t, "WriteAt", func() (int, error) { return r.WriteAt(make([]byte, ps), int64(2*ps-10)) })
	var fe *FaultError
	if !errors.As(err, &fe) || errors.Is(err, errBadAddress) || n != 10 || fe.Offset != int64(2*ps) {
		t.Errorf("WriteAt across the file's end = %d, %v; want 10 bytes and a fault of the region at %d", n, err, 2*ps)
	}
	n, err = faultCall(t, "ReadAt", func() (int, error) { return r.ReadAt(make([]byte, ps), int64(2*ps-10)) })
	if !errors.As(err, &fe) || errors.Is(err, errBadAddress) || n != 10 || fe.Offset != int64(2*ps) {
		t.Errorf("ReadAt across the file's end = %d, %v; want 10 bytes and a fault of the region at %d", n, err, 2*ps)
	}
	deadline(t, "Unmap after faults", func() {
		if err := r.Unmap(); err != nil {
			t.Error(err)
		}
	})
}

// TestCopyOverlappingMatchesCopy checks that copyOverlapping, which keeps
// the runtime's memmove from copying backwards, leaves the same bytes as copy
// for every overlap of dst and src within one buffer, in both directions and
// across pieces of its buffer.
func TestCopyOverlappingMatchesCopy(t *testing.T) {
	size := 2*overlapPiece + 3000
	for _, n := range []int{1, 7, 600, overlapPiece - 1, overlapPiece + 513, 2*overlapPiece + 11} {
		for _, so := range []int{0, 1, 999, size - n} {
			for _, do := range []int{0, 3, 1000, size - n, so} {
				if so+n > size || do+n > size || so < 0 || do < 0 {
					continue
				}
				want, got := pattern(size, 3), pattern(size, 3)
				wn := copy(want[do:do+n], want[so:so+n])
				gn, fault, _ := copyOverlapping(got[do:do+n], got[so:so+n])
				if gn != wn || fault != 0 || !bytes.Equal(got, want) {
					t.Fatalf("n %d, src at %d, dst at %d: copied %d bytes (fault %#x), want %d; bytes differ at %d",
						n, so, do, gn, fault, wn, firstDiff(got, want))
				}
			}
		}
	}
}
