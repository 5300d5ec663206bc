//go:build !linux

// This file exists because only Linux has memfd_create and memfd seals.
// Other unix would need shm_open and shm_unlink, which golang.org/x/sys does
// not offer, and Windows a pagefile-backed section: until then they report
// errors.ErrUnsupported.

package mmap

import "os"

func sysSharedMemory(string, int64) (*os.File, error) { return nil, errNoShm }
func sysAddSeals(*os.File, Seal) error                { return errNoShm }
func sysGetSeals(*os.File) (Seal, error)              { return 0, errNoShm }
