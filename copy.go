// This file holds the copies between the caller's memory and mapped memory:
// ReadAt and WriteAt, and how a memory fault during a copy is caught and
// turned into an error.

package mmap

import (
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"
)

// ReadAt copies len(p) bytes from offset off of the region into p, as
// io.ReaderAt requires: it returns io.EOF when fewer than len(p) bytes are
// left, and an error matching fs.ErrInvalid for a negative offset. It runs
// in parallel with other ReadAt and WriteAt calls.
//
// ReadAt never crashes the program and never hangs. A memory fault in the
// region's memory while copying (the file was truncated underneath the
// mapping) returns a *FaultError matching ErrFault, with the bytes before
// the faulting page copied and counted in n. A fault in p (memory the
// caller cannot write: read-only, unmapped, or a truncated file's mapping)
// returns a *FaultError matching both ErrFault and syscall.EFAULT
// (where the system has it), with the
// bytes before the fault copied and counted in n. It returns ErrNotMapped if
// the region is not mapped, and a *FaultError wrapping fs.ErrPermission if
// its protection does not allow reading.
//
// A ReadAt that runs while another goroutine unmaps the region either
// returns the region's bytes as they were mapped or ErrNotMapped; it never
// returns bytes of whatever is mapped at that address next. See lock.go for
// how the two do not wait for each other.
func (r *Region) ReadAt(p []byte, off int64) (n int, err error) {
	// ReadAt is small enough to be inlined, so that a caller's call goes
	// straight to readAt's one frame, as a call of a plain ReadAt on
	// memory would. The loop runs once, or twice when the optimistic read
	// is not kept: readAt ends with n < 0 only on its optimistic attempt.
	for n = tryOptimistic; n < 0; {
		n, err = r.readAt(p, off, n)
	}
	return n, err
}

// The values of ReadAt's and WriteAt's n that tell readAt and writeAt which
// attempt to make, and that their first attempt returns when it does not
// finish the call. tryCleared is also their n while the fast attempt copies,
// so that it is what they return if the copy faults: then readAt clears p
// and reads as after tryCounted, and writeAt finds the fault under the
// count the fast attempt still holds.
const (
	tryOptimistic = -3 // the first, fast attempt (lock.go)
	tryCounted    = -2 // the attempt on the counted path, which handles every case
	tryCleared    = -1 // the fast attempt's copy faulted
)

// readAt is one attempt of ReadAt, chosen by how (above). The optimistic
// read of lock.go writes no shared memory: the fields are read once each
// without the lock and may be torn by a concurrent Lock, and the check of
// seq after the copy discards such a read. Everything but a successful copy
// that seq confirms goes on to the counted path: readAt returns tryCounted
// at once where it cannot read optimistically, or after it cleared what an
// unconfirmed copy left in p, and tryCleared if the copy faulted, in p, in a
// page the region lost, or in memory it no longer owns.
//
// The copy is copyFixed's, which survives a fault without panic-on-fault and
// a deferred recover (fixup_linux_amd64.go); the optimistic read runs only
// where it does.
func (r *Region) readAt(p []byte, off int64, how int) (n int, err error) {
	if r == nil {
		return 0, errNilRegion
	}
	if how != tryOptimistic {
		return r.readAtAgain(p, off, how)
	}
	seq, ok := r.mu.readBegin()
	if !ok {
		return tryCounted, nil
	}
	mem := r.readable
	if uint64(off) >= uint64(len(mem)) {
		return tryCounted, nil // and off < 0, and the errors
	}
	src := mem[int(off):]
	if overlap(p, src) {
		return tryCounted, nil // the counted path copies them apart
	}
	if testHookRead != nil {
		testHookRead()
	}
	n = min(len(p), len(src))
	if copyFixed(unsafe.Pointer(unsafe.SliceData(p)), unsafe.Pointer(unsafe.SliceData(src)), uintptr(n)) {
		return tryCleared, nil
	}
	if !r.mu.readValid(seq) {
		// A Lock ran meanwhile: the bytes may be another mapping's.
		clearByPage(p[:n])
		if testHookDiscard != nil {
			testHookDiscard()
		}
		return tryCounted, nil
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readAtAgain reads on the counted path when the optimistic read did not
// finish (how is tryCounted or tryCleared, as readAt returned it). After a
// fault the copy may have written any part of p, maybe with the bytes of
// another mapping placed at the region's address meanwhile, so p is cleared
// first.
func (r *Region) readAtAgain(p []byte, off int64, how int) (int, error) {
	if how == tryCleared {
		clearByPage(p)
		if testHookDiscard != nil {
			testHookDiscard()
		}
	}
	return r.readAtCounted(p, off)
}

// testHookRead, when set by a test, is called by an optimistic ReadAt
// between its reading of the region's fields and its copy; testHookDiscard
// when ReadAt throws an optimistic read away.
var testHookRead, testHookDiscard func()

// readAtCounted is ReadAt with the call counted (lock.go): Unmap and the
// other methods that change the mapping wait for it.
func (r *Region) readAtCounted(p []byte, off int64) (n int, err error) {
	c := r.mu.enter()
	defer r.mu.exit(c)
	if !r.mapped {
		return 0, r.notMappedErr()
	}
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= int64(r.length) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	if r.cur&(Read|Write) == 0 {
		return 0, r.faultError("read", off, 0, fs.ErrPermission)
	}
	src := unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), r.length-int(off))
	n, fault := tryCopy(p, src)
	if fault != 0 {
		if n, err = r.copyFault("read", off, p, src, false); err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt copies p into the region at offset off, as io.WriterAt requires.
// A region never grows: a write past the end copies what fits and returns an
// error matching io.ErrShortWrite. A negative offset gives an error matching
// fs.ErrInvalid. WriteAt runs in parallel with other ReadAt and WriteAt
// calls; writes to overlapping ranges from several goroutines at once leave
// the bytes in an unspecified mix. Unmap waits for WriteAt calls in flight.
//
// WriteAt never crashes the program and never hangs. A memory fault in the
// region's memory while copying (the file was truncated underneath the
// mapping) returns a *FaultError matching ErrFault, with the bytes before
// the faulting page copied and counted in n. A fault in p (memory the
// caller cannot read: unmapped, or a truncated file's mapping) returns a
// *FaultError matching both ErrFault and syscall.EFAULT
// (where the system has it), with the bytes
// before the fault copied and counted in n. It returns ErrNotMapped if the
// region is not mapped, and a *FaultError wrapping fs.ErrPermission if its
// protection does not allow writing.
func (r *Region) WriteAt(p []byte, off int64) (n int, err error) {
	// As ReadAt: inlined, so that a write costs one call, writeAt's. c
	// carries a count from the fast attempt to the next one when its copy
	// faulted.
	var c *readerCount
	for n = tryOptimistic; n < 0; {
		n, c, err = r.writeAt(p, off, n, c)
	}
	return
}

// writeAt is one attempt of WriteAt, chosen by how: the fast one
// (tryOptimistic), or what writeAtAgain does after it. Every write is
// counted: it cannot be taken back, so it must not run beside a Lock
// (lock.go). The fast attempt leaves the write to the counted path
// (tryCounted) where it cannot go ahead, and copies with copyFixed where
// the package's fault handler is (fixup_linux_amd64.go), else with
// panic-on-fault set in this frame. If the copy faults it returns tryCleared
// and, in held, the count it still holds, so that the fault is found under
// that count: no Lock runs between the copy and the answer.
func (r *Region) writeAt(p []byte, off int64, how int, c *readerCount) (n int, held *readerCount, err error) {
	if r == nil {
		return 0, nil, errNilRegion
	}
	if how != tryOptimistic {
		n, err = r.writeAtAgain(p, off, how, c)
		return n, nil, err
	}
	// enter and exit spelled out (lock.go): tryEnter and tryExit inline.
	c = r.mu.tryEnter()
	if c == nil {
		return tryCounted, nil, nil // the first call, or a Lock is held
	}
	mem := r.writable
	if uint64(off) >= uint64(len(mem)) {
		r.mu.exit(c)
		return tryCounted, nil, nil // and off < 0, and the errors
	}
	dst := mem[int(off):]
	if overlap(dst, p) {
		r.mu.exit(c)
		return tryCounted, nil, nil // copyFault copies them apart
	}
	held = c
	if haveFixups {
		// Compiled only with the fault handler of fixup_linux_amd64.go:
		// then this frame has no deferred function.
		n = min(len(dst), len(p))
		if copyFixed(unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(p)), uintptr(n)) {
			return tryCleared, held, nil
		}
	} else {
		old := debug.SetPanicOnFault(true)
		// The deferred function captures n, old and held only: each
		// capture costs every call a store.
		defer func() {
			if n == tryCleared {
				debug.SetPanicOnFault(old)
				if e := recover(); !isFault(e) {
					held.release()
					panic(e)
				}
			}
		}()
		n = tryCleared // what writeAt returns, with held, if the copy faults
		n = copy(dst, p)
		debug.SetPanicOnFault(old)
	}
	if !r.mu.tryExit(c) {
		r.mu.exitSlow(c)
	}
	if n < len(p) {
		return n, nil, shortWrite(len(p), off, len(mem))
	}
	return n, nil, nil
}

// writeAtAgain is WriteAt after its fast attempt returned how: on the
// counted path (tryCounted), or, after a fault (tryCleared), the answer
// found with copyFault while the call is still counted in c.
func (r *Region) writeAtAgain(p []byte, off int64, how int, c *readerCount) (int, error) {
	if how == tryCounted {
		return r.writeAtCounted(p, off)
	}
	n, err := r.writeAtFault(p, off, r.writable[int(off):])
	r.mu.exit(c)
	return n, err
}

// writeAtFault is WriteAt's answer, with the call counted, when copying p
// to dst at offset off of the region faulted.
func (r *Region) writeAtFault(p []byte, off int64, dst []byte) (int, error) {
	n, err := r.copyFault("write", off, dst, p, true)
	if err == nil && n < len(p) {
		err = shortWrite(len(p), off, r.length)
	}
	return n, err
}

// writeAtCounted is WriteAt's attempt that handles every case: errors,
// overlapping buffers, faults.
func (r *Region) writeAtCounted(p []byte, off int64) (int, error) {
	c := r.mu.enter()
	if !r.mapped {
		err := r.notMappedErr() // before exit: Close may set closed after it
		r.mu.exit(c)
		return 0, err
	}
	if off < 0 || len(p) == 0 || r.cur&Write == 0 || off >= int64(r.length) {
		err := r.writeAtRefused(p, off)
		r.mu.exit(c)
		return 0, err
	}
	dst := unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), r.length-int(off))
	n, fault := tryCopy(dst, p)
	var err error
	if fault != 0 {
		n, err = r.writeAtFault(p, off, dst)
	} else if n < len(p) {
		err = shortWrite(len(p), off, r.length)
	}
	r.mu.exit(c)
	return n, err
}

// writeAtRefused is WriteAt's error (or nil) when it copies nothing: a
// negative offset, nothing to write, no Write protection, or an offset past
// the end. r.mu is held (counted).
func (r *Region) writeAtRefused(p []byte, off int64) error {
	switch {
	case off < 0:
		return errNegativeOffset
	case len(p) == 0:
		return nil
	case r.cur&Write == 0:
		return r.faultError("write", off, 0, fs.ErrPermission)
	}
	return fmt.Errorf("mmap: write at offset %d past the end of a %d-byte region: %w", off, r.length, io.ErrShortWrite)
}

// shortWrite is WriteAt's error for n bytes at off that do not fit in a
// region of length bytes.
func shortWrite(n int, off int64, length int) error {
	return fmt.Errorf("mmap: write of %d bytes at offset %d past the end of a %d-byte region: %w", n, off, length, io.ErrShortWrite)
}

// Access calls fn with b set to the n bytes of the region at offset off,
// without copying them: the zero-copy counterpart of ReadAt and WriteAt, as
// safe as they are. The region stays mapped while fn runs: Unmap, Resize,
// Grow, Protect and Map wait until fn returns. Access returns what fn
// returns, as is.
//
// A memory fault inside fn on the region's memory (the file was truncated
// underneath, a write to a page without Write protection) ends fn and makes
// Access return a *FaultError matching ErrFault whose Offset is the offset
// in the region of the byte that faulted. fn may run with the goroutine's
// panic-on-fault setting (debug.SetPanicOnFault) turned on: Access sets it
// around fn except on linux/amd64, where the package's signal handler does
// the same work at a fault (see Signal handlers in the package
// documentation). When Access returns, the setting is what it was when
// Access was called; fn should not change it, as Access may undo the change.
// Any other panic in fn, including a fault outside the region, propagates to
// the caller of Access, with the region released. Where the system does not
// give a fault its address (qemu-user) and the page is readable again by the
// time Access looks for it (the file grew back), the Offset is that of b's
// start; there a memory fault of fn's own, such as a nil dereference, over a
// file region is reported the same way.
//
// Access returns an error matching fs.ErrInvalid if fn is nil, if off or n
// is negative or the range does not lie inside the region, and ErrNotMapped
// if the region is not mapped.
//
// b is valid only while fn runs: fn must not keep it, nor any slice or
// pointer into it, after it returns. fn must not call methods of the same
// region: those that change the mapping would wait for fn forever, and the
// others may wait for one of those that waits for fn. Any number of
// goroutines may be in Access (and ReadAt and WriteAt) on one region at once;
// what fn does with b is synchronized with the others by the caller, as with
// Bytes.
func (r *Region) Access(off, n int, fn func(b []byte) error) (err error) {
	if r == nil {
		return errNilRegion
	}
	if off < 0 || n < 0 {
		return invalidf("access of %d bytes at offset %d", n, off)
	}
	if fn == nil {
		return invalidf("access with a nil function")
	}
	// enter and exit spelled out (lock.go): tryEnter and tryExit inline.
	c := r.mu.tryEnter()
	if c == nil {
		c = r.mu.enterSlow()
	}
	if !r.mapped {
		err := r.notMappedErr()
		r.mu.exit(c)
		return err
	}
	if off > r.length || n > r.length-off {
		err := invalidf("access of %d bytes at offset %d outside a %d-byte region", n, off, r.length)
		r.mu.exit(c)
		return err
	}
	b := []byte{}
	if n > 0 {
		b = unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), n)
	}
	if !haveFixups || !fixupAccess {
		return r.accessPanicOnFault(off, n, b, fn, c)
	}
	// The package's signal handler makes a fault inside fn a panic, as
	// panic-on-fault would, setting the goroutine's flag, which
	// fixupRestore clears (fixup_linux_amd64.go).
	running := true // fn was called and has not returned
	defer func() {
		if running {
			fixupRestore()
			err = r.accessPanicked(recover(), off, n, c)
		}
	}()
	err = fn(b)
	running = false
	if fixupRestorePending() {
		fixupRestore() // fn recovered from a fault of its own
	}
	if !r.mu.tryExit(c) {
		r.mu.exitSlow(c)
	}
	return err
}

// accessPanicOnFault is the rest of Access, counted in c, where the
// package's signal handler does not catch the faults inside fn: it calls fn
// with panic-on-fault set.
func (r *Region) accessPanicOnFault(off, n int, b []byte, fn func(b []byte) error, c *readerCount) (err error) {
	old := debug.SetPanicOnFault(true)
	running := true // fn was called and has not returned
	defer func() {
		if running {
			debug.SetPanicOnFault(old)
			err = r.accessPanicked(recover(), off, n, c)
		}
	}()
	err = fn(b)
	running = false
	debug.SetPanicOnFault(old)
	if !r.mu.tryExit(c) {
		r.mu.exitSlow(c)
	}
	return err
}

// accessPanicked ends an Access whose fn did not return, with the call still
// counted in c: e is what recover returned in Access's deferred function,
// nil after runtime.Goexit. It releases the region and returns Access's
// error for a memory fault in the region's memory or in the n bytes at off
// given to fn, and panics again with anything else.
func (r *Region) accessPanicked(e any, off, n int, c *readerCount) error {
	defer r.mu.exit(c)
	if e == nil {
		return nil // runtime.Goexit: Access's caller never sees a result
	}
	start := uintptr(r.addr)
	if f, ok := e.(faultAddr); ok && f.Addr()-start < r.mappedLen() {
		return r.faultError("access", int64(f.Addr()-start), f.Addr(), nil)
	}
	if n > 0 {
		if at, ok := faultInB(e, unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), n)); ok {
			return r.faultError("access", int64(off+at), 0, nil)
		}
		if r.src.hasFile() && isMemoryFault(e) && !sysFaultsHaveAddresses() {
			// b reads whole now, but the fault may have been on a page of
			// it that came back meanwhile (its file grew again): without
			// the fault's address the two cannot be told apart, and a fault
			// of the region's must not crash the program.
			return r.faultError("access", int64(off), 0, nil)
		}
	}
	panic(e)
}

// faultInB is Access's answer to a panic e of fn whose address does not
// place it in the region: where the system gives a fault no address (qemu-user
// emulating SIGBUS, which Go then reports as a nil dereference) or an
// address of its own (qemu-user with guest pages larger than the host's), it
// reads b a 4 KiB piece at a time and returns the offset in b of the first page
// that faults, if one does. A real system gives the faulting address, and
// there a fault outside the region, or a nil dereference with b intact,
// propagates as fn's panic (see accessPanicked for the systems that do
// not). Only a memory fault is looked for: any other runtime error of fn (an
// index out of range, a division by zero) propagates without b being read.
// One pass over b, a byte read per 4 KiB.
func faultInB(e any, b []byte) (int, bool) {
	if !isMemoryFault(e) || len(b) == 0 {
		return 0, false
	}
	var one [1]byte
	// 4 KiB steps, not pageSize ones: qemu-user with larger guest pages maps
	// the end of a file by 4 KiB host pages, and no system has smaller pages.
	const mask = 4096 - 1
	for at := 0; at < len(b); {
		if _, fault := tryCopy(one[:], b[at:at+1]); fault != 0 {
			return at, true
		}
		p := uintptr(unsafe.Pointer(&b[at]))
		at += int((p | mask) + 1 - p)
	}
	return 0, false
}

// faultError returns the error for a memory fault at address addr (0 if
// unknown), offset off of the region, during op; cause is its cause, or nil
// for a hardware fault, which the file's size at this moment may tell to be
// an access past the end of the file. It is the one place where a fault is
// classified.
func (r *Region) faultError(op string, off int64, addr uintptr, cause error) error {
	if cause == nil && r.pastEOF(off) {
		cause = errFaultPastEOF
	}
	return &FaultError{Op: op, Offset: off, Addr: addr, Err: cause}
}

// isFault reports whether e, a value recovered while copying with
// panic-on-fault set, is a memory fault. A fault panics with a runtime.Error
// that has an Addr method, or, where the system gives no address (qemu-user
// emulating SIGBUS), with a plain runtime.Error; copy raises no other.
func isFault(e any) bool {
	_, ok := e.(runtime.Error)
	return ok
}

// isMemoryFault reports whether e, a value recovered from a panic, is the
// runtime's report of a memory access that faulted (a SIGSEGV or SIGBUS
// turned into a panic), as opposed to any other runtime error. The runtime
// gives both the same type, so its message tells them apart.
func isMemoryFault(e any) bool {
	re, ok := e.(runtime.Error)
	return ok && strings.Contains(re.Error(), "invalid memory address")
}

// faultOf returns the address of the memory fault that e, a value recovered
// with panic-on-fault set, reports, or ^uintptr(0) for a fault without an
// address (qemu-user's SIGBUS). It panics again with e if e is not a fault.
func faultOf(e any) uintptr {
	if !isFault(e) {
		panic(e)
	}
	if f, ok := e.(faultAddr); ok && f.Addr() != 0 {
		return f.Addr()
	}
	return ^uintptr(0)
}

// copyFault is called, with the call counted, when copying src to dst
// faulted at offset off of the region (dst is the region's memory if
// toRegion, src otherwise). The copy may have written bytes in any order
// before it faulted, so the bytes before the fault are copied again, a page
// at a time; then copyFault returns how many were copied and the error:
// a fault in the region's memory, or one in the caller's buffer (EFAULT).
func (r *Region) copyFault(op string, off int64, dst, src []byte, toRegion bool) (int, error) {
	// Direct calls, not a func value: dst and src (the caller's buffer)
	// then do not escape, and a caller's buffer on its stack stays there.
	var (
		n     int
		fault uintptr
		inDst bool
	)
	if overlap(dst, src) {
		n, fault, inDst = copyOverlapping(dst, src)
	} else {
		n, fault, inDst = copyByPage(dst, src)
	}
	if fault == 0 {
		// Every page copied this time: the fault is gone (another process
		// extended the file back). The bytes are all there.
		return n, nil
	}
	if inDst != toRegion {
		return n, r.faultError(op, off+int64(n), fault, errBadAddress)
	}
	return n, r.faultError(op, off+int64(n), fault, nil)
}

// clearByPage sets b to zeros, a page at a time, skipping the pages that
// cannot be written (a fault while clearing one ends the clear of that page
// only): at most len(b)/pageSize+2 pieces, each cleared once. It returns the
// offset in b of the first piece that faulted and the fault's address (see
// faultSafe), or -1 and 0 if none did.
func clearByPage(b []byte) (int, uintptr) {
	first, addr := -1, uintptr(0)
	mask := uintptr(pageSize - 1)
	for n := 0; n < len(b); {
		at := uintptr(unsafe.Pointer(&b[n]))
		end := min(len(b), n+int((at|mask)+1-at))
		if fault := faultSafe(func() { clear(b[n:end]) }); fault != 0 && first < 0 {
			first, addr = n, fault
		}
		n = end
	}
	return first, addr
}

// knownAddr returns the address of a fault reported by faultSafe or
// tryCopy, or 0 where the fault had no address.
func knownAddr(fault uintptr) uintptr {
	if fault == ^uintptr(0) {
		return 0
	}
	return fault
}

// faultSafe runs fn, which touches mapped memory, with the goroutine's
// panic-on-fault setting on, and returns the address of the memory fault
// that ended it (^uintptr(0) for a fault without an address, as qemu-user
// reports SIGBUS), or 0 if fn returned. It restores the setting. fn must
// raise no runtime error other than a fault; other panics propagate.
func faultSafe(fn func()) (fault uintptr) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if fault != 0 {
			fault = faultOf(recover())
		}
	}()
	fault = ^uintptr(0)
	fn()
	return 0
}

// faultAddr is the value of a panic caused by a memory fault while
// debug.SetPanicOnFault is on.
type faultAddr interface{ Addr() uintptr }

// tryCopy copies src to dst, turning a memory fault into a return value:
// the faulting address, or ^uintptr(0) if the system did not give one, and 0
// if the copy did not fault. dst and src that overlap are not copied and
// count as a fault without an address, so that copyFault copies them with
// copyOverlapping. It restores the goroutine's panic-on-fault setting.
func tryCopy(dst, src []byte) (n int, fault uintptr) {
	if overlap(dst, src) {
		return 0, ^uintptr(0) // for copyOverlapping, through the fault's path
	}
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if n < 0 {
			n, fault = 0, faultOf(recover())
		}
	}()
	n = -1
	n = copy(dst, src)
	return n, 0
}

// copyByPage copies src to dst in pieces that each lie inside one page of
// dst and one page of src, from the start, and stops at the first piece that
// faults. It returns the number of bytes copied, the address of the page that
// faulted (0 if none did), and whether that page is dst's (else src's).
//
// It makes one pass: at most min(len(dst), len(src))/pageSize*2+2 pieces,
// each copied once. Where the fault's address does not tell the side (the
// system gave none, or dst and src share the page), a read of src's byte
// does: if src can be read, the write to dst faulted.
func copyByPage(dst, src []byte) (int, uintptr, bool) {
	total := min(len(dst), len(src))
	if total == 0 {
		return 0, 0, false
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	mask := uintptr(pageSize - 1)
	for n := 0; n < total; {
		dn, sn := d+uintptr(n), s+uintptr(n)
		end := min(total, n+int((dn|mask)+1-dn), n+int((sn|mask)+1-sn))
		_, fault := tryCopy(dst[n:end], src[n:end])
		if fault == 0 {
			n = end
			continue
		}
		dPage, sPage := dn&^mask, sn&^mask
		inDst := fault&^mask == dPage
		if inDst == (fault&^mask == sPage) { // both or neither
			var b [1]byte
			_, rf := tryCopy(b[:], src[n:n+1])
			inDst = rf == 0
		}
		if inDst {
			return n, dPage, true
		}
		return n, sPage, false
	}
	return total, 0, false
}

// overlap reports whether dst and src share memory: the caller's buffer is
// part of the region. tryCopy and the fast copies of readAt and writeAt
// leave such copies to copyOverlapping.
func overlap(dst, src []byte) bool {
	n := uintptr(min(len(dst), len(src))) // 0: false, as d < s && s < d cannot hold
	d := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	return d < s+n && s < d+n
}

// overlapPiece is how many bytes copyOverlapping moves through its buffer at
// a time.
const overlapPiece = 64 << 10

// copyOverlapping copies src to dst, which share memory, as memmove would,
// and returns what copyByPage returns: the number of bytes at the start of
// dst that now hold src's first bytes, the page that faulted, and whether it
// is dst's. The runtime's memmove is not used for such a copy: it copies
// backwards when dst starts inside src, and a fault there reaches the
// runtime with the direction flag still set on 386 and amd64, which then
// crashes the program.
//
// The bytes go through a buffer a piece at a time: from the end when dst lies
// above src, from the start otherwise, so that each piece of src is read
// before any write reaches it. A piece that faults while it is read or
// written counts up to the fault; from the start, the copy stops there; from
// the end, the pieces below it are still copied, and the lowest fault gives
// the count. At most len/overlapPiece+1 pieces, each copied once.
func copyOverlapping(dst, src []byte) (int, uintptr, bool) {
	total := min(len(dst), len(src))
	buf := make([]byte, min(total, overlapPiece))
	down := uintptr(unsafe.Pointer(unsafe.SliceData(dst))) > uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	n, fault, inDst := total, uintptr(0), false
	for i := 0; i < total; i += overlapPiece {
		start, end := i, min(total, i+overlapPiece)
		if down {
			start, end = max(0, total-i-overlapPiece), total-i
		}
		read, rf, _ := copyByPage(buf[:end-start], src[start:end])
		wrote, wf, _ := copyByPage(dst[start:start+read], buf[:read])
		if wf == 0 && rf == 0 {
			continue
		}
		n, fault, inDst = start+wrote, wf, true
		if wf == 0 {
			fault, inDst = rf, false
		}
		if !down {
			break
		}
	}
	return n, fault, inDst
}
