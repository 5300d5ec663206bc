// This file exists for what DragonFly BSD adds to the portable unix calls:
// MADV_FREE, and MADV_NOCORE and MADV_CORE, which also make Secret possible.
// Programs cannot ask it for huge pages.

package mmap

import "golang.org/x/sys/unix"

// The flags of mmap behind Populate, NoReserve and Secret on this system (0:
// none; see sysMap).
const (
	mapPopulate  = 0
	mapNoReserve = unix.MAP_NORESERVE
	mapConceal   = 0
)

var adviceTable = posixAdvice(map[Advice]int{
	DontDump: unix.MADV_NOCORE,
	DoDump:   unix.MADV_CORE,
	Free:     unix.MADV_FREE,
})

func hugePageSize() int { return pageSize }
