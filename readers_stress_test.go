package mmap

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestReadAtNeverReturnsAnotherMappingsBytes unmaps a region and maps
// another of the same size, of a file with another pattern, in its place
// (the kernel gives it the hole the first one left), then the other way
// back, many rounds, while readers call ReadAt on the first region. Every byte of every
// successful ReadAt must be the first file's: a read that copied from the
// address after the region was unmapped, and kept what it copied, would
// return another file's bytes (or zeros).
func TestReadAtNeverReturnsAnotherMappingsBytes(t *testing.T) {
	ps := PageSize()
	size := 4 * ps
	var regions [3]*Region
	var patterns [3][]byte
	for i := range regions {
		patterns[i] = pattern(size, byte(17*i+1))
		f, _ := tempFile(t, patterns[i], os.O_RDONLY)
		r, err := NewFile(f, 0, size, Read, Shared)
		if err != nil {
			t.Fatal(err)
		}
		regions[i] = r
		t.Cleanup(func() { r.Unmap() })
	}
	target, want := regions[0], patterns[0]
	// One optimistic read in 8 waits, between reading the region's fields
	// and copying, until the other region has taken the address (phase
	// changes), or a while: the copy then reads the other file's bytes,
	// which ReadAt must throw away.
	var discarded, phase, calls atomic.Int64
	testHookDiscard = func() { discarded.Add(1) }
	testHookRead = func() {
		if calls.Add(1)%8 != 0 {
			return
		}
		for start, i := phase.Load(), 0; phase.Load() == start && i < 1000; i++ {
			runtime.Gosched()
		}
	}
	t.Cleanup(func() { testHookDiscard, testHookRead = nil, nil })
	if err := target.Map(); err != nil {
		t.Fatal(err)
	}

	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		reads  atomic.Int64 // successful reads
		failed atomic.Value
	)
	fail := func(err error) { failed.CompareAndSwap(nil, err); stop.Store(true) }
	for g := range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			lens := []int{1, 8, 64, 100, ps - 1, ps, 3*ps + 7, size}
			for i := 0; !stop.Load(); i++ {
				if i%64 == 0 {
					runtime.Gosched() // leave the mapper a processor
				}
				n := lens[(i+g)%len(lens)]
				off := (i*509 + g*4093) % size
				// Stale bytes of an earlier read must not pass for this one's.
				clear(buf[:n])
				got, err := target.ReadAt(buf[:n], int64(off))
				switch {
				case err == ErrNotMapped:
					if got != 0 {
						fail(fmt.Errorf("ReadAt = %d, ErrNotMapped; want 0 bytes", got))
						return
					}
					continue
				case err != nil && !(err == io.EOF && off+n > size):
					fail(fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v", n, off, got, err))
					return
				case got != min(n, size-off):
					fail(fmt.Errorf("ReadAt(%d bytes at %d) = %d bytes, want %d", n, off, got, min(n, size-off)))
					return
				}
				for j, b := range buf[:got] {
					if b != want[off+j] {
						fail(fmt.Errorf("ReadAt(%d bytes at %d): byte %d is %#x, not the file's %#x (another mapping's?)", n, off, off+j, b, want[off+j]))
						return
					}
				}
				reads.Add(1)
			}
		}()
	}

	// The counted path (the race detector, arm64) is slower per round, and
	// the emulator slower still.
	rounds := 3000
	if testing.Short() || emulated() || !readsOptimistic() {
		rounds = 300
	}
	reused := 0 // rounds in which another region took the target's address
	for i := 0; i < rounds && !stop.Load(); i++ {
		addr := unsafe.Pointer(unsafe.SliceData(target.Bytes()))
		if err := target.Unmap(); err != nil {
			t.Fatal(err)
		}
		other := regions[1+i%2]
		if err := other.Map(); err != nil {
			t.Fatal(err)
		}
		if unsafe.Pointer(unsafe.SliceData(other.Bytes())) == addr {
			reused++
		}
		phase.Add(1)
		if err := other.Unmap(); err != nil {
			t.Fatal(err)
		}
		if err := target.Map(); err != nil {
			t.Fatal(err)
		}
		// Let the readers get going on the target again.
		for before := reads.Load(); reads.Load() < before+4 && !stop.Load(); {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds, %d with another region at the target's address, %d successful reads, %d optimistic reads discarded",
		rounds, reused, reads.Load(), discarded.Load())
	if reads.Load() == 0 {
		t.Fatal("no ReadAt succeeded: the test did not exercise the race")
	}
	if reused == 0 && !emulated() {
		t.Fatal("no other region was ever placed at the target's address: the test did not exercise the race")
	}
	if readsOptimistic() && discarded.Load() == 0 {
		t.Fatal("no optimistic read was thrown away: the test did not reach the code that discards one")
	}
}

// readsOptimistic reports whether ReadAt makes its optimistic attempt here:
// where lock.go allows it, and unless the fault handler that its copy needs
// was kept out (MMAPKIT_FAULT_HANDLER=off).
func readsOptimistic() bool { return optimisticReads && fastPathsAllowed() }
