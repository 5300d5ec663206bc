//go:build !linux

// This file exists because only Linux has mremap: elsewhere Resize maps the
// region again and copies what the file does not hold.

package mmap

import (
	"errors"
	"unsafe"
)

func sysRemap(unsafe.Pointer, uintptr, unsafe.Pointer, uintptr) (unsafe.Pointer, error) {
	return nil, errors.ErrUnsupported
}
