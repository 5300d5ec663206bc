//go:build !linux

// This file stands in for sys_linux.go elsewhere: no cachestat (the
// library's mincore counts instead, which only Linux makes up), no
// eviction, and touching page by page.

package main

import (
	"errors"
	"fmt"

	"github.com/mmapkit/mmap"
)

func cacheStat(*handle, int64, int64) (mmap.CacheStat, error) {
	return mmap.CacheStat{}, errors.ErrUnsupported
}

func mincoreTrusted(*handle, fileStat) bool { return true }

func evict(h *handle, _, _ int64) error {
	return fmt.Errorf("%s: evicting pages: %w", h.path, errors.ErrUnsupported)
}
