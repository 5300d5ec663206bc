//go:build unix && !linux

// This file holds what the unix systems other than Linux have in common:
// no MAP_POPULATE, so Populate touches each page (after MADV_WILLNEED for a
// file), and flags that each system supports only if its own file
// (mmap_darwin.go, mmap_freebsd.go...) gives it the means.

package mmap

const (
	mapPopulate   = 0
	populateByMap = false
)

// sysSupports rejects the flags that the system has no means to honour.
func sysSupports(f Flag, _ bool) error {
	if f&HugePages != 0 && hugePageSize() <= pageSize {
		return unsupportedf("HugePages on this system")
	}
	if f&Secret != 0 && adviceTable[DontDump] == adviceMissing && mapConceal == 0 {
		return unsupportedf("Secret on this system, which cannot keep memory out of core dumps")
	}
	return nil
}
