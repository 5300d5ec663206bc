//go:build linux && amd64 && !race

// This file enables the optimistic ReadAt of lock.go where its correctness
// argument holds: amd64 does not reorder loads with loads, and Linux
// flushes every processor's TLB before munmap returns. The race detector does
// not know the protocol, so it is off under -race.

package mmap

// optimisticReads tells whether ReadAt reads without being counted (see
// lock.go).
const optimisticReads = true
