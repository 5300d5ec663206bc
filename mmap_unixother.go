//go:build unix && !linux

// This file holds the parts of the unix shims that Linux does differently:
// other unix have no MAP_POPULATE (Populate touches each page), only the
// portable madvise advice, and no transparent huge pages.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	mapPopulate   = 0
	populateByMap = false
)

var adviceTable = [...]int{
	Normal:     unix.MADV_NORMAL,
	Sequential: unix.MADV_SEQUENTIAL,
	Random:     unix.MADV_RANDOM,
	WillNeed:   unix.MADV_WILLNEED,
	DontNeed:   unix.MADV_DONTNEED,
	HugePage:   -1,
	NoHugePage: -1,
	DontDump:   -1,
	DoDump:     -1,
	Free:       -1,
}

func hugePageSize() int { return pageSize }

func sysSupports(f Flag, _ bool) error {
	if f&HugePages != 0 {
		return unsupportedf("HugePages on this system")
	}
	if f&Secret != 0 {
		return unsupportedf("Secret on this system")
	}
	return nil
}

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on this system")
}
