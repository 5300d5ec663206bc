// This file exists for what NetBSD adds to the portable unix calls:
// MADV_FREE. It has no way to leave memory out of core dumps (so no Secret)
// and no huge pages for programs to ask for.

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
	DontDump:   adviceMissing,
	DoDump:     adviceMissing,
	Free:       unix.MADV_FREE,
}

func hugePageSize() int { return pageSize }
