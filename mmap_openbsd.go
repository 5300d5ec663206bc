// This file exists for what OpenBSD does differently from the other unix:
// MADV_FREE, no madvise to leave memory out of core dumps but MAP_CONCEAL
// at mmap (Secret, which also needs memory kept from a forked child, is
// refused: see sysSupports), no huge pages, and no mincore:
// OpenBSD only lets programs make system calls through its C library, and
// Go reaches mincore there by no other way.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, unix.MAP_NORESERVE, unix.MAP_CONCEAL

var adviceTable = posixAdvice(map[Advice]int{Free: unix.MADV_FREE})

func hugePageSize() int { return pageSize }

func sysResident(unsafe.Pointer, uintptr, []bool) error {
	return unsupportedf("Resident on OpenBSD")
}
