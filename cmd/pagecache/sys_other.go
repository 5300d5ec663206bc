//go:build !linux

// This file stands in for sys_linux.go elsewhere: eviction is not offered,
// and no progress bar is drawn.

package main

import (
	"errors"
	"fmt"
	"os"
)

func evict(f *os.File, _, _ int64) error {
	return fmt.Errorf("%s: evicting pages: %w", f.Name(), errors.ErrUnsupported)
}

func isTerminal(uintptr) bool { return false }

func termWidth(uintptr) int { return 80 }
