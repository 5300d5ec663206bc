//go:build !(linux && amd64 && !race)

// This file keeps ReadAt on the counted path of lock.go wherever lock.go's
// argument for the optimistic read does not hold: weakly ordered architectures,
// systems other than Linux, and builds with the race detector.

package mmap

// optimisticReads tells whether ReadAt reads without being counted (see
// lock.go).
const optimisticReads = false
