// This file holds what Linux has beyond other unix: MAP_POPULATE, the full
// set of madvise advice, transparent huge pages and mincore.

package mmap

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	mapPopulate   = unix.MAP_POPULATE
	populateByMap = true
)

var adviceTable = [...]int{
	Normal:     unix.MADV_NORMAL,
	Sequential: unix.MADV_SEQUENTIAL,
	Random:     unix.MADV_RANDOM,
	WillNeed:   unix.MADV_WILLNEED,
	DontNeed:   unix.MADV_DONTNEED,
	HugePage:   unix.MADV_HUGEPAGE,
	NoHugePage: unix.MADV_NOHUGEPAGE,
	DontDump:   unix.MADV_DONTDUMP,
	DoDump:     unix.MADV_DODUMP,
	Free:       unix.MADV_FREE,
}

// hugePageSize returns the size of a transparent huge page.
var hugePageSize = sync.OnceValue(func() int {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 && n&(n-1) == 0 {
			return n
		}
	}
	return 2 << 20
})

// sysResident fills res with the residency of each page (mincore).
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	vec := make([]byte, len(res))
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(addr), length, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	for i, v := range vec {
		res[i] = v&1 != 0
	}
	return nil
}
