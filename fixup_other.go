//go:build !(linux && amd64) || race

// Without fixup_linux_amd64.go, the fast attempts of ReadAt and WriteAt
// copy with panic-on-fault set, as the counted paths do.

package mmap

import "unsafe"

// haveFixups tells whether copyFixed survives faults through a signal
// handler of the package's (rather than through panic-on-fault).
const haveFixups = false

// copyFixed copies n bytes from src to dst, which must not overlap, and
// reports whether an access faulted. Its one caller on these builds,
// readAt's optimistic attempt, never runs here (optimisticReads is false);
// it is written out so that readAt compiles, and is right if it ever runs.
func copyFixed(dst, src unsafe.Pointer, n uintptr) (faulted bool) {
	_, fault := tryCopy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(src), n))
	return fault != 0
}

// fastPathsAllowed reports whether ReadAt and WriteAt may make their fast
// attempts: always.
func fastPathsAllowed() bool { return true }

// fixupAccess tells Access that a fault inside it becomes a panic without
// panic-on-fault set: never here.
const fixupAccess = false

// fixupRestore clears a panic-on-fault flag the handler set: there is no
// such handler here.
func fixupRestore() {}

// fixupRestorePending reports whether fixupRestore has anything to do:
// never here.
func fixupRestorePending() bool { return false }
