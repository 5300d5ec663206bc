// This file exists for what illumos and Solaris add to the portable unix
// calls: MADV_FREE. Nothing leaves memory out of core dumps (so no Secret),
// programs cannot ask for huge pages through madvise, and
// golang.org/x/sys/unix has no mincore there, so Resident is unsupported.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

var adviceTable = [...]int{
	Normal:     unix.MADV_NORMAL,
	Sequential: unix.MADV_SEQUENTIAL,
	Random:     unix.MADV_RANDOM,
	WillNeed:   unix.MADV_WILLNEED,
	DontNeed:   unix.MADV_DONTNEED,
	HugePage:   adviceMissing,
	NoHugePage: adviceMissing,
	DontDump:   adviceMissing,
	DoDump:     adviceMissing,
	Free:       unix.MADV_FREE,
}

func hugePageSize() int { return pageSize }

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on illumos and Solaris")
}
