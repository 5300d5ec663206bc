// This file holds what the tool uses from Linux beyond the library and
// other unix: cachestat on a raw descriptor, posix_fadvise to evict pages,
// and when mincore can be trusted.

package main

import (
	"io/fs"
	"os"

	"github.com/mmapkit/mmap"
	"golang.org/x/sys/unix"
)

// cacheStat counts the cached pages of n bytes of h at off (n 0: to the
// end) with cachestat(2). It is mmap.FileCacheStat on a raw descriptor: an
// *os.File would cost an fcntl and allocations per file. Its errors match
// what FileCacheStat's do: fs.ErrPermission where the kernel refuses,
// errors.ErrUnsupported where it lacks cachestat.
func cacheStat(h *handle, off, n int64) (mmap.CacheStat, error) {
	rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(h.fd), &rng, &cs, 0); err != nil {
		return mmap.CacheStat{}, &fs.PathError{Op: "cachestat", Path: h.path, Err: err}
	}
	return mmap.CacheStat{
		Cached:          int64(cs.Cache),
		Dirty:           int64(cs.Dirty),
		Writeback:       int64(cs.Writeback),
		Evicted:         int64(cs.Evicted),
		RecentlyEvicted: int64(cs.Recently_evicted),
	}, nil
}

// mincoreTrusted reports whether mincore tells the truth about a file:
// since Linux 5.0 it reports every page resident unless the caller owns
// the file, may write it, or is root.
func mincoreTrusted(h *handle, st fileStat) bool {
	euid := os.Geteuid()
	if euid == 0 || uint32(euid) == st.uid {
		return true
	}
	return unix.Faccessat(unix.AT_FDCWD, h.path, unix.W_OK, unix.AT_EACCESS) == nil
}

// evict asks the kernel to drop the cached pages of n bytes of h at off
// (posix_fadvise POSIX_FADV_DONTNEED; n 0: to the end). Dirty pages are
// written back first and stay cached until the write completes.
func evict(h *handle, off, n int64) error {
	if err := unix.Fadvise(h.fd, off, n, unix.FADV_DONTNEED); err != nil {
		return &fs.PathError{Op: "fadvise", Path: h.path, Err: err}
	}
	return nil
}
