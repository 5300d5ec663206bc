// This file makes shared memory files with memfd_create and seals them with
// fcntl, which only Linux has.

package mmap

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// sysSharedMemory returns a new anonymous memory file of size bytes.
func sysSharedMemory(name string, size int64) (*os.File, error) {
	// MFD_NOEXEC_SEAL (Linux 6.3) keeps the data from ever being executed
	// as a program; older kernels reject the flag with EINVAL.
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, pathError("memfd_create", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, pathError("ftruncate", f.Name(), err)
	}
	return f, nil
}

// sealBits pairs each Seal with its fcntl value.
var sealBits = [...]struct {
	seal Seal
	bit  int
}{
	{SealShrink, unix.F_SEAL_SHRINK},
	{SealGrow, unix.F_SEAL_GROW},
	{SealWrite, unix.F_SEAL_WRITE},
	{SealFutureWrite, unix.F_SEAL_FUTURE_WRITE},
	{SealSeal, unix.F_SEAL_SEAL},
	{SealExec, unix.F_SEAL_EXEC},
}

func sysAddSeals(f *os.File, s Seal) error {
	bits := 0
	for _, b := range sealBits {
		if s&b.seal != 0 {
			bits |= b.bit
		}
	}
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, bits)
	return err
}

func sysGetSeals(f *os.File) (Seal, error) {
	bits, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, err
	}
	var s Seal
	for _, b := range sealBits {
		if bits&b.bit != 0 {
			s |= b.seal
		}
	}
	return s, nil
}
