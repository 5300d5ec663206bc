//go:build !plan9

// This file exists because plan9's syscall package has no Errno: the tests
// name errno values through it (see errno_plan9_test.go).

package mmap

import (
	"errors"
	"syscall"
)

// errNoMemory is the error of the operating system for a request of more
// memory or address space than it can give.
var errNoMemory error = syscall.ENOMEM

// hasErrno reports whether err holds an errno.
func hasErrno(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno)
}
