// This file exists for AIX, which has only the portable madvise advice, no
// way to leave memory out of core dumps (so no Secret), no huge pages for
// programs to ask for, and no mincore in golang.org/x/sys/unix.

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
	Free:       adviceMissing,
}

func hugePageSize() int { return pageSize }

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on AIX")
}
