//go:build !linux

// This file holds the stand-ins, on every system but Linux, for what only
// mmap_linux.go has: no memory wiped in a forked child (Secret is refused by
// sysSupports where it could not be kept, or the system has no fork), no
// fallocate (the file is extended by writing zeros, which allocates its
// blocks as well), no mremap (Resize maps the region again and copies what
// the file does not hold), no memfd (NewSharedMemory and seals report
// errors.ErrUnsupported), no cachestat (FileCacheStat reports
// errors.ErrUnsupported), no way to reach a mapped file whose descriptor is
// closed (a fault in a region from Open cannot tell ErrPastEOF), no populate
// advice, guard regions, collapse into huge pages or secret memory (the
// portable paths take over), no huge page pool (HugeTLB is refused), and no
// freeing of the pages a shrink cuts off shared anonymous memory before its
// last unmap.

package mmap

import (
	"errors"
	"os"
	"unsafe"
)

// wipesOnFork tells whether sysWipeOnFork keeps memory from a child created
// by a raw fork: not here, so sysSupports refuses Secret.
const wipesOnFork = false

func sysWipeOnFork(unsafe.Pointer, uintptr) error { return nil }
func sysDontFork(unsafe.Pointer, uintptr) error   { return nil }

// mapHugeTLB is the flag of mmap behind HugeTLB: none.
const mapHugeTLB = 0

func sysHugeTLBSize() int { return 0 }

func sysPopulateByMap() bool { return false }

func sysPopulate(unsafe.Pointer, uintptr, bool) (bool, error) { return false, errors.ErrUnsupported }

func sysCollapse(unsafe.Pointer, uintptr) {}

func sysFreeShared(unsafe.Pointer, uintptr, bool) {}

func sysHasGuardMarkers() bool { return false }

func sysGuard(unsafe.Pointer, uintptr, bool) error { return errors.ErrUnsupported }

func sysSecretMemory(int) (*os.File, error) { return nil, errors.ErrUnsupported }

// sysAllocate extends f with zeros up to off+n bytes if it is shorter.
func sysAllocate(f *os.File, off, n int64) error {
	return fillZeros(f, off, n)
}

func sysRemap(unsafe.Pointer, uintptr, unsafe.Pointer, uintptr) (unsafe.Pointer, error) {
	return nil, errors.ErrUnsupported
}

func sysSharedMemory(string, int64, bool) (*os.File, error) { return nil, errNoShm }
func sysAddSeals(*os.File, Seal) error                      { return errNoShm }
func sysGetSeals(*os.File) (Seal, error)                    { return 0, errNoShm }

func linuxSupports(Flag) error { return nil }

func sysMappedFileSize(uintptr) (int64, error) { return 0, errors.ErrUnsupported }

func sysCachestat(uintptr, int64, int64) (CacheStat, error) {
	return CacheStat{}, errors.ErrUnsupported
}

// sysFaultsHaveAddresses reports whether a memory fault past the end of a
// mapped file comes with its address: it does on every system but an
// emulator's, and the emulators this package meets (qemu-user) run Linux
// programs.
func sysFaultsHaveAddresses() bool { return true }
