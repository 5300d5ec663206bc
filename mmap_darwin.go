// This file exists for what macOS (and iOS) adds to the portable unix calls:
// MADV_FREE, and mincore, which is called through libSystem because Apple
// keeps the system call numbers private. There is no advice to leave memory
// out of core dumps, and no huge pages for programs to ask for.

package mmap

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, unix.MAP_NORESERVE, 0

var adviceTable = posixAdvice(map[Advice]int{Free: unix.MADV_FREE})

func hugePageSize() int { return pageSize }

// libc_mincore_trampoline_addr is the address of a jump to libSystem's
// mincore (mincore_darwin.s).
var libc_mincore_trampoline_addr uintptr

//go:cgo_import_dynamic libc_mincore mincore "/usr/lib/libSystem.B.dylib"

// syscall_syscall calls a libSystem function the way package syscall does,
// with errno taken from the C library.
//
//go:linkname syscall_syscall syscall.syscall
func syscall_syscall(fn, a1, a2, a3 uintptr) (r1, r2 uintptr, err syscall.Errno)

// sysResident fills res with the residency of each page (mincore: the
// MINCORE_INCORE bit of each byte of the vector).
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	vec := make([]byte, len(res))
	_, _, errno := syscall_syscall(libc_mincore_trampoline_addr, uintptr(addr), length, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	for i, v := range vec {
		res[i] = v&mincoreInCore != 0
	}
	return nil
}
