// This file exists for what FreeBSD adds to the portable unix calls:
// MADV_FREE, MADV_NOCORE and MADV_CORE (Secret, which also needs memory kept
// from a forked child, is refused: see sysSupports), and superpages.
// FreeBSD promotes anonymous memory to superpages by itself wherever a
// whole, aligned superpage of it is in use, so HugePages
// needs only the alignment that Map gives it inside its reservation
// (MAP_ALIGNED_SUPER would do the same, but has no effect on the MAP_FIXED
// mapping made there), and the HugePage advice has nothing to call.

package mmap

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, 0, 0

var adviceTable = posixAdvice(map[Advice]int{
	HugePage: adviceNone,
	DontDump: unix.MADV_NOCORE,
	DoDump:   unix.MADV_CORE,
	Free:     unix.MADV_FREE,
})

// hugePageSize returns the smallest superpage size that the kernel lists in
// hw.pagesizes (what getpagesizes(3) reads), or the page size if it lists
// none: the kernel lists superpages only when they are enabled.
var hugePageSize = sync.OnceValue(func() int {
	b, err := unix.SysctlRaw("hw.pagesizes")
	if err != nil {
		return pageSize
	}
	const word = int(unsafe.Sizeof(uintptr(0))) // the entries are u_long
	size := pageSize
	for i := 0; i+word <= len(b); i += word {
		var n uint64
		if word == 8 {
			n = binary.NativeEndian.Uint64(b[i:])
		} else {
			n = uint64(binary.NativeEndian.Uint32(b[i:]))
		}
		if n > uint64(pageSize) && n <= 1<<30 && n&(n-1) == 0 && (size == pageSize || int(n) < size) {
			size = int(n)
		}
	}
	return size
})
