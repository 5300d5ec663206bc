//go:build windows

// This file holds the tests of what a hostile caller found on Windows: the
// classes of the errors that Windows reports differently from unix.

package mmap

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// TestGrowReadOnlyFileWindows checks that Grow of a region whose file is
// open for reading only fails as on unix, with an error matching
// fs.ErrInvalid and EBADF, although WriteFile says "access denied", and
// leaves the region as it was.
func TestGrowReadOnlyFileWindows(t *testing.T) {
	ps := PageSize()
	for _, flags := range []Flag{Shared, Private} {
		r, _, _ := mapFile(t, pattern(ps, 2), os.O_RDONLY, 0, ps, Read, flags)
		checkErr(t, "Grow of a read-only file", r.Grow(3*ps), "write", fs.ErrInvalid, syscall.EBADF)
		checkContents(t, r, pattern(ps, 2))
	}
}

// TestFlushClosedFileWindows checks that Flush of a shared file region whose
// file was closed, which cannot wait for the disk through the file on
// Windows, says that the file is closed, as Resize and Map do.
func TestFlushClosedFileWindows(t *testing.T) {
	ps := PageSize()
	r, f, _ := mapFile(t, pattern(2*ps, 2), os.O_RDWR, 0, 2*ps, Read|Write, Shared)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkErr(t, "Flush with the file closed", r.Flush(), "FlushFileBuffers", fs.ErrClosed)
	if err := r.FlushAsync(); err != nil {
		t.Errorf("FlushAsync with the file closed: %v", err)
	}
}

// TestReserveBeyondAddressSpace checks that a reservation larger than the
// address space makes Map fail with an error matching ENOMEM, as Reserve
// documents, although Windows refuses such a size as an invalid parameter;
// so does Resize of a region without a reservation to such a length.
func TestReserveBeyondAddressSpace(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) < 8 {
		t.Skip("a length beyond the address space does not fit in an int")
	}
	shift := 50
	huge := 1 << shift // 1 PiB, beyond the 128 TiB of a 64-bit process
	r, err := NewAnon(PageSize(), Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reserve(huge); err != nil {
		t.Fatal(err)
	}
	err = r.Map()
	checkErr(t, "Map with a reservation of 1 PiB", err, "VirtualAlloc", syscall.ENOMEM)
	if err == nil {
		mustUnmap(t, r)
	}
	r = mapAnon(t, PageSize(), Read|Write, Private)
	checkErr(t, "Resize to 1 PiB", r.Resize(huge), "VirtualAlloc", syscall.ENOMEM)
	if r.Len() != PageSize() {
		t.Errorf("Len after a failed Resize = %d", r.Len())
	}
}

// TestWorkingSetQuotaMatchesENOMEM checks that the error of VirtualLock
// beyond the minimum working set, Windows' counterpart of RLIMIT_MEMLOCK,
// matches ENOMEM as mlock's does.
func TestWorkingSetQuotaMatchesENOMEM(t *testing.T) {
	err := pathError("mlock", anonName, os.NewSyscallError("VirtualLock", windows.ERROR_WORKING_SET_QUOTA))
	checkErr(t, "VirtualLock beyond the working set", err, "VirtualLock", syscall.ENOMEM, windows.ERROR_WORKING_SET_QUOTA)
}
