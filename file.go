// This file holds the constructors of file regions, NewFile and Open, and
// the checks they make of the file.

package mmap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
)

// NewFile returns an unmapped region of length bytes of f, starting at
// offset. offset must be a multiple of Granularity. length must be positive
// and either a multiple of PageSize or end exactly at the file's current
// end, so that a whole file of any size can be mapped and Bytes is exactly
// its content. Every page of the region must lie within the file (NewFile
// and Map check the file's size when they are called), unless flags has
// PastEOF, which lets the region extend past the file's end.
//
// f must be open for reading; a Shared region with Write protection needs f
// open for writing as well. f may be a regular file or a device that
// supports mapping; directories, pipes and sockets cannot be mapped.
//
// The region uses f itself, not a duplicate of its descriptor: keep f open
// for as long as the region may be mapped, flushed or mapped again. Closing f
// while the region is mapped leaves the mapping intact, but a later Map fails
// with an error matching fs.ErrClosed.
//
// The error matches fs.ErrInvalid for a nil, closed or unsuitable file, a bad
// offset, length, protection or flag set; ErrUnaligned for an offset or
// length that breaks the alignment rule; ErrPastEOF for a region without
// PastEOF that has a whole page beyond the end of the file;
// errors.ErrUnsupported for a flag the platform cannot honour.
func NewFile(f *os.File, offset int64, length int, prot Prot, flags Flag) (*Region, error) {
	if f == nil {
		return nil, invalidf("nil file")
	}
	name := f.Name()
	if err := validate(prot, flags, false); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, invalidf("%s: negative offset %d", name, offset)
	}
	if offset%int64(Granularity()) != 0 {
		return nil, fmt.Errorf("mmap: %s: offset %d is not a multiple of %d: %w", name, offset, Granularity(), ErrUnaligned)
	}
	if length <= 0 {
		return nil, invalidf("%s: length %d is not positive", name, length)
	}
	mapLen, ok := roundUp(length, pageSize)
	if !ok || int64(mapLen) > math.MaxInt64-offset {
		return nil, invalidf("%s: offset %d plus length %d overflows", name, offset, length)
	}
	if f.Fd() == ^uintptr(0) {
		return nil, fmt.Errorf("mmap: %s: %w (%w)", name, fs.ErrClosed, fs.ErrInvalid)
	}
	size, mode, err := fileStat(f)
	if err != nil {
		if errors.Is(err, fs.ErrClosed) {
			return nil, fmt.Errorf("mmap: %s: %w (%w)", name, fs.ErrClosed, fs.ErrInvalid)
		}
		return nil, osPathError("fstat", name, err)
	}
	src := srcFile
	if mode&fs.ModeDevice != 0 {
		src = srcDevice
		if isZeroDevice(f) {
			src = srcZero
		}
	}
	switch {
	case mode.IsDir():
		return nil, invalidf("%s: cannot map a directory", name)
	case !mode.IsRegular() && src == srcFile:
		return nil, invalidf("%s: cannot map a file of mode %v", name, mode.Type())
	}
	readable, writable, err := sysAccess(f.Fd())
	if err != nil {
		return nil, pathError("fcntl", name, err)
	}
	if !readable {
		return nil, invalidf("%s: file is not open for reading", name)
	}
	if flags&Shared != 0 && prot&Write != 0 && !writable {
		return nil, invalidf("%s: shared writable region of a file not open for writing", name)
	}
	r := &Region{file: f, name: name, off: offset, length: length, prot: prot, cur: prot, flags: flags, src: src}
	if length != mapLen && (src != srcFile || offset+int64(length) != size) {
		return nil, fmt.Errorf("mmap: %s: length %d is not a multiple of the page size %d and does not end at the end of the file: %w",
			name, length, pageSize, ErrUnaligned)
	}
	if src == srcFile {
		if err := r.checkEOF(size); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Open maps the whole of the named file, read-only and shared, and closes
// the file: the mapping stays valid without it. An empty file gives a mapped
// region of length 0 whose Bytes is empty, without mapping anything.
//
// Because its file is closed, a region from Open cannot be mapped again once
// unmapped: Map then returns an error matching fs.ErrClosed. Call Close when
// done with it.
//
// Errors from opening the file are those of os.Open; a file that is not a
// regular file gives an error matching fs.ErrInvalid, as does a file larger
// than the address space. A file that reports a size of 0 but yields bytes
// when read, as files of procfs and sysfs and some FUSE file systems do,
// cannot be mapped (its size is not known, and its pages may not be
// mappable at all): Open returns an error matching errors.ErrUnsupported
// rather than an empty region that would silently lose the contents. An
// error reading such a file is an *fs.PathError of Op "read".
func Open(name string) (*Region, error) {
	// openNonblock keeps the open of a named pipe from waiting for a writer;
	// the pipe is then refused as not a regular file.
	f, err := os.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, mode, err := fileStat(f)
	if err != nil {
		return nil, osPathError("fstat", name, err)
	}
	if !mode.IsRegular() {
		return nil, invalidf("%s: not a regular file", name)
	}
	if size > math.MaxInt-int64(pageSize) {
		return nil, invalidf("%s: file of %d bytes is too large to map", name, size)
	}
	if size == 0 {
		// procfs, sysfs and some FUSE file systems report a size of 0 for
		// files that have contents: a read of one byte tells them apart
		// from an empty file, at the cost of one system call here only.
		var b [1]byte
		n, err := f.ReadAt(b[:], 0)
		if n > 0 {
			return nil, unsupportedf("%s: file reports size 0 but has contents (a file of procfs, sysfs or FUSE?); read it with os.ReadFile", name)
		}
		if err != nil && err != io.EOF {
			return nil, osPathError("read", name, err)
		}
		return &Region{src: srcOpened, name: name, prot: Read, cur: Read, flags: Shared, mapped: true}, nil
	}
	r, err := NewFile(f, 0, int(size), Read, Shared)
	if err != nil {
		return nil, err
	}
	if err := r.Map(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.file, r.src = nil, srcOpened
	r.endLock()
	return r, nil
}

// statByOS returns the size and the mode of f through os.File.Stat, for the
// systems whose fileStat has no faster way (Windows, and those without
// mappings).
//
//lint:ignore U1000 unix has its own fileStat
func statByOS(f *os.File) (int64, fs.FileMode, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), fi.Mode(), nil
}

// osPathError wraps err, an error of the os package or of the operating
// system from the call op, with pathError, so that its errno is classified
// as every error of the operating system is (EBADF, from a descriptor closed
// behind the *os.File, matches fs.ErrInvalid). An *fs.PathError keeps its
// Op.
func osPathError(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		op, err = pe.Op, pe.Err
	}
	return pathError(op, name, err)
}

// isZeroDevice reports whether the device f is /dev/zero, whose Shared
// mappings are new anonymous memory at each mmap rather than views of
// one object: Resize then copies their contents, as for shared anonymous
// memory.
func isZeroDevice(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	zero, err := os.Stat("/dev/zero")
	return err == nil && os.SameFile(fi, zero)
}
