//go:build !(linux && amd64 && !race)

// This file keeps ReadAt on the counted path of lock.go and counts calls in
// flight with atomic adds, on every platform where lock_membarrier.go's
// optimistic reads and plain adds would not be safe (or, under the race
// detector, not understood).

package mmap

const optimisticReads = false

func initBarrier() {}

func localAdd(p *int64, d int64) { atomicAdd(p, d) }

func asymmetricBarrier() {}
