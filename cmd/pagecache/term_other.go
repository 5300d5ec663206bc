//go:build !unix && !windows

// This file exists for the systems (plan9, js, wasip1) where the tool does
// not look for a terminal: no progress bar is drawn there.

package main

func isConsole(uintptr) bool { return false }
