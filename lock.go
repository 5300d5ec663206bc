package mmap

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
)

// regionLock is a Region's lock. Methods that change the mapping (Map,
// Unmap, Protect...) take it with Lock, methods that only look at it with
// RLock, as with a sync.RWMutex. ReadAt and WriteAt, the hot path, take
// neither: they call enter and exit, which count the call in a counter of
// the processor (P) the goroutine runs on, so that concurrent calls do not
// all write one cache line as RLock and RUnlock would. Lock waits until
// every call counted there has returned; calls that start while a Lock is
// held or waited for block in RLock instead, as they would on a
// sync.RWMutex.
//
// Where the architecture orders stores as amd64 does and Linux has
// membarrier(2), the counters are plain (not atomic) adds, each counter
// written only by the goroutine running on its P while pinned there, and
// Lock issues the memory barrier on every processor instead (an asymmetric
// barrier); elsewhere they are atomic adds. See lock_membarrier.go.
//
// The zero regionLock is unlocked.
type regionLock struct {
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
	if s := l.readers.Load(); s != nil {
		asymmetricBarrier()
		s.drain()
	}
}

func (l *regionLock) Unlock() {
	l.rw.Unlock()
	l.writers.Add(-1)
}

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
