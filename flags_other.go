//go:build !linux

// This file exists because only Linux can wipe memory in a forked child
// (see flags_linux.go); elsewhere Secret is refused by sysSupports, or the
// system has no fork.

package mmap

import "unsafe"

func sysWipeOnFork(unsafe.Pointer, uintptr) error { return nil }
