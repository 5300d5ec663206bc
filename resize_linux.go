// This file exists because Linux can grow and move a mapping in the kernel
// (mremap), keeping its pages, where other systems map again and copy.

package mmap

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysRemap resizes the oldLen bytes mapped at addr to newLen bytes: in
// place or anywhere if to is nil, else moved to to (over a reservation of
// the caller's, which it replaces). It returns an error matching
// errors.ErrUnsupported where mremap cannot do it and the caller should map
// again and copy.
func sysRemap(addr unsafe.Pointer, oldLen uintptr, to unsafe.Pointer, newLen uintptr) (unsafe.Pointer, error) {
	flags := unix.MREMAP_MAYMOVE
	if to != nil {
		flags |= unix.MREMAP_FIXED
	}
	p, err := unix.MremapPtr(addr, oldLen, to, newLen, flags)
	if err == unix.EFAULT {
		// The range is made of several mappings (growing inside a
		// reservation maps the new pages separately), which mremap
		// cannot move as one.
		return nil, fmt.Errorf("mmap: mremap of several mappings: %w (%w)", errors.ErrUnsupported, err)
	}
	return p, err
}
