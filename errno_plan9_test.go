// This file exists because plan9 has no errno values (see errno_test.go);
// the package does not map memory there, so nothing returns them.

package mmap

import "errors"

var errNoMemory = errors.New("no memory")

func hasErrno(error) bool { return false }
