// This file exists for what NetBSD adds to the portable unix calls:
// MADV_FREE. It has no way to leave memory out of core dumps (so no Secret)
// and no huge pages for programs to ask for.

package mmap

import "golang.org/x/sys/unix"

// The flags of mmap behind Populate, NoReserve and Secret here (0: none).
const mapPopulate, mapNoReserve, mapConceal = 0, unix.MAP_NORESERVE, 0

var adviceTable = posixAdvice(map[Advice]int{Free: unix.MADV_FREE})

func hugePageSize() int { return pageSize }
