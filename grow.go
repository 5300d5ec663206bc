package mmap

import (
	"fmt"
	"math"
	"os"
)

// Grow grows the region to length bytes together with its file, for
// append-style storage: it first makes the file's blocks for the new part
// exist, extending the file to at least the region's end, and then resizes
// the region as Resize does. The blocks are allocated on disk (fallocate on
// Linux; elsewhere, and on file systems without fallocate, the part beyond
// the file's end is written with zeros), so that a full disk is an error
// returned by Grow, not a SIGBUS when the new memory is written later.
// Where the file is already long enough, Grow only allocates blocks that
// are missing (holes), never changing its contents.
//
// length must not be smaller than Len (fs.ErrInvalid: use Resize to
// shrink). It must be a multiple of PageSize unless the file ends at the
// region's new end once grown (a file shorter than that is extended to
// exactly the region's end, so any length is fine then); ErrUnaligned
// otherwise. For an anonymous region Grow is Resize, and for a device the
// file is not touched.
//
// The file must be open for writing. An error from the file system is an
// *fs.PathError (Op "fallocate" or "write") keeping its errno, as in
// errors.Is(err, syscall.ENOSPC) for a full disk; the region is then left as
// it was, and the file may have grown by part of the request. Grow returns
// ErrNotMapped if the region is not mapped, an error matching fs.ErrClosed
// for a region from Open or whose file is closed, and the errors of Resize.
// Like Resize, it waits for ReadAt and WriteAt calls in flight, invalidates
// every slice from Bytes or View, and keeps the region's address up to the
// size given to Reserve; growing beyond that is refused (fs.ErrInvalid)
// before the file is touched.
func (r *Region) Grow(length int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mapped {
		return ErrNotMapped
	}
	if r.opened {
		return errResizeOpened
	}
	if length < r.length {
		return invalidf("%s: Grow to %d bytes would shrink a region of %d bytes", r.name, length, r.length)
	}
	if n, ok := roundUp(length, pageSize); r.reserve > 0 && (!ok || n > r.reserve) {
		// Refused before the file grows.
		return invalidf("%s: growing to %d bytes, beyond the reservation of %d bytes", r.name, length, r.reserve)
	}
	if err := r.checkFile(); err != nil {
		return err
	}
	if r.file != nil && !r.device {
		if int64(length) > math.MaxInt64-r.off-int64(pageSize) {
			return invalidf("%s: length %d overflows", r.name, length)
		}
		size, err := sysFileSize(r.file.Fd())
		if err != nil {
			return pathError("fstat", r.name, err)
		}
		end := r.off + int64(length)
		if length%pageSize != 0 && size > end {
			return fmt.Errorf("mmap: %s: length %d is not a multiple of the page size %d and the file is longer: %w",
				r.name, length, pageSize, ErrUnaligned)
		}
		// The region may reach past the file's end (Resize allows the
		// rest of the file's last page): allocate from the file's end then.
		if from := min(r.off+int64(r.length), size); end > from {
			if err := sysAllocate(r.file, from, end-from); err != nil {
				return err
			}
		}
	}
	return r.resizeLocked(length)
}

// zeroChunk is the size of the writes of zeros that extend a file.
const zeroChunk = 64 << 10

// fillZeros extends f with zeros up to off+n bytes, if it is shorter. It
// writes the zeros, rather than setting the size, so that the file system
// allocates the blocks now.
func fillZeros(f *os.File, off, n int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := off + n
	pos := max(fi.Size(), off)
	if pos >= end {
		return nil
	}
	zeros := make([]byte, min(zeroChunk, end-pos))
	for pos < end {
		k, err := f.WriteAt(zeros[:min(int64(len(zeros)), end-pos)], pos)
		pos += int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}
