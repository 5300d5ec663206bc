// This file holds the page size, the offset granularity and the
// arithmetic of the alignment rule.

package mmap

import (
	"fmt"
	"math"
	"os"
	"sync"
)

var (
	pageSize    = os.Getpagesize()
	granularity = sync.OnceValue(sysGranularity)
	hugeTLBSize = sync.OnceValue(sysHugeTLBSize)
)

// PageSize returns the operating system's page size in bytes. Region lengths
// are multiples of it.
func PageSize() int { return pageSize }

// Granularity returns what file offsets must be a multiple of: the page size
// on unix, the allocation granularity (usually 64 KiB) on Windows.
func Granularity() int { return granularity() }

// HugePageSize returns the size in bytes of the pages of the kernel's huge
// page pool that a [HugeTLB] region takes: the default huge page size
// (Hugepagesize in /proc/meminfo on Linux, 2 MiB on most machines), read
// once. It returns 0 where the system has no huge page pool (every system
// but Linux, and Linux kernels built without huge pages).
func HugePageSize() int { return hugeTLBSize() }

// checkHugeTLBLength returns the error for a HugeTLB region of length bytes
// that cannot be made: no huge page pool on this system
// (errors.ErrUnsupported), or a length that is not a whole number of huge
// pages (ErrUnaligned). prefix, if not empty, names the region in the
// message and ends with ": ".
func checkHugeTLBLength(prefix string, length int) error {
	hs := HugePageSize()
	if hs == 0 {
		return unsupportedf("HugeTLB: no huge pages on this system")
	}
	if length%hs != 0 {
		return fmt.Errorf("mmap: %slength %d is not a multiple of the huge page size %d: %w", prefix, length, hs, ErrUnaligned)
	}
	return nil
}

// AlignOffset rounds off down to a multiple of Granularity. A negative off
// rounds towards negative infinity.
func AlignOffset(off int64) int64 {
	g := int64(Granularity())
	r := off % g
	if r < 0 {
		r += g
	}
	return off - r
}

// AlignLength rounds n up to a whole number of pages. It panics if n is
// negative or if the rounded length does not fit in an int; lengths that come
// from outside the program should be checked first (NewAnon and NewFile
// return errors for them instead).
func AlignLength(n int) int {
	if n < 0 {
		panic("mmap: AlignLength of negative length")
	}
	a, ok := roundUp(n, pageSize)
	if !ok {
		panic("mmap: AlignLength overflows int")
	}
	return a
}

// roundUp rounds n (non-negative) up to a multiple of the power of two
// size, reporting false if the result does not fit in an int.
func roundUp(n, size int) (int, bool) {
	if n > math.MaxInt-(size-1) {
		return 0, false
	}
	return (n + size - 1) &^ (size - 1), true
}

// pageOf returns the start of the page that holds off.
func pageOf(off int) int { return off &^ (pageSize - 1) }
