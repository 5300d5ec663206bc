// This file exists for what DragonFly BSD adds to the portable unix calls:
// MADV_FREE, and MADV_NOCORE and MADV_CORE, which also make Secret possible.
// Programs cannot ask it for huge pages.

package mmap

import "golang.org/x/sys/unix"

var adviceTable = [...]int{
	Normal:     unix.MADV_NORMAL,
	Sequential: unix.MADV_SEQUENTIAL,
	Random:     unix.MADV_RANDOM,
	WillNeed:   unix.MADV_WILLNEED,
	DontNeed:   unix.MADV_DONTNEED,
	HugePage:   adviceMissing,
	NoHugePage: adviceMissing,
	DontDump:   unix.MADV_NOCORE,
	DoDump:     unix.MADV_CORE,
	Free:       unix.MADV_FREE,
}

func hugePageSize() int { return pageSize }
