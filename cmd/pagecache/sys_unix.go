//go:build unix

// This file holds what every unix offers the walk: device and inode numbers
// from stat, and open flags that neither follow a symbolic link nor block on
// a FIFO that replaced a file since the walk saw it.

package main

import (
	"io/fs"
	"syscall"
)

// fileID returns the device, inode and link count of fi, and whether the
// platform provides them.
func fileID(fi fs.FileInfo) (id devIno, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, 0, false
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink), true
}

// openFlags returns the flags added to O_RDONLY when a file is opened.
func openFlags(follow bool) int {
	if follow {
		return syscall.O_NONBLOCK
	}
	return syscall.O_NONBLOCK | syscall.O_NOFOLLOW
}
