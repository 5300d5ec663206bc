// This file exists because OpenBSD leaves memory out of core dumps with a
// flag of mmap, MAP_CONCEAL, rather than with madvise: sysMap sets it for
// Secret regions.

package mmap

import "golang.org/x/sys/unix"

const mapConceal = unix.MAP_CONCEAL
