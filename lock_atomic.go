//go:build !(linux && amd64 && !race)

// This file counts ReadAt and WriteAt calls in flight with atomic adds, on
// every platform where lock_membarrier.go's plain adds would not be safe (or,
// under the race detector, not understood).

package mmap

func initBarrier() {}

func localAdd(p *int64, d int64) { atomicAdd(p, d) }

func asymmetricBarrier() {}
