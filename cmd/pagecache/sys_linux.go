// This file holds what the tool needs from Linux beyond the library:
// posix_fadvise to evict pages, and terminal checks for the progress bar.

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// evict asks the kernel to drop the cached pages of n bytes of f at off
// (posix_fadvise POSIX_FADV_DONTNEED). Dirty pages are written back first
// and stay cached until the write completes.
func evict(f *os.File, off, n int64) error {
	if err := unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED); err != nil {
		return &os.PathError{Op: "fadvise", Path: f.Name(), Err: err}
	}
	return nil
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}

// termWidth returns the width of the terminal fd in columns, or 80.
func termWidth(fd uintptr) int {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}
