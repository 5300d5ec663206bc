package mmap

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a tmpfs of 1 MiB on dir.
func mountTmpfs(dir string) error {
	return unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m")
}

// unmount unmounts dir, detaching it if it is still busy.
func unmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return unix.Unmount(dir, unix.MNT_DETACH)
	}
	return nil
}

// TestStorGrowFullDisk grows a file on a file system too small for it: Grow
// fails with ENOSPC and the region stays usable.
func TestStorGrowFullDisk(t *testing.T) {
	dir := smallFS(t)
	ps := PageSize()
	f, err := os.OpenFile(dir+"/log", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(pattern(ps, 2)); err != nil {
		t.Fatal(err)
	}
	r, err := NewFile(f, 0, ps, Read|Write, Shared)
	r = mapRegion(t, r, err)

	err = r.Grow(4 << 20) // the file system holds 1 MiB
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Grow on a full file system = %v, want ENOSPC", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || (pe.Op != "fallocate" && pe.Op != "write") {
		t.Errorf("Grow error %v is not an *fs.PathError from fallocate or write", err)
	}
	checkContents(t, r, pattern(ps, 2))

	// What fits still grows, and the new memory can be written.
	if err := r.Grow(8 * ps); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteAt(pattern(7*ps, 4), int64(ps)); err != nil {
		t.Fatal(err)
	}
	checkContents(t, r, append(pattern(ps, 2), pattern(7*ps, 4)...))

	// The portable fallback, writing zeros, fails the same way.
	if err := fillZeros(f, 8*int64(ps), 4<<20); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("fillZeros on a full file system = %v, want ENOSPC", err)
	}
}

// smallFS mounts a 1 MiB tmpfs for the test and returns its directory,
// or skips the test where mounting is not allowed.
func smallFS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root; run as root to test Grow on a full disk")
	}
	dir := tempDir(t)
	if err := mountTmpfs(dir); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): Grow on a full disk is not tested", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
