//go:build !race

// This file holds the package's handler of SIGSEGV and SIGBUS on
// linux/amd64, fixupHandler (fixup_linux_amd64.s), and the copy of ReadAt's
// and WriteAt's fast attempts, copyFixed. Both spare the hot paths
// debug.SetPanicOnFault, whose two calls into the runtime cost a 64-byte
// copy about what the copy itself costs (bench/README.md, SafetyCost).
//
// A fault in copyFixed's code is resumed by the handler, as a kernel's
// exception table resumes a fault in its copy from user memory: the handler
// moves the PC to fixupResume, which returns true from copyFixed. A fault
// on a goroutine inside Access has the handler set that goroutine's
// panic-on-fault flag before the runtime sees the fault (see fixupAccess).
// Every other signal, and a fault anywhere else, goes on to the handler that
// was installed before it (the Go runtime's), unchanged: a nil dereference
// still panics, a fault with debug.SetPanicOnFault set still panics with its
// address, and any other fault still crashes the program with the runtime's
// message.
//
// The handler is installed at the first Map of a region of any length but
// zero (fastPathsAllowed, from Region.endLock), once per process, and stays
// (in a program that uses cgo it is installed again where the runtime put
// its own back: see reinstallFixups). Where it cannot be (the environment
// variable MMAPKIT_FAULT_HANDLER is "off", or the signals' handlers are not
// ones to forward to), the fast attempts are not used: ReadAt and WriteAt
// take their counted paths, which copy with panic-on-fault set, and Access
// sets panic-on-fault around fn.

package mmap

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

// haveFixups tells whether copyFixed survives faults through the handler
// of this file (rather than through panic-on-fault).
const haveFixups = true

// copyFixed copies n bytes from src to dst, which must not overlap, and
// reports whether an access faulted. If it did, dst holds an unspecified
// part of the bytes.
//
//go:noescape
func copyFixed(dst, src unsafe.Pointer, n uintptr) (faulted bool)

// Written in assembly; reached only through fixupPCs.
//
//lint:ignore U1000 used from assembly
func fixupResume()

//lint:ignore U1000 used from assembly
func fixupHandler()

// fixupPCs returns the entry addresses of fixupHandler, copyFixed and
// fixupResume.
func fixupPCs() (handler, copyStart, resume uintptr)

// Read by fixupHandler, written before it is installed.
var (
	//lint:ignore U1000 used from assembly
	fixupCopyStart, fixupCopyEnd uintptr // copyFixed's code
	//lint:ignore U1000 used from assembly
	fixupResumePC uintptr
	//lint:ignore U1000 used from assembly
	fixupPrevBus, fixupPrevSegv uintptr // the handlers installed before

	// For faults inside Access (see fixupAccess).
	//lint:ignore U1000 used from assembly
	fixupAccessRet uintptr // the return address of Access's call of fn
	//lint:ignore U1000 used from assembly
	fixupAccessStart, fixupAccessEnd uintptr // Access's code
	// fixupPanicOnFault is the offset in the runtime's g of its
	// panic-on-fault flag, found by panicOnFaultOffset; 0 leaves faults
	// inside Access alone.
	fixupPanicOnFault uintptr
)

// fixupSetG holds the g of each goroutine whose panic-on-fault flag
// fixupHandler set, in any slot, and fixupPending how many there are:
// fixupRestore clears the flag and the slot. Written by the handler, with
// atomic instructions.
var (
	fixupSetG    [fixupSlots]uintptr
	fixupPending int32
	fixupScans   uint64 // how many times the handler searched a stack word by word, for the tests
)

// fixupSlots is the length of fixupSetG (fixupSlots in the assembly too):
// how many goroutines may be between a fault inside Access and Access's
// recover at once with their flags noted. Past that, the handler sets the
// flag all the same (a fault inside Access must not crash the program), and
// Access cannot clear it.
const fixupSlots = 256

// fixupAccess tells Access that fixupHandler makes a fault inside it a
// panic, so that Access need not set panic-on-fault itself: set once the
// handler is installed and knows the return address of Access's call of fn
// (accessPCs) and where the runtime keeps a goroutine's panic-on-fault
// flag (panicOnFaultOffset).
//
// Setting panic-on-fault costs two calls into the runtime, a third of a
// 64-byte Access (bench/README.md). The handler instead sets the flag of
// the goroutine that faulted, at the fault, when fn's call by Access is live
// on its stack: that call's return address is at SP (fn has no frame) or at
// 8(BP) of one of the frames on the chain of frame pointers from the fault
// (fn's frame, or one above it), or, where the chain is broken (assembly
// that uses BP as a register, such as crypto/md5's; the edge between a cgo
// callback's Go frames and C's), in some word of the stack between SP and
// its top. The runtime's handler, which runs next, then turns the fault
// into the panic that Access recovers, as with panic-on-fault set by
// Access, and Access clears the flag (fixupRestore). A goroutine that set
// the flag itself keeps it: the handler leaves it alone.
//
// The frames on an unbroken chain are all live, so there any return address
// into Access's code counts, and so does a faulting PC in it: fn's call is
// an indirect one, which profile-guided devirtualization may replace, in
// Access's code, by a direct call of (or the inlined code of) a function of
// a package this one imports.
//
// Off the chain (at SP, and in the word-by-word search) only the exact
// return address of fn's call counts, and only a live call leaves it there.
// It is one PC, that of the instruction after Access's call of fn, and only
// that call stores it, at Access's SP-8. Every way out of Access after fn
// runs makes another call from Access that stores its own return address in
// the same word: the deferred function's call on a normal return,
// runtime.deferreturn's after a recover. So no Access that has ended leaves
// the PC behind, and any word holding it belongs to a call that is live. The
// exceptions are copies of the PC made on purpose (runtime.Callers into an
// array on the stack, in a frame that outlives the Access) and a goroutine
// that ended inside fn (runtime.Goexit) whose stack a new goroutine reuses:
// a fault outside Access whose search reaches such a word panics instead of
// crashing the program, and leaves the goroutine's flag set.
var fixupAccess bool

// fixupG returns the calling goroutine's g.
func fixupG() unsafe.Pointer

// fixupRestore clears the calling goroutine's panic-on-fault flag if
// fixupHandler set it, as Access does once fn has returned or panicked.
func fixupRestore() {
	g := uintptr(fixupG())
	for i := range fixupSetG {
		if atomic.LoadUintptr(&fixupSetG[i]) == g && atomic.CompareAndSwapUintptr(&fixupSetG[i], g, 0) {
			atomic.AddInt32(&fixupPending, -1)
			debug.SetPanicOnFault(false)
			return
		}
	}
}

// fixupRestorePending reports whether fixupRestore has anything to do for
// any goroutine.
func fixupRestorePending() bool { return atomic.LoadInt32(&fixupPending) != 0 }

// panicOnFaultOffset returns the offset in the runtime's g of its
// panic-on-fault flag, or 0 if it cannot tell: the one byte of the calling
// goroutine's g that debug.SetPanicOnFault turns from 0 to 1 and back, each
// of three times.
func panicOnFaultOffset() uintptr {
	const span = 256 // the flag is at 181 in Go 1.26; g is larger than this
	g := fixupG()
	if g == nil {
		return 0
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(false))
	found := -1
	for range 3 {
		before := *(*[span]byte)(g)
		debug.SetPanicOnFault(true)
		set := *(*[span]byte)(g)
		debug.SetPanicOnFault(false)
		after := *(*[span]byte)(g)
		at, n := -1, 0
		for i := 16; i < span; i++ { // past g.stack, which the handler reads
			if before[i] == 0 && set[i] == 1 && after[i] == 0 {
				at, n = i, n+1
			}
		}
		if n != 1 || (found >= 0 && at != found) {
			return 0
		}
		found = at
	}
	return uintptr(found)
}

// funcEnd returns the end of the code of the function that starts at pc, or
// 0 if pc is not a function's start.
func funcEnd(pc uintptr) uintptr {
	f := runtime.FuncForPC(pc)
	if f == nil || f.Entry() != pc {
		return 0
	}
	end := pc + 1
	for g := runtime.FuncForPC(end); g != nil && g.Entry() == pc; g = runtime.FuncForPC(end) {
		end++
	}
	return end
}

// accessPCs returns the return address of Access's call of fn and where
// Access's code starts and ends, or zeros if it cannot tell: it calls
// Access, on its fast path, on a region made up over a byte of its own (no
// mapping), with an fn that asks runtime.Callers for the PC that fn returns
// to. The caller installs the handler, once, and no Access runs on the fast
// path before it (fixupAccess is false).
func accessPCs() (ret, start, end uintptr) {
	var one [1]byte
	r := &Region{mapped: true, length: 1, addr: unsafe.Pointer(&one[0])}
	var pcs [1]uintptr
	n := 0
	fixupAccess = true
	err := r.Access(0, 1, func([]byte) error {
		n = runtime.Callers(2, pcs[:]) // fn's caller: Access
		return nil
	})
	fixupAccess = false
	f := runtime.FuncForPC(pcs[0])
	if err != nil || n != 1 || f == nil || !strings.HasSuffix(f.Name(), "/mmap.(*Region).Access") {
		return 0, 0, 0
	}
	if end = funcEnd(f.Entry()); end <= pcs[0] {
		return 0, 0, 0
	}
	return pcs[0], f.Entry(), end
}

// fixupAVX2 tells copyFixed and fixupResume to use AVX2.
var fixupAVX2 = cpu.X86.HasAVX2

var (
	fixupOnce      sync.Once
	fixupInstalled bool

	// fixupRecheck is set in programs that use cgo (the runtime's handler
	// is cgoSigtramp there). In them, and only in them, the runtime may
	// put its own handler back in place of fixupHandler: when a SIGSEGV or
	// SIGBUS reaches a thread of the C code and a handler installed before
	// the runtime's takes it (runtime.raisebadsignal). fastPathsAllowed
	// then installs fixupHandler again.
	fixupRecheck bool
)

// fastPathsAllowed reports whether ReadAt and WriteAt may make their fast
// attempts: whether fixupHandler is installed (installing it the first
// time). Region.endLock calls it at the end of every change to a mapping.
func fastPathsAllowed() bool {
	fixupOnce.Do(func() { fixupInstalled = installFixups() })
	if fixupInstalled && fixupRecheck {
		reinstallFixups()
	}
	return fixupInstalled
}

// The kernel's struct sigaction on linux/amd64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saSiginfo = 0x4
	saOnstack = 0x8000000
)

// installFixups installs fixupHandler for SIGBUS and SIGSEGV and reports
// whether it did.
func installFixups() bool {
	if os.Getenv("MMAPKIT_FAULT_HANDLER") == "off" {
		return false
	}
	handler, start, resume := fixupPCs()
	end := funcEnd(start)
	if end == 0 {
		return false
	}
	fixupCopyStart, fixupCopyEnd, fixupResumePC = start, end, resume
	if fixupAccessRet, fixupAccessStart, fixupAccessEnd = accessPCs(); fixupAccessRet != 0 {
		fixupPanicOnFault = panicOnFaultOffset()
	}

	sigs := [2]unix.Signal{unix.SIGBUS, unix.SIGSEGV}
	var old [2]kernelSigaction
	for i, sig := range sigs {
		if sigaction(sig, nil, &old[i]) != nil {
			return false
		}
		// Forward only to a handler that takes siginfo and a context,
		// on the signal stack, as the Go runtime's does (never to the
		// default action or to an ignore).
		if old[i].handler <= 1 || old[i].flags&saSiginfo == 0 || old[i].flags&saOnstack == 0 {
			return false
		}
	}
	fixupPrevBus, fixupPrevSegv = old[0].handler, old[1].handler
	if f := runtime.FuncForPC(fixupPrevSegv); f != nil && f.Name() == "runtime.cgoSigtramp" {
		fixupRecheck = true
	}
	for i, sig := range sigs {
		h := old[i]
		h.handler = handler
		if sigaction(sig, &h, nil) != nil {
			for j := range i {
				sigaction(sigs[j], &old[j], nil) // as it was
			}
			return false
		}
	}
	fixupAccess = fixupPanicOnFault != 0
	return true
}

// reinstallFixups installs fixupHandler again for the signals whose handler
// is the one it replaced (the runtime put it back), leaving any other (one
// installed after it, which passes signals on to it) in place. Until then,
// from the moment the runtime put its handler back, a fault in copyFixed is
// not caught: it crashes the program, as a fault in a plain copy does.
func reinstallFixups() {
	handler, _, _ := fixupPCs()
	for _, s := range [2]struct {
		sig  unix.Signal
		prev uintptr
	}{{unix.SIGBUS, fixupPrevBus}, {unix.SIGSEGV, fixupPrevSegv}} {
		var cur kernelSigaction
		if sigaction(s.sig, nil, &cur) != nil || cur.handler != s.prev {
			continue
		}
		cur.handler = handler
		sigaction(s.sig, &cur, nil) // as it was, if it fails
	}
}

func sigaction(sig unix.Signal, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
