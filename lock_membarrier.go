//go:build linux && amd64 && !race

// This file counts ReadAt and WriteAt calls in flight with plain adds where
// that is safe: amd64 never reorders a store with an earlier load or store,
// so only the order of a counter's store and the later load of closing is
// left to fix, and Linux's membarrier(2) fixes it from the writer's side by
// running a full barrier on every processor that runs a thread of this
// process. Under the race detector the atomic version is used, which the
// detector understands.

package mmap

import (
	"sync"

	"golang.org/x/sys/unix"
)

const (
	membarrierPrivateExpedited         = 1 << 3
	membarrierRegisterPrivateExpedited = 1 << 4
)

var (
	barrierOnce sync.Once
	// asymmetric is set once, before the first counters are published,
	// when membarrier is available; the counters are then plain adds.
	asymmetric bool
)

func initBarrier() {
	barrierOnce.Do(func() {
		_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierRegisterPrivateExpedited, 0, 0)
		asymmetric = errno == 0
	})
}

func localAdd(p *int64, d int64) {
	if asymmetric {
		*p += d
		return
	}
	atomicAdd(p, d)
}

func asymmetricBarrier() {
	if asymmetric {
		if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierPrivateExpedited, 0, 0); errno != 0 {
			// Registered at initBarrier, so it cannot fail; if it did,
			// the counters could not be trusted.
			panic("mmap: membarrier: " + errno.Error())
		}
	}
}
