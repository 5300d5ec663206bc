//go:build !unix && !windows

// This file lets the package build where no mapping support is written yet
// (systems that are neither unix nor Windows): every system call returns an
// error matching errors.ErrUnsupported.

package mmap

import (
	"errors"
	"io/fs"
	"os"
	"unsafe"
)

const (
	mapConceal        = 0
	fileInReservation = false
	partialViewUnmap  = false
)

var errUnsupported = unsupportedf("memory mapping on this system")

func sysGranularity() int { return os.Getpagesize() }

func hugePageSize() int { return pageSize }

func sysSupports(Flag, bool) error { return errUnsupported }

func sysMap(uintptr, int64, unsafe.Pointer, uintptr, Prot, Flag) (unsafe.Pointer, error) {
	return nil, errUnsupported
}

func sysReserve(uintptr) (unsafe.Pointer, error)             { return nil, errUnsupported }
func sysUnmap(unsafe.Pointer, uintptr) error                 { return errUnsupported }
func sysRelease(unsafe.Pointer, uintptr) error               { return errUnsupported }
func sysProtect(unsafe.Pointer, uintptr, Prot) error         { return errUnsupported }
func sysFlush(unsafe.Pointer, uintptr, bool, *os.File) error { return errUnsupported }
func sysAdvise(unsafe.Pointer, uintptr, Advice) error        { return errUnsupported }
func sysLock(unsafe.Pointer, uintptr) error                  { return errUnsupported }
func sysUnlock(unsafe.Pointer, uintptr) error                { return errUnsupported }
func sysResident(unsafe.Pointer, uintptr, []bool) error      { return errUnsupported }
func sysFileSize(uintptr) (int64, error)                     { return 0, errUnsupported }
func sysAccess(uintptr) (readable, writable bool, err error) { return false, false, errUnsupported }
func classify(error) error                                   { return errors.ErrUnsupported }

// sysWriteAt writes b at offset off of f.
func sysWriteAt(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }

// fileStat returns the size and the mode of f.
func fileStat(f *os.File) (int64, fs.FileMode, error) { return statByOS(f) }

// openNonblock is added to the flags with which Open opens a file.
const openNonblock = 0
