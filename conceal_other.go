//go:build !openbsd

// This file exists because only OpenBSD has MAP_CONCEAL (conceal_openbsd.go):
// elsewhere Secret leaves memory out of core dumps with the DontDump advice.

package mmap

const mapConceal = 0
