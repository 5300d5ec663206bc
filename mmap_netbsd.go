// This file exists for what NetBSD adds to the portable unix calls:
// MADV_FREE. It has no way to leave memory out of core dumps (so no Secret)
// and no huge pages for programs to ask for.

package mmap

import "golang.org/x/sys/unix"

// The flags of mmap behind Populate, NoReserve and Secret on this system (0:
// none; see sysMap).
const (
	mapPopulate  = 0
	mapNoReserve = unix.MAP_NORESERVE
	mapConceal   = 0
)

var adviceTable = posixAdvice(map[Advice]int{Free: unix.MADV_FREE})

func hugePageSize() int { return pageSize }
