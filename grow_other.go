//go:build !linux

// This file exists because fallocate is Linux's: elsewhere the file is
// extended by writing zeros, which allocates its blocks as well.

package mmap

import "os"

// sysAllocate extends f with zeros up to off+n bytes if it is shorter.
func sysAllocate(f *os.File, off, n int64) error {
	return fillZeros(f, off, n)
}
