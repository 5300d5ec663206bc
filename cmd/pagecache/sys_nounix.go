//go:build !unix

// This file stands in for sys_unix.go where there are no unix descriptors:
// files are opened with package os, stat has no device and inode numbers
// (every file is taken as distinct and on the same file system), and there
// is no daemon.

package main

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

type handle struct {
	path string
	f    *os.File
}

func openEntry(e entry) (handle, fileStat, error) {
	path := e.path
	f, err := os.Open(path)
	if err != nil {
		return handle{}, fileStat{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return handle{}, fileStat{}, err
	}
	return handle{path: path, f: f}, fileStat{size: fi.Size(), kind: fi.Mode().Type()}, nil
}

func (h *handle) file() *os.File { return h.f }

func (h *handle) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

func fileID(fs.FileInfo) (id devIno, nlink uint64, ok bool) { return devIno{}, 0, false }

func daemonAttr() *syscall.SysProcAttr { return nil }

func detach() error { return errors.ErrUnsupported }

func isTerminal(fd uintptr) bool { return isConsole(fd) }

func termWidth(uintptr) int { return 0 }
