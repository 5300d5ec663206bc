// This file holds a Region's lock: how ReadAt, WriteAt and Access run
// beside each other and beside the methods that change the mapping.

package mmap

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// regionLock is a Region's lock. Methods that change the mapping (Map,
// Unmap, Protect, Resize...) take it with Lock, methods that only look at it
// with RLock, as with a sync.RWMutex. ReadAt, WriteAt and Access, the hot
// paths, take neither; they use one of two paths.
//
// # The counted path (WriteAt, Access, and ReadAt where it must)
//
// enter adds 1 to one of several counters, each on a cache line of its own,
// and exit takes it back from the same counter. The counter is chosen by the
// address of the calling goroutine's stack, so that goroutines running at
// once mostly use different cache lines (as they would not with RLock and
// RUnlock, whose reader count is one line written by every call); two that
// share a counter are slower, never wrong. The adds are atomic: on amd64
// two of them cost less than pinning the goroutine to its processor twice
// to use plain adds.
//
// Lock, once it holds rw, adds lockMark (a large negative number) to every
// counter, then waits until the counters add up to the marks alone. A call
// is admitted only if the value its add returns is positive, that is if no
// mark is on its counter; else it takes its add back and blocks in RLock
// until Unlock has taken the marks away, as on a sync.RWMutex, so that a
// stream of calls cannot starve a Lock. Each call thus learns everything it
// needs from the one add it makes, and loads nothing after it (a separate
// word saying that a Lock waits took a load after each add, 4 instructions
// more per call). Why no call is in flight when Lock's wait ends:
//
//   - The adds to one counter are atomic read-modify-writes of one word, so
//     they take effect in one order. A call whose add comes before the mark
//     is in every later value of its counter, so in every read of the sum,
//     until its exit takes it back. A call whose add comes after the mark
//     sees the mark and does not touch the mapping.
//   - The sum is read one counter at a time. Each counter holds its mark,
//     the admitted calls still in flight, and at most a moment's add of a
//     call about to take it back: never less than the mark and the calls in
//     flight. So a sum equal to the marks means that no counter held an
//     admitted call when it was read, and none admits one after its mark.
//   - A call that exits after the marks were added finds its add's value
//     negative and wakes the Lock through wake, as does a call that took its
//     add back (the Lock may have counted it).
//
// The counters are made by the first counted call, under RLock, so never
// while a Lock is held: a Lock marks every counter there is.
//
// # The optimistic path (ReadAt where optimisticReads is set)
//
// A read can be thrown away and done again, so ReadAt need not be counted
// at all: it writes no shared memory, as a seqlock's reader. seq is even
// while no Lock is held and odd while one is: Lock adds 1 after it has
// excluded the other Locks and before it changes anything, Unlock adds 1
// after every change. ReadAt loads seq (s1), and if it is odd takes the
// counted path; else it reads the region's field readable without the
// lock (the mapped bytes a read may copy, or nil where it must be counted:
// Region.endLock sets it from the region's state before every Unlock),
// copies with copyFixed (fixup_linux_amd64.s: ordinary loads, and a fault
// ends the copy), and loads seq again (s2). If s2 == s1 the
// copy is kept; otherwise, or if the copy faulted, the bytes are cleared
// from p (they may be another mapping's) and the read is done again on the
// counted path, which waits for the Lock: one optimistic attempt, then one
// counted one.
//
// Why a kept copy is right (linux/amd64, without the race detector):
//
//   - Every change to the fields and to the mapping (mmap, munmap, mremap,
//     mprotect) happens between Lock's and Unlock's adds to seq, by the
//     goroutine holding the Lock: no field is written outside Lock (Open of
//     an empty file sets them before the Region is shared, and leaves
//     readable nil). The adds are locked instructions: each is visible to
//     every processor before the writer's next load or store, and before it
//     enters the kernel.
//   - amd64 does not reorder a load with an earlier load (x86-TSO). ReadAt's
//     loads of the fields and of the mapped memory come after its load of s1
//     and before its load of s2, in program order and in the order they take
//     effect; the Go compiler does not move loads across the atomic loads of
//     seq, and readable (a pointer and a length) is loaded once.
//   - Suppose s2 == s1, even, and some load of ReadAt saw a change of a Lock
//     (a field's new value, or the new page tables: unmapped, other memory,
//     another protection). That change follows the Lock's odd add, which
//     was visible everywhere before it, so the later load of s2 saw the odd
//     add or a later one: s2 != s1. So every load saw the state of one
//     unlocked period: the copy came from the region's own mapping, and the
//     fields were consistent. A load through a TLB entry that the kernel had
//     not yet flushed reads the old page, which the kernel frees only after
//     the flush, so it reads the region's bytes as they were: also right.
//   - A read that is thrown away has copied into p only; p is cleared. It may
//     have read another mapping placed at the same address in the meantime.
//     That has no effect on memory or on a file, but would on a device whose
//     reads have side effects, so a region of a device always takes the
//     counted path; another region's device mapped at the address in that
//     window is the one case left, which needs a concurrent Unmap, a Map of
//     a device at the same address, and the read to fall between them.
//
// Elsewhere the argument fails: arm64 and the other weakly ordered
// architectures may perform the copy's loads after the load of s2 (Go has no
// load fence to forbid it), and the race detector does not know the
// protocol. There optimisticReads is false and ReadAt is counted. A
// consequence for callers everywhere: Unmap does not wait for an optimistic
// ReadAt, so a ReadAt that races Unmap returns the region's bytes or
// ErrNotMapped, as before, but may return after Unmap did.
//
// Access is always counted: fn may write through b, and cannot be done
// again. WriteAt is counted for the same reason.
//
// The zero regionLock is unlocked.
type regionLock struct {
	seq     atomic.Uint64 // odd while Lock is held: see above
	rw      sync.RWMutex
	readers atomic.Pointer[readerState] // made by the first enter
	marked  *readerState                // the counters Lock marked; only the holder of Lock uses it
}

// readerState is what enter and exit use, made by the first enter.
type readerState struct {
	count []readerCount // a power of two of them
	mask  uintptr       // len(count)-1
	// wake wakes a Lock waiting for the calls in flight to return: a call
	// that returns, or takes its add back, while its counter is marked
	// sends to it.
	wake  chan struct{}
	timer *time.Timer // drain's, stopped when not in use
}

// readerCount counts calls in flight, on a cache line of its own, plus
// lockMark while a Lock is held.
type readerCount struct {
	n     atomic.Int64
	state *readerState // the counters this one is one of
	_     [48]byte
}

// lockMark is what Lock adds to every counter: far below any count of calls,
// so that a counter with it is negative.
const lockMark = -1 << 40

// Lock takes rw, makes seq odd, marks the counters so that calls that start
// from then on block in RLock, and waits for the counted calls in flight to
// return.
func (l *regionLock) Lock() {
	l.rw.Lock()
	l.seq.Add(1)
	if s := l.readers.Load(); s != nil {
		s.drain()
		l.marked = s
	}
}

// Unlock takes the marks away, makes seq even and releases rw.
func (l *regionLock) Unlock() {
	if s := l.marked; s != nil {
		l.marked = nil
		for i := range s.count {
			s.count[i].n.Add(-lockMark)
		}
	}
	l.seq.Add(1)
	l.rw.Unlock()
}

// readBegin starts an optimistic read: it returns seq and whether the read
// may go ahead (no Lock held, and optimisticReads set).
func (l *regionLock) readBegin() (uint64, bool) {
	if !optimisticReads {
		return 0, false
	}
	s := l.seq.Load()
	return s, s&1 == 0
}

// readValid reports whether an optimistic read begun when seq was s saw no
// Lock.
func (l *regionLock) readValid(s uint64) bool { return l.seq.Load() == s }

func (l *regionLock) RLock()   { l.rw.RLock() }
func (l *regionLock) RUnlock() { l.rw.RUnlock() }

// enter counts a call in flight and returns the counter it used: while a
// Lock is held or waited for, it takes rw for reading instead and returns
// nil. The caller passes the result to exit.
//
// enter is tryEnter, then enterSlow if that did not count the call; exit is
// tryExit, then exitSlow if that did not finish. The hot paths (WriteAt,
// Access) spell the pairs out: tryEnter and tryExit are small enough to be
// inlined, and make no call.
func (l *regionLock) enter() *readerCount {
	if c := l.tryEnter(); c != nil {
		return c
	}
	return l.enterSlow()
}

// tryEnter counts a call in a counter chosen by the calling goroutine's
// stack and returns it, or returns nil, having counted nothing, if no
// counter exists yet or a Lock is held. A caller that gets nil goes on with
// enterSlow, directly or through enter: a Lock may have seen the count
// before it was taken back, and enterSlow wakes it.
func (l *regionLock) tryEnter() *readerCount {
	s := l.readers.Load()
	if s == nil {
		return nil
	}
	var here byte
	at := uintptr(unsafe.Pointer(&here))
	c := &s.count[(at>>13^at>>19)&s.mask]
	if c.n.Add(1) > 0 {
		return c
	}
	c.n.Add(-1)
	return nil
}

// enterSlow is enter when tryEnter did not count the call: it makes the
// counters if there are none and tries again, or it blocks in RLock until
// the Lock is released.
func (l *regionLock) enterSlow() *readerCount {
	if l.readers.Load() == nil {
		// Under RLock, so that no Lock is held: every Lock from now on
		// finds the counters and marks them.
		l.rw.RLock()
		l.makeReaders()
		l.rw.RUnlock()
		return l.enter()
	}
	// A Lock may have counted the call before tryEnter took it back.
	l.readers.Load().signal()
	l.rw.RLock()
	return nil
}

// signal wakes a Lock waiting in drain, if any.
func (s *readerState) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// exit ends a call that enter began.
func (l *regionLock) exit(c *readerCount) {
	if !l.tryExit(c) {
		l.exitSlow(c)
	}
}

// tryExit ends a call counted in c, and reports whether that is all there
// is to do: it is not if c is nil (the call holds rw) or a Lock waits (it
// marked c).
func (l *regionLock) tryExit(c *readerCount) bool {
	return c != nil && c.n.Add(-1) >= 0
}

// release is exit for a call counted in c (not nil), for a caller that has
// c but not the lock: a deferred function that captures as little as it
// can. It does what tryExit and exitSlow do for such a call.
func (c *readerCount) release() {
	if c.n.Add(-1) < 0 {
		c.state.signal()
	}
}

// exitSlow is exit when tryExit reported false: it releases rw (c is nil),
// or wakes the Lock that waits.
func (l *regionLock) exitSlow(c *readerCount) {
	if c == nil {
		l.rw.RUnlock()
		return
	}
	c.state.signal()
}

// makeReaders makes the counters of enter, once. The caller holds rw for
// reading.
func (l *regionLock) makeReaders() {
	n := 8
	for n < 4*runtime.GOMAXPROCS(0) {
		n *= 2
	}
	s := &readerState{count: make([]readerCount, n), mask: uintptr(n - 1), wake: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	for i := range s.count {
		s.count[i].state = s
	}
	s.timer.Stop()
	l.readers.CompareAndSwap(nil, s) // or another call made them first
}

// drain marks every counter, then waits until the counters add up to the
// marks alone (see regionLock). Every call counted before its counter was
// marked is in the sum, and sends to wake when it returns after the sum was
// taken; a call that starts later sees the mark and blocks in RLock. The
// loop ends when the calls in flight have returned: it waits for them, it
// does not retry anything. The caller holds rw.
func (s *readerState) drain() {
	for j := range s.count {
		s.count[j].n.Add(lockMark)
	}
	marks := lockMark * int64(len(s.count))
	for {
		var sum int64
		for j := range s.count {
			sum += s.count[j].n.Load()
		}
		if sum == marks {
			return
		}
		// Every call counted in sum sends to wake when it returns; the
		// timer only bounds the wait should that ever not hold.
		s.timer.Reset(10 * time.Millisecond)
		select {
		case <-s.wake:
		case <-s.timer.C:
		}
		s.timer.Stop()
	}
}
