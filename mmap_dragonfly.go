// This file exists for what DragonFly BSD adds to the portable unix calls:
// MADV_FREE, and MADV_NOCORE and MADV_CORE (Secret, which also needs memory
// kept from a forked child, is refused: see sysSupports).
// Programs cannot ask it for huge pages.

package mmap

import "golang.org/x/sys/unix"

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, unix.MAP_NORESERVE, 0

var adviceTable = posixAdvice(map[Advice]int{
	DontDump: unix.MADV_NOCORE,
	DoDump:   unix.MADV_CORE,
	Free:     unix.MADV_FREE,
})

func hugePageSize() int { return pageSize }
