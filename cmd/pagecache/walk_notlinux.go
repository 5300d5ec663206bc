//go:build !linux

// This file stands in for walk_linux.go elsewhere: directories are read
// with package os.

package main

import (
	"context"
	"errors"
)

// fastState is empty where there is no fast walk.
type fastState struct{}

func (w *walker) walkDirFast(context.Context, string, uint64, []devIno, bool) bool { return false }

// openat is never called here: only the fast walk makes entries with a name.
func openat(int, *byte, int) (int, error) { return -1, errors.ErrUnsupported }
