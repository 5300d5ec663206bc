//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// This file exists for the request that reads terminal attributes on the
// BSDs and macOS.

package main

import "golang.org/x/sys/unix"

const ioctlReadTermios = unix.TIOCGETA
