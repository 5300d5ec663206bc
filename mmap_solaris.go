// This file exists for what illumos and Solaris add to the portable unix
// calls: MADV_FREE. Nothing leaves memory out of core dumps (so no Secret),
// programs cannot ask for huge pages through madvise, and
// golang.org/x/sys/unix has no mincore there, so Resident is unsupported.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, unix.MAP_NORESERVE, 0

var adviceTable = posixAdvice(map[Advice]int{Free: unix.MADV_FREE})

func hugePageSize() int { return pageSize }

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on illumos and Solaris")
}
