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
	"unsafe"
)

// ReadAt copies len(p) bytes from offset off of the region into p, as
// io.ReaderAt requires: it returns io.EOF when fewer than len(p) bytes are
// left, and an error matching fs.ErrInvalid for a negative offset. It runs
// in parallel with other ReadAt and WriteAt calls.
//
// ReadAt never crashes the program: a memory fault while copying (the file
// was truncated underneath the mapping) returns a *FaultError matching
// ErrFault, with the bytes before the faulting page copied and counted in n.
// It returns ErrNotMapped if the region is not mapped, and a *FaultError
// wrapping fs.ErrPermission if its protection does not allow reading.
func (r *Region) ReadAt(p []byte, off int64) (n int, err error) {
	// The copy runs in this frame, with panic-on-fault set and n at -1;
	// a fault panics out of it into the deferred function, which finds the
	// bytes that can be copied. One frame and one deferred call keep the
	// cost small next to a copy of a few bytes.
	counted := r.mu.enter()
	var src []byte
	old := false
	defer func() {
		if n == copying {
			debug.SetPanicOnFault(old)
			e := recover()
			var ok bool
			if n, err, ok = r.recoverFault(e, "read", off, p, src, src); !ok {
				r.mu.exit(counted)
				panic(e)
			}
		}
		r.mu.exit(counted)
	}()
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
		return 0, &FaultError{Op: "read", Offset: off, Err: fs.ErrPermission}
	}
	src = unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), r.length-int(off))
	old = debug.SetPanicOnFault(true)
	n = copying
	n = copy(p, src)
	debug.SetPanicOnFault(old)
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
// the bytes in an unspecified mix.
//
// WriteAt never crashes the program: a memory fault while copying (the file
// was truncated underneath the mapping) returns a *FaultError matching
// ErrFault, with the bytes before the faulting page copied and counted in n.
// It returns ErrNotMapped if the region is not mapped, and a *FaultError
// wrapping fs.ErrPermission if its protection does not allow writing.
func (r *Region) WriteAt(p []byte, off int64) (n int, err error) {
	// As in ReadAt, the copy runs in this frame.
	counted := r.mu.enter()
	var dst []byte
	old := false
	defer func() {
		if n == copying {
			debug.SetPanicOnFault(old)
			e := recover()
			var ok bool
			if n, err, ok = r.recoverFault(e, "write", off, dst, p, dst); !ok {
				r.mu.exit(counted)
				panic(e)
			}
		}
		r.mu.exit(counted)
	}()
	if !r.mapped {
		return 0, r.notMappedErr()
	}
	if off < 0 {
		return 0, errNegativeOffset
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.cur&Write == 0 {
		return 0, &FaultError{Op: "write", Offset: off, Err: fs.ErrPermission}
	}
	if off >= int64(r.length) {
		return 0, fmt.Errorf("mmap: write at offset %d past the end of a %d-byte region: %w", off, r.length, io.ErrShortWrite)
	}
	dst = unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), r.length-int(off))
	old = debug.SetPanicOnFault(true)
	n = copying
	n = copy(dst, p)
	debug.SetPanicOnFault(old)
	if n < len(p) {
		return n, fmt.Errorf("mmap: write of %d bytes at offset %d past the end of a %d-byte region: %w", len(p), off, r.length, io.ErrShortWrite)
	}
	return n, nil
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
// in the region of the byte that faulted. The goroutine's panic-on-fault
// setting (debug.SetPanicOnFault) is the same when Access returns as when it
// was called. Any other panic in fn, including a fault outside the region,
// propagates to the caller of Access, with the region released.
//
// Access returns an error matching fs.ErrInvalid if off or n is negative or
// the range does not lie inside the region, and ErrNotMapped if the region
// is not mapped.
//
// b is valid only while fn runs: fn must not keep it, nor any slice or
// pointer into it, after it returns. fn must not call methods of the same
// region: those that change the mapping would wait for fn forever, and the
// others may wait for one of those that waits for fn. Any number of
// goroutines may be in Access (and ReadAt and WriteAt) on one region at once;
// what fn does with b is synchronized with the others by the caller, as with
// Bytes.
func (r *Region) Access(off, n int, fn func(b []byte) error) (err error) {
	if off < 0 || n < 0 {
		return invalidf("access of %d bytes at offset %d", n, off)
	}
	counted := r.mu.enter()
	var (
		start   uintptr
		old     bool
		running bool // fn was called and has not returned
	)
	defer func() {
		if running {
			debug.SetPanicOnFault(old)
			e := recover()
			if e == nil { // runtime.Goexit in fn
				r.mu.exit(counted)
				return
			}
			if f, ok := e.(faultAddr); ok && f.Addr()-start < r.mappedLen() {
				err = r.faultError("access", int64(f.Addr()-start), f.Addr(), nil)
			} else {
				r.mu.exit(counted)
				panic(e)
			}
		}
		r.mu.exit(counted)
	}()
	if !r.mapped {
		return r.notMappedErr()
	}
	if off > r.length || n > r.length-off {
		return invalidf("access of %d bytes at offset %d outside a %d-byte region", n, off, r.length)
	}
	var b []byte
	if n == 0 {
		b = []byte{}
	} else {
		b = unsafe.Slice((*byte)(unsafe.Add(r.addr, off)), n)
	}
	start = uintptr(r.addr)
	old = debug.SetPanicOnFault(true)
	running = true
	err = fn(b)
	running = false
	debug.SetPanicOnFault(old)
	return err
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

// copying is the value of ReadAt's and WriteAt's n while they copy.
const copying = -1

// recoverFault turns e, the value recovered from a fault while copying src
// to dst at offset off (mem is the mapped one of the two), into the results
// of ReadAt or WriteAt: the bytes before the faulting page copied again
// and counted, and a *FaultError. It returns false if e is not a fault.
func (r *Region) recoverFault(e any, op string, off int64, dst, src, mem []byte) (int, error, bool) {
	var fault uintptr
	if f, ok := e.(faultAddr); ok {
		fault = f.Addr()
	} else if _, ok := e.(runtime.Error); !ok {
		return 0, nil, false
	} // else a fault without an address (qemu-user gives none for SIGBUS): copy raises no other runtime error
	if fault == 0 {
		fault = ^uintptr(0) // unknown: retryCopy finds the page
	}
	n, fault := retryCopy(dst, src, mem, fault)
	return n, r.faultError(op, off+int64(n), fault, nil), true
}

// faultAddr is the value of a panic caused by a memory fault while
// debug.SetPanicOnFault is on.
type faultAddr interface{ Addr() uintptr }

// tryCopy copies src to dst, turning a memory fault into a return value.
// It restores the goroutine's panic-on-fault setting.
func tryCopy(dst, src []byte) (n int, fault uintptr) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if n < 0 {
			e := recover()
			if f, ok := e.(faultAddr); ok {
				fault = f.Addr()
			} else if _, ok := e.(runtime.Error); !ok {
				panic(e)
			} // else a fault without an address (qemu-user gives none for SIGBUS): copy raises no other runtime error
			n = 0
			if fault == 0 {
				fault = ^uintptr(0) // an address is needed to tell a fault from success
			}
		}
	}()
	n = -1
	n = copy(dst, src)
	return n, 0
}

// retryCopy is called after copying src to dst faulted at address fault,
// where mem (one of the two) is mapped memory. The copy may have written
// bytes in any order before it faulted, so the part before the faulting page
// is copied again, until a copy succeeds. It returns the number of bytes
// copied and the address of the last fault.
func retryCopy(dst, src, mem []byte, fault uintptr) (int, uintptr) {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	for {
		if fault < start || fault-start >= uintptr(len(mem)) {
			// The fault is not known to be in mem: find the page by copying
			// one page at a time.
			return copyByPage(dst, src, start)
		}
		good := int((fault &^ uintptr(pageSize-1)) - min(start, fault&^uintptr(pageSize-1)))
		good = min(good, len(dst), len(src))
		if good == 0 {
			return 0, fault
		}
		if _, again := tryCopy(dst[:good], src[:good]); again != 0 {
			fault = again
			continue
		}
		return good, fault
	}
}

// copyByPage copies src to dst a page of mapped memory (which starts at
// start) at a time, and returns the number of bytes copied before the page
// that faults, with the address of that page.
func copyByPage(dst, src []byte, start uintptr) (int, uintptr) {
	total := min(len(dst), len(src))
	for n := 0; n < total; {
		at := start + uintptr(n)
		end := min(total, n+int((at|uintptr(pageSize-1))+1-at))
		if _, fault := tryCopy(dst[n:end], src[n:end]); fault != 0 {
			return n, at &^ uintptr(pageSize-1)
		}
		n = end
	}
	return total, 0
}
