//go:build freebsd || netbsd || dragonfly

// This file holds what FreeBSD, NetBSD and DragonFly share: mincore, a
// system call that Go programs may make directly there, while
// golang.org/x/sys/unix has no wrapper for it.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysResident fills res with the residency of each page (mincore).
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	vec := make([]byte, len(res))
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(addr), length, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	for i, v := range vec {
		res[i] = v&mincoreInCore != 0
	}
	return nil
}
