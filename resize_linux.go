// This file exists because Linux can grow and move a mapping in the kernel
// (mremap), keeping its pages, where other systems map again and copy.

package mmap

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysRemap resizes the oldLen bytes mapped at addr to newLen bytes: in
// place or anywhere if to is nil, else moved to to (over a reservation of
// the caller's, which it replaces).
func sysRemap(addr unsafe.Pointer, oldLen uintptr, to unsafe.Pointer, newLen uintptr) (unsafe.Pointer, error) {
	flags := unix.MREMAP_MAYMOVE
	if to != nil {
		flags |= unix.MREMAP_FIXED
	}
	return unix.MremapPtr(addr, oldLen, to, newLen, flags)
}
