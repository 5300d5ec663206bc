//go:build linux || darwin || freebsd || netbsd || dragonfly

// This file exists for what the systems whose Resident calls mincore share:
// how to read its answer.

package mmap

// mincoreInCore is the bit of each byte of mincore's vector that says the
// page is resident: the low bit on each of these systems (the BSDs and
// macOS name it MINCORE_INCORE).
const mincoreInCore = 1
