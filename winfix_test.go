package mmap

// Helpers for the tests that meet documented platform differences: a flag
// or call that a system refuses with errors.ErrUnsupported, and the names
// of the functions in errors of the operating system.

import (
	"errors"
	"runtime"
	"testing"
)

// wfxUnsupported reports whether err says that this system cannot honour
// what was asked, as the package documents for systems other than Linux.
// On Linux it always reports false, so that the tests check everything
// there.
func wfxUnsupported(err error) bool {
	return runtime.GOOS != "linux" && errors.Is(err, errors.ErrUnsupported)
}

// wfxSkipUnsupported skips the test if wfxUnsupported(err).
func wfxSkipUnsupported(t testing.TB, err error) {
	t.Helper()
	if wfxUnsupported(err) {
		t.Skipf("not supported on %s: %v", runtime.GOOS, err)
	}
}

// wfxOp returns the Op of an error of the operating system: the unix
// system call, or on Windows the function the package called instead.
func wfxOp(unix, windows string) string {
	if runtime.GOOS == "windows" {
		return windows
	}
	return unix
}
