// This file holds the page-cache statistics of a file or a file region
// (cachestat(2) on Linux), which need no mapping.

package mmap

import (
	"io/fs"
	"os"
)

// A CacheStat counts the pages of a range of a file by their state in the
// page cache, as cachestat(2) (Linux 6.5) reports them. Every count is in
// pages of PageSize bytes.
type CacheStat struct {
	Cached          int64 // pages in the page cache
	Dirty           int64 // cached pages not yet written back to the file
	Writeback       int64 // cached pages being written back now
	Evicted         int64 // pages evicted from the cache since the file was opened by anyone
	RecentlyEvicted int64 // evicted pages that would still be cached in a cache large enough for the current load
}

// FileCacheStat counts the pages of the n bytes of f at off (n 0: from off
// to the end of the file) by their state in the page cache, without mapping
// anything and without changing what is cached. The range is rounded out to
// whole pages. Unlike [Region.Resident], whose answer is made up for files
// the caller can neither write nor own, the kernel refuses to tell rather
// than tell wrong.
//
// If there is an error, it will be of type *fs.PathError with Op
// "cachestat". It matches fs.ErrInvalid for a nil file or a negative off or
// n, fs.ErrPermission where the caller may not know what is cached (the
// file can be neither written nor owned by the caller, and the caller lacks
// CAP_SYS_ADMIN), fs.ErrClosed for a closed file, and
// errors.ErrUnsupported where the kernel lacks cachestat or the system is
// not Linux.
func FileCacheStat(f *os.File, off, n int64) (CacheStat, error) {
	if f == nil {
		return CacheStat{}, &fs.PathError{Op: "cachestat", Path: "", Err: invalidf("nil file")}
	}
	if off < 0 || n < 0 {
		return CacheStat{}, &fs.PathError{Op: "cachestat", Path: f.Name(), Err: invalidf("negative offset or length")}
	}
	if f.Fd() == ^uintptr(0) {
		return CacheStat{}, &fs.PathError{Op: "cachestat", Path: f.Name(), Err: fs.ErrClosed}
	}
	cs, err := sysCachestat(f.Fd(), off, n)
	if err != nil {
		return CacheStat{}, pathError("cachestat", f.Name(), err)
	}
	return cs, nil
}

// CacheStat counts the pages of the region's range of its file by their
// state in the page cache, as [FileCacheStat] does; the region need not be
// mapped. It returns an error matching fs.ErrInvalid for anonymous memory
// and fs.ErrClosed for a region whose file is closed (a region from [Open],
// once mapped); otherwise its errors are those of FileCacheStat.
func (r *Region) CacheStat() (CacheStat, error) {
	if r == nil {
		return CacheStat{}, errNilRegion
	}
	// Held while the file is used: Close of a region from NewSharedMemory
	// closes it, and its descriptor may then name another file.
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case !r.src.hasFile():
		return CacheStat{}, &fs.PathError{Op: "cachestat", Path: r.name, Err: invalidf("anonymous memory has no file")}
	case r.file == nil:
		return CacheStat{}, &fs.PathError{Op: "cachestat", Path: r.name, Err: fs.ErrClosed}
	}
	return FileCacheStat(r.file, r.off, int64(r.length))
}
