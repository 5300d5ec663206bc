//go:build !linux

// This file stands in for what only Linux has (see mmap_linux.go): here
// cachestat is not offered.

package mmap

import "errors"

func sysCachestat(uintptr, int64, int64) (CacheStat, error) {
	return CacheStat{}, errors.ErrUnsupported
}
