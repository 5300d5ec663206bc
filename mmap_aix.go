// This file exists for AIX, which has only the portable madvise advice, no
// way to leave memory out of core dumps (so no Secret), no huge pages for
// programs to ask for, and no mincore in golang.org/x/sys/unix.

package mmap

import "unsafe"

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, 0, 0

var adviceTable = posixAdvice(nil)

func hugePageSize() int { return pageSize }

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on AIX")
}
