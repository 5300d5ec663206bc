// This file holds what Linux has beyond other unix: MAP_POPULATE, the full
// set of madvise advice, transparent huge pages, mincore and
// cachestat.

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

var adviceTable = posixAdvice(map[Advice]int{
	HugePage:   unix.MADV_HUGEPAGE,
	NoHugePage: unix.MADV_NOHUGEPAGE,
	DontDump:   unix.MADV_DONTDUMP,
	DoDump:     unix.MADV_DODUMP,
	Free:       unix.MADV_FREE,
})

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
//
// The vector has room for one entry per 4 KiB, the smallest page of any
// Linux port, whatever the page size: qemu-user run with a larger page size
// (-p 65536) answers mincore per 4 KiB, and would otherwise write past the
// end of a vector sized by the page size. When it does, a page counts as
// resident if any of its 4 KiB pieces is.
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	const piece = 4096
	vec := make([]byte, max(uintptr(len(res)), length/piece))
	const unwritten = 0xfe // mincore sets no bit but the lowest
	for i := len(res); i < len(vec); i++ {
		vec[i] = unwritten
	}
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(addr), length, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	per := 1
	if len(vec) > len(res) && vec[len(res)] != unwritten {
		per = len(vec) / len(res)
	}
	for i := range res {
		res[i] = false
		for _, v := range vec[i*per : (i+1)*per] {
			res[i] = res[i] || v&mincoreInCore != 0
		}
	}
	return nil
}

// sysCachestat counts the cached pages of n bytes of the file fd at off (n
// 0: to the end of the file) with cachestat(2).
func sysCachestat(fd uintptr, off, n int64) (CacheStat, error) {
	rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err != nil {
		return CacheStat{}, err
	}
	return CacheStat{
		Cached:          int64(cs.Cache),
		Dirty:           int64(cs.Dirty),
		Writeback:       int64(cs.Writeback),
		Evicted:         int64(cs.Evicted),
		RecentlyEvicted: int64(cs.Recently_evicted),
	}, nil
}
