//go:build unix && !freebsd && !aix

// This file exists because MAP_NORESERVE is a flag on most unix, but not on
// FreeBSD and AIX (see noreserve_none.go).

package mmap

import "golang.org/x/sys/unix"

const mapNoReserve = unix.MAP_NORESERVE
