//go:build unix && !(darwin || dragonfly || freebsd || netbsd || openbsd)

// This file exists for the request that reads terminal attributes on the
// other unix systems (Linux, Solaris, illumos, AIX).

package main

import "golang.org/x/sys/unix"

const ioctlReadTermios = unix.TCGETS
