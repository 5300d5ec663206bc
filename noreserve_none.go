//go:build freebsd || aix

// This file exists because FreeBSD and AIX have no MAP_NORESERVE: they do
// not reserve swap space for a mapping when it is made, so every mapping
// already behaves as NoReserve asks.

package mmap

const mapNoReserve = 0
