//go:build unix

// This file holds how the tool opens and inspects files on every unix: a
// raw descriptor (an *os.File would be registered with the runtime's poller
// and cost two system calls and a few allocations per file), one fstat,
// and the daemon's new session.

package main

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A handle is an open file: a raw descriptor, and an *os.File made from it
// only where the library needs one (mapping, locking).
type handle struct {
	fd   int
	path string
	f    *os.File // nil until file is called; then it owns fd
}

// openEntry opens the file of e read-only without following a final
// symbolic link (unless e.follow) and without blocking on a FIFO that
// replaced a file, and reads its status.
func openEntry(e entry) (handle, fileStat, error) {
	path, follow := e.path, e.follow
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	var err error
	if e.name != nil {
		fd, err = openat(e.dirfd, e.name, flags)
	} else {
		fd, err = unix.Open(path, flags, 0)
		for err == unix.EINTR {
			fd, err = unix.Open(path, flags, 0)
		}
	}
	if err != nil {
		if err == unix.ELOOP && !follow {
			err = errReplacedByLink
		}
		return handle{}, fileStat{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h := handle{fd: fd, path: path}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		h.close()
		return handle{}, fileStat{}, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	return h, fileStat{
		size:  st.Size,
		kind:  kindOf(uint32(st.Mode)),
		id:    devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)},
		nlink: uint64(st.Nlink),
		uid:   st.Uid,
		valid: true,
	}, nil
}

// kindOf returns the type bits of a unix mode as an fs.FileMode.
func kindOf(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// file returns the handle as an *os.File, which from then on owns the
// descriptor.
func (h *handle) file() *os.File {
	if h.f == nil {
		h.f = os.NewFile(uintptr(h.fd), h.path)
	}
	return h.f
}

func (h *handle) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	} else if h.fd >= 0 {
		unix.Close(h.fd)
	}
	h.fd = -1
}

// fileID returns the device, inode and link count of fi, and whether the
// platform provides them.
func fileID(fi fs.FileInfo) (id devIno, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, 0, false
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink), true
}

// daemonAttr returns the process attributes of the daemon that -d starts:
// a new session, without the terminal.
func daemonAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// detach points standard input, output and error at /dev/null.
func detach() error {
	null, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(null)
	for fd := range 3 {
		if err := unix.Dup2(null, fd); err != nil {
			return err
		}
	}
	return nil
}

// isTerminal reports whether fd is a terminal, by asking for its terminal
// attributes.
func isTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), ioctlReadTermios)
	return err == nil
}

// termWidth returns the width of the terminal fd in columns, or 0.
func termWidth(fd uintptr) int {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
