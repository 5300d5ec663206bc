package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkRead checks one ReadAt of len(buf) bytes at off of a region
// of want's content that another goroutine maps and unmaps: it either reads
// exactly the right bytes or returns ErrNotMapped, never a fault.
func checkRead(r *Region, want, buf []byte, off int) error {
	n, err := r.ReadAt(buf, int64(off))
	switch {
	case errors.Is(err, ErrNotMapped):
		if n != 0 {
			return fmt.Errorf("ReadAt = %d, ErrNotMapped; want 0 bytes", n)
		}
		return nil
	case err != nil && !(errors.Is(err, io.EOF) && off+len(buf) > len(want)):
		return fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v", len(buf), off, n, err)
	}
	if end := min(off+len(buf), len(want)); n != end-off || !bytes.Equal(buf[:n], want[off:end]) {
		return fmt.Errorf("ReadAt(%d bytes at %d) = %d bytes, not the file's", len(buf), off, n)
	}
	return nil
}

// TestReadersUnmapWaits maps and unmaps a file region over and over while
// goroutines read from it and write back what they read: every ReadAt and
// WriteAt must either complete on the mapped memory or return ErrNotMapped.
// One that ran after munmap would fault (ErrFault) or read zeros or another
// mapping's bytes.
func TestReadersUnmapWaits(t *testing.T) {
	const size = 256 << 10
	want := pattern(size, 3)
	f, _ := tempFile(t, want, os.O_RDWR)
	r, err := NewFile(f, 0, size, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })

	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		done    atomic.Int64 // calls that found the region mapped
		errOnce sync.Once
		first   error
	)
	fail := func(err error) { errOnce.Do(func() { first = err }); stop.Store(true) }
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			// Offsets step by 4099*(g+1) bytes, kept modulo size (and i
			// modulo 4) so that nothing overflows an int of 32 bits
			// however long it runs.
			step := 4099 * (g + 1) % size
			for i, off := 0, 0; !stop.Load(); i, off = (i+1)%4, (off+step)%size {
				n := []int{1, 64, 4096, 64 << 10}[(i+g)%4]
				if err := checkRead(r, want, buf[:n], off); err != nil {
					fail(err)
					return
				}
				// Write back the file's own bytes: the content never
				// changes, but WriteAt runs against Unmap too.
				m, err := r.WriteAt(want[off:min(off+n, size)], int64(off))
				if err != nil && !errors.Is(err, ErrNotMapped) {
					fail(fmt.Errorf("WriteAt(%d bytes at %d) = %d, %v", n, off, m, err))
					return
				}
				if err == nil {
					done.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(time.Second)
	cycles := 0
	for ; cycles < 200 && time.Now().Before(deadline) && !stop.Load(); cycles++ {
		if err := r.Unmap(); err != nil {
			fail(err)
			break
		}
		if err := r.Map(); err != nil {
			fail(err)
			break
		}
		// Let a call complete on this mapping before unmapping it again.
		before, t0 := done.Load(), time.Now()
		for done.Load() == before && time.Since(t0) < 5*time.Millisecond {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	if cycles < 20 || done.Load() < int64(cycles)/2 {
		t.Fatalf("%d map cycles, %d calls on a mapped region: the test did not exercise the race", cycles, done.Load())
	}
	t.Logf("%d map cycles, %d calls on a mapped region", cycles, done.Load())
}

// TestReadersMoreProcs reads with more Ps than the region has counters
// for (GOMAXPROCS grew after the first ReadAt): those calls are counted
// apart, and Unmap still waits for them.
func TestReadersMoreProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	const size = 64 << 10
	want := pattern(size, 9)
	f, _ := tempFile(t, want, os.O_RDONLY)
	r, err := NewFile(f, 0, size, Read, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
	buf := make([]byte, 4096)
	if err := checkRead(r, want, buf, 0); err != nil {
		t.Fatal(err)
	}
	if n := len(r.mu.readers.Load().count); n != 2 {
		t.Fatalf("%d counters with GOMAXPROCS 1, want 2", n)
	}
	runtime.GOMAXPROCS(4)
	var (
		stop atomic.Bool
		wg   sync.WaitGroup
		errs = make(chan error, 4)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for off := 0; !stop.Load(); off = (off + 512) % size {
				if err := checkRead(r, want, buf, off); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 200 {
		if err := r.Unmap(); err != nil {
			t.Error(err)
			break
		}
		if err := r.Map(); err != nil {
			t.Error(err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var sum int64
	c := r.mu.readers.Load().count
	for i := range c {
		sum += atomic.LoadInt64(&c[i].n)
	}
	if sum != 0 {
		t.Errorf("counters add up to %d with no call in flight, want 0", sum)
	}
}

// TestReadersFault truncates the file under a mapping: ReadAt and WriteAt
// across the end return ErrFault with the bytes before the missing page
// copied, and the region stays usable.
func TestReadersFault(t *testing.T) {
	ps := PageSize()
	want := pattern(4*ps, 5)
	f, _ := tempFile(t, want, os.O_RDWR)
	r, err := NewFile(f, 0, 4*ps, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a file that is mapped")
	}
	if err := f.Truncate(int64(2 * ps)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2*ps)
	n, err := r.ReadAt(buf, int64(ps+100))
	var fe *FaultError
	if !errors.Is(err, ErrFault) || !errors.As(err, &fe) {
		t.Fatalf("ReadAt across the end of the file = %d, %v; want ErrFault", n, err)
	}
	if n != ps-100 || !bytes.Equal(buf[:n], want[ps+100:2*ps]) {
		t.Errorf("ReadAt copied %d bytes before the fault, want %d of the file's", n, ps-100)
	}
	if fe.Op != "read" || fe.Offset != int64(2*ps) {
		t.Errorf("FaultError op %q offset %d, want read at %d", fe.Op, fe.Offset, 2*ps)
	}
	n, err = r.WriteAt(want[:2*ps], int64(ps))
	if !errors.Is(err, ErrFault) || n != ps {
		t.Errorf("WriteAt across the end of the file = %d, %v; want %d, ErrFault", n, err, ps)
	}
	if n, err := r.ReadAt(buf[:ps], 0); err != nil || n != ps {
		t.Errorf("ReadAt within the file after a fault = %d, %v", n, err)
	}
	if err := r.Unmap(); err != nil {
		t.Errorf("Unmap after a fault: %v (a call left counted in flight would hang it)", err)
	}
}
