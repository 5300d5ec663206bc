//go:build unix

// This file holds the system calls that every unix shares: mmap, munmap,
// mprotect, msync, madvise and mlock through golang.org/x/sys/unix, without
// its global table of mappings.

package mmap

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errBadAddress is the cause of a fault in a caller's buffer.
var errBadAddress error = syscall.EFAULT

// sysSupports rejects the flags that the system has no means to honour: huge
// pages where the system offers none, Secret where nothing keeps memory out
// of core dumps or out of a child created by a raw fork (sysWipeOnFork), and
// what Linux checks at run time (linuxSupports).
func sysSupports(f Flag, _ bool) error {
	if f&HugePages != 0 && hugePageSize() <= pageSize {
		return unsupportedf("HugePages on this system")
	}
	if f&Secret != 0 && (!wipesOnFork || adviceTable[DontDump] == adviceMissing && mapConceal == 0) {
		return unsupportedf("Secret on this system, which cannot keep memory out of core dumps and of a forked child")
	}
	return linuxSupports(f)
}

// mincoreInCore is the bit of each byte of mincore's vector that says the
// page is resident: the low bit on every system that has mincore (the BSDs
// and macOS name it MINCORE_INCORE).
const mincoreInCore = 1

func sysGranularity() int { return os.Getpagesize() }

func sysProt(p Prot) int {
	prot := unix.PROT_NONE
	if p&Read != 0 {
		prot |= unix.PROT_READ
	}
	if p&Write != 0 {
		prot |= unix.PROT_READ | unix.PROT_WRITE
	}
	if p&Exec != 0 {
		prot |= unix.PROT_EXEC
	}
	return prot
}

// sysMap maps length bytes of the file fd at off (anonymous memory when fd
// is ^uintptr(0)), at addr inside a reservation of the caller's if addr is
// not nil.
func sysMap(fd uintptr, off int64, addr unsafe.Pointer, length uintptr, prot Prot, flags Flag) (unsafe.Pointer, error) {
	mflags := unix.MAP_PRIVATE
	if flags&Shared != 0 {
		mflags = unix.MAP_SHARED
	}
	ifd := -1
	if fd == ^uintptr(0) {
		mflags |= unix.MAP_ANON
		off = 0
	} else {
		ifd = int(fd)
	}
	if flags&Populate != 0 {
		mflags |= mapPopulate
	}
	if flags&HugeTLB != 0 && fd == ^uintptr(0) {
		mflags |= mapHugeTLB
	}
	if flags&NoReserve != 0 {
		mflags |= mapNoReserve
	}
	if flags&Secret != 0 {
		mflags |= mapConceal
	}
	if addr != nil {
		mflags |= unix.MAP_FIXED
	}
	return unix.MmapPtr(ifd, off, addr, length, sysProt(prot), mflags)
}

// sysReserve reserves length bytes of inaccessible address space.
func sysReserve(length uintptr) (unsafe.Pointer, error) {
	return unix.MmapPtr(-1, 0, nil, length, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
}

func sysUnmap(addr unsafe.Pointer, length uintptr) error {
	return unix.MunmapPtr(addr, length)
}

// sysRelease gives length bytes at addr, inside a reservation made by
// sysReserve, back to it: inaccessible again, their contents dropped.
func sysRelease(addr unsafe.Pointer, length uintptr) error {
	_, err := sysMap(^uintptr(0), 0, addr, length, 0, Private|NoReserve)
	return err
}

// Views of a file can be placed anywhere in a reservation, and unmapped in
// part.
const (
	fileInReservation = true
	partialViewUnmap  = true
)

func mem(addr unsafe.Pointer, length uintptr) []byte {
	return unsafe.Slice((*byte)(addr), length)
}

func sysProtect(addr unsafe.Pointer, length uintptr, p Prot) error {
	return unix.Mprotect(mem(addr, length), sysProt(p))
}

func sysFlush(addr unsafe.Pointer, length uintptr, async bool, _ *os.File) error {
	flags := unix.MS_SYNC
	if async {
		flags = unix.MS_ASYNC
	}
	return unix.Msync(mem(addr, length), flags)
}

// Entries of an adviceTable that name no madvise advice.
const (
	// adviceNone is advice the system follows by itself: nothing to call.
	adviceNone = -2
	// adviceMissing is advice the system has no way to follow.
	adviceMissing = -1
)

// posixAdvice returns an advice table with the advice that every unix has
// (the set posix_madvise names), the entries of more, and adviceMissing for
// the rest. Each system's file adds what it has beyond the portable set.
func posixAdvice(more map[Advice]int) [numAdvice]int {
	t := [numAdvice]int{
		Normal:     unix.MADV_NORMAL,
		Sequential: unix.MADV_SEQUENTIAL,
		Random:     unix.MADV_RANDOM,
		WillNeed:   unix.MADV_WILLNEED,
		DontNeed:   unix.MADV_DONTNEED,
	}
	for a := DontNeed + 1; int(a) < numAdvice; a++ {
		t[a] = adviceMissing
	}
	for a, v := range more {
		t[a] = v
	}
	return t
}

func sysAdvise(addr unsafe.Pointer, length uintptr, a Advice) error {
	advice := adviceTable[a]
	switch advice {
	case adviceNone:
		return nil
	case adviceMissing:
		return unsupportedf("advice %v on this system", a)
	}
	return unix.Madvise(mem(addr, length), advice)
}

func sysLock(addr unsafe.Pointer, length uintptr) error {
	return unix.Mlock(mem(addr, length))
}

func sysUnlock(addr unsafe.Pointer, length uintptr) error {
	return unix.Munlock(mem(addr, length))
}

// sysFileSize returns the size of the file fd.
func sysFileSize(fd uintptr) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(fd), &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// sysWriteAt writes b at offset off of f with pwrite(2) which, unlike
// os.File.WriteAt, also writes to a file opened with O_APPEND (at its end,
// on Linux).
func sysWriteAt(f *os.File, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pwrite(int(f.Fd()), b, off)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// fileStat returns the size and the type bits of the mode of f, without the
// allocation of f.Stat.
func fileStat(f *os.File) (int64, fs.FileMode, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	var mode fs.FileMode
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		mode = fs.ModeDir
	case unix.S_IFCHR:
		mode = fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode = fs.ModeDevice
	case unix.S_IFIFO:
		mode = fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode = fs.ModeSocket
	default:
		mode = fs.ModeIrregular
	}
	return st.Size, mode, nil
}

// sysAccess reports whether the file fd is open for reading and for writing.
func sysAccess(fd uintptr) (readable, writable bool, err error) {
	fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return false, false, err
	}
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return true, false, nil
	case unix.O_WRONLY:
		return false, true, nil
	}
	return true, true, nil
}

// classify returns the class of error an errno stands for, beyond what
// syscall.Errno's own Is method tells, or nil.
func classify(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil
	}
	switch errno {
	case unix.EINVAL, unix.ENODEV, unix.EBADF, unix.EOVERFLOW:
		return fs.ErrInvalid
	}
	return nil
}

// openNonblock is added to the flags with which Open opens a file.
const openNonblock = unix.O_NONBLOCK
