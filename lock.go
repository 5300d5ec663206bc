package mmap

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// regionLock is a Region's lock. Methods that change the mapping (Map,
// Unmap, Protect, Resize...) take it with Lock, methods that only look at it
// with RLock, as with a sync.RWMutex. ReadAt, WriteAt and Access, the hot
// paths, take neither; they use one of two paths.
//
// # The counted path (WriteAt, Access, and ReadAt where it must)
//
// enter and exit count the call in a counter of the processor (P) the
// goroutine runs on, so that concurrent calls do not all write one cache
// line as RLock and RUnlock would. Lock waits until every call counted there
// has returned; calls that start while a Lock is held or waited for block in
// RLock instead, as they would on a sync.RWMutex, so that a writer is not
// starved by a stream of calls. Where the architecture orders stores as amd64
// does and Linux has membarrier(2), the counters are plain (not atomic) adds,
// each counter written only by the goroutine running on its P while pinned
// there, and Lock issues the memory barrier on every processor instead (an
// asymmetric barrier); elsewhere they are atomic adds. See
// lock_membarrier.go.
//
// # The optimistic path (ReadAt where optimisticReads is set)
//
// A read can be thrown away and done again, so ReadAt need not be counted
// at all: it writes no shared memory, as a seqlock's reader. seq is even
// while no Lock is held and odd while one is: Lock adds 1 after it has
// excluded the other Locks and before it changes anything, Unlock adds 1
// after every change. ReadAt loads seq (s1), and if it is odd takes the
// counted path; else it reads the region's fields (mapped, addr, length,
// cur) without the lock, copies under panic-on-fault, and loads seq again
// (s2). If s2 == s1 the copy is kept; otherwise, or if the copy faulted,
// the bytes are cleared from p (they may be another mapping's) and the read
// is done again on the counted path, which waits for the Lock: one optimistic
// attempt, then at most one counted one.
//
// Why a kept copy is right (linux/amd64, without the race detector):
//
//   - Every change to the fields and to the mapping (mmap, munmap, mremap,
//     mprotect) happens between Lock's and Unlock's adds to seq, by the
//     goroutine holding the Lock: no field is written outside Lock (Open of
//     an empty file sets them before the Region is shared). The adds are
//     locked instructions: each is visible to every processor before the
//     writer's next load or store, and before it enters the kernel.
//   - amd64 does not reorder a load with an earlier load (x86-TSO). ReadAt's
//     loads of the fields and of the mapped memory come after its load of s1
//     and before its load of s2, in program order and in the order they take
//     effect; the Go compiler does not move loads across the atomic loads of
//     seq.
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
	writers atomic.Int32                // Locks held or waited for
	readers atomic.Pointer[readerState] // made by the first enter
}

// readerState is what enter and exit use, made by the first enter.
type readerState struct {
	// count has a counter per P. Element 0 counts, with atomic adds only,
	// the calls of the Ps that have no counter of their own (GOMAXPROCS
	// grew since it was made).
	count []readerCount
	// wake wakes a Lock waiting for the calls in flight to return: a call
	// that returns while a Lock is held or waited for sends to it.
	wake  chan struct{}
	timer *time.Timer // drain's, stopped when not in use
}

// readerCount counts the calls in flight of one P, on a cache line of its
// own.
type readerCount struct {
	n int64
	_ [56]byte
}

// procPin disables preemption of the calling goroutine, so that it stays on
// its P, and returns the P's id; procUnpin enables it again. They are the
// functions sync.Pool uses.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// Lock announces itself first, so that calls that start from then on block
// in RLock and leave the processors to the goroutines in flight and to this
// one, then takes rw, and waits for the counted calls to return.
func (l *regionLock) Lock() {
	l.writers.Add(1)
	l.rw.Lock()
	l.seq.Add(1)
	if s := l.readers.Load(); s != nil {
		asymmetricBarrier()
		s.drain()
	}
}

func (l *regionLock) Unlock() {
	l.seq.Add(1)
	l.rw.Unlock()
	l.writers.Add(-1)
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

// enter counts a call in flight and reports whether it did so: while a
// Lock is held or waited for, it takes rw for reading instead and returns
// false. The caller passes the result to exit.
func (l *regionLock) enter() bool {
	s := l.readers.Load()
	if s == nil {
		s = l.makeReaders()
	}
	c := s.count
	pid := procPin()
	if pid+1 < len(c) {
		localAdd(&c[pid+1].n, 1)
		if l.writers.Load() == 0 {
			procUnpin()
			return true
		}
		localAdd(&c[pid+1].n, -1)
	} else {
		atomic.AddInt64(&c[0].n, 1)
		if l.writers.Load() == 0 {
			procUnpin()
			return true
		}
		atomic.AddInt64(&c[0].n, -1)
	}
	procUnpin()
	// A Lock may have counted this call before it was taken back.
	s.signal()
	l.rw.RLock()
	return false
}

// signal wakes a Lock waiting in drain, if any.
func (s *readerState) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// exit ends a call that enter began. The goroutine may have moved to
// another P since: the counters then do not each return to zero, but their
// sum does.
func (l *regionLock) exit(counted bool) {
	if !counted {
		l.rw.RUnlock()
		return
	}
	s := l.readers.Load()
	c := s.count
	pid := procPin()
	if pid+1 < len(c) {
		localAdd(&c[pid+1].n, -1)
	} else {
		atomic.AddInt64(&c[0].n, -1)
	}
	procUnpin()
	if l.writers.Load() != 0 {
		s.signal()
	}
}

func atomicAdd(p *int64, d int64) { atomic.AddInt64(p, d) }

func (l *regionLock) makeReaders() *readerState {
	initBarrier()
	s := &readerState{count: make([]readerCount, runtime.GOMAXPROCS(0)+1), wake: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
	if l.readers.CompareAndSwap(nil, s) {
		return s
	}
	return l.readers.Load()
}

// drain waits until the counters add up to zero. Every call counted in them
// that started before the barrier is visible in them, and sends to wake when
// it returns after the sum was taken; a call that starts later sees writers
// and blocks in RLock.
func (s *readerState) drain() {
	for {
		var sum int64
		for j := range s.count {
			sum += atomic.LoadInt64(&s.count[j].n)
		}
		if sum == 0 {
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
