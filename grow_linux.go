// This file exists because Linux can allocate a file's blocks without
// writing them (fallocate), where other systems write zeros.

package mmap

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// sysAllocate allocates the blocks of the n bytes of f at off, extending the
// file if they lie beyond its end. File systems without fallocate get
// zeros written past the file's end instead.
func sysAllocate(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	for err == unix.EINTR { // the runtime's preemption signals interrupt long calls
		err = unix.Fallocate(int(f.Fd()), 0, off, n)
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return fillZeros(f, off, n)
	}
	if err != nil {
		return pathError("fallocate", f.Name(), err)
	}
	return nil
}
