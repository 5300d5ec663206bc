// This file tests ReadAt, WriteAt and the flushes: what reaches the file from
// shared and private regions, the faults of a file truncated under a
// mapping, and readers that run while the region is unmapped.

package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestReadWriteDoNotAllocate checks that ReadAt, WriteAt and Access allocate
// nothing, and keep a caller's buffer on the caller's stack: the buffer does
// not escape through them, as it would not through a plain copy.
func TestReadWriteDoNotAllocate(t *testing.T) {
	r := mapAnon(t, PageSize(), Read|Write, Private)
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		var b [64]byte
		b[7] = 7
		_, e := r.WriteAt(b[:], 8)
		keep(e)
		_, e = r.ReadAt(b[:], 1) // region byte 15 lands in b[14]
		keep(e)
		if b[14] != 7 {
			keep(fmt.Errorf("ReadAt read back %d at offset 15, want 7", b[14]))
		}
		keep(r.Access(0, 16, func(m []byte) error {
			sink = m[15]
			return nil
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if sink != 7 {
		t.Errorf("Access saw %d at offset 15, want 7", sink)
	}
	if allocs != 0 {
		t.Errorf("WriteAt, ReadAt and Access of a stack buffer allocate %v times, want 0", allocs)
	}
}

// TestFastPathsFollowState checks readable and writable, the fields that
// ReadAt's and WriteAt's fast paths read instead of the region's state,
// after each method that changes that state: they cover the mapped bytes
// exactly when the access is allowed, and are nil otherwise.
func TestFastPathsFollowState(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, 2*ps, Read|Write, Private)
	check := func(step string, readable, writable int) {
		t.Helper()
		r.mu.RLock()
		defer r.mu.RUnlock()
		if len(r.readable) != readable || len(r.writable) != writable {
			t.Fatalf("after %s: %d readable and %d writable bytes, want %d and %d",
				step, len(r.readable), len(r.writable), readable, writable)
		}
		for _, b := range [][]byte{r.readable, r.writable} {
			if len(b) > 0 && unsafe.Pointer(unsafe.SliceData(b)) != r.addr {
				t.Fatalf("after %s: the fast paths' bytes do not start at the mapping", step)
			}
		}
	}
	// Without the fault handler (MMAPKIT_FAULT_HANDLER=off) the fast paths
	// are never taken: both stay nil.
	fast := 1
	if !fastPathsAllowed() {
		fast = 0
	}
	check("Map", 2*ps*fast, 2*ps*fast)
	steps := []struct {
		name               string
		do                 func() error
		readable, writable int
	}{
		{"Protect(Read)", func() error { return r.Protect(Read) }, 2 * ps * fast, 0},
		{"Protect(0)", func() error { return r.Protect(0) }, 0, 0},
		{"Protect(Read|Write)", func() error { return r.Protect(Read | Write) }, 2 * ps * fast, 2 * ps * fast},
		{"Resize", func() error { return r.Resize(3 * ps) }, 3 * ps * fast, 3 * ps * fast},
		{"Unmap", r.Unmap, 0, 0},
		{"Map", r.Map, 3 * ps * fast, 3 * ps * fast},
		{"Close", r.Close, 0, 0},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		check(s.name, s.readable, s.writable)
	}
}

// TestPrivateWritesStayPrivate writes to private file regions: the writes
// reach neither the file nor a shared region of it, also after a flush, and
// the region mapped again shows the file.
func TestPrivateWritesStayPrivate(t *testing.T) {
	ps := PageSize()
	t.Run("file open for writing", func(t *testing.T) {
		data := pattern(2*ps+100, 11)
		r, f, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Private)
		shared, err := NewFile(f, 0, len(data), Read, Shared)
		mapRegion(t, shared, err)

		write := pattern(ps, 200)
		if n, err := r.WriteAt(write, int64(ps/2)); n != len(write) || err != nil {
			t.Fatalf("WriteAt = %d, %v; want %d, nil", n, err, len(write))
		}
		r.Bytes()[len(data)-1] ^= 0xff
		want := bytes.Clone(data)
		copy(want[ps/2:], write)
		want[len(data)-1] ^= 0xff
		if got := r.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("private region does not hold its writes (-want +got):\n%s", diff(got, want))
		}
		if err := r.Flush(); err != nil {
			t.Fatalf("Flush of a private region: %v", err)
		}
		if err := r.FlushRange(0, len(data)); err != nil {
			t.Fatalf("FlushRange of a private region: %v", err)
		}
		if got := readFile(t, name); !bytes.Equal(got, data) {
			t.Fatalf("private writes reached the file (-want +got):\n%s", diff(got, data))
		}
		if got := shared.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("private writes reached a shared mapping (-want +got):\n%s", diff(got, data))
		}
		mapAgain(t, r)
		if got := r.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("private region mapped again does not show the file (-want +got):\n%s", diff(got, data))
		}
	})

	t.Run("file open read-only", func(t *testing.T) {
		size := 2 * PageSize()
		orig := pattern(size, 5)
		r, f, name := mapFile(t, orig, os.O_RDONLY, 0, size, Read|Write, Private)
		if !bytes.Equal(r.Bytes(), orig) {
			t.Fatal("private region does not show the file's contents")
		}
		want := pattern(size, 77)
		if n, err := r.WriteAt(want, 0); n != size || err != nil {
			t.Fatalf("WriteAt = %d, %v", n, err)
		}
		if err := r.Flush(); err != nil {
			t.Fatalf("Flush of a private region: %v", err)
		}
		if got := readAll(t, r); !bytes.Equal(got, want) {
			t.Fatal("private region does not hold what was written to it")
		}
		got := readFile(t, name)
		if !bytes.Equal(got, orig) {
			t.Fatal("a write to a private region reached the file")
		}
		mapAgain(t, r)
		if !bytes.Equal(r.Bytes(), orig) {
			t.Fatal("private region mapped again does not show the file's contents")
		}
		removeFile(t, f, name, r)
	})
}

// TestSharedWritesReachFile writes to shared file regions, through WriteAt
// and Bytes, and checks that Flush, FlushRange and FlushAsync put them in
// the file, that anonymous regions have nothing to flush, and that the file
// can be removed once the region is unmapped.
func TestSharedWritesReachFile(t *testing.T) {
	ps := PageSize()
	t.Run("WriteAt and FlushAsync", func(t *testing.T) {
		data := pattern(3*ps+7, 13)
		r, _, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
		want := bytes.Clone(data)
		for i, off := range []int{0, ps - 3, 2*ps + 1, len(data) - 5} {
			p := pattern(5, byte(100+i))
			if n, err := r.WriteAt(p, int64(off)); n != len(p) || err != nil {
				t.Fatalf("WriteAt(%d) = %d, %v", off, n, err)
			}
			copy(want[off:], p)
		}
		if err := r.FlushAsync(); err != nil {
			t.Fatalf("FlushAsync: %v", err)
		}
		if err := r.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if got := readFile(t, name); !bytes.Equal(got, want) {
			t.Fatalf("file after Flush (-want +got):\n%s", diff(got, want))
		}
		// Anonymous regions have nothing to flush.
		a := mapAnon(t, ps, Read|Write, Shared)
		for _, fn := range []func() error{a.Flush, a.FlushAsync, func() error { return a.FlushRange(1, 2) }} {
			if err := fn(); err != nil {
				t.Errorf("flushing an anonymous region: %v", err)
			}
		}
	})

	t.Run("Bytes and every flush", func(t *testing.T) {
		size := 2 * Granularity()
		r, f, name := mapFile(t, pattern(size, 1), os.O_RDWR, 0, size, Read|Write, Shared)
		want := pattern(size, 9)
		if n, err := r.WriteAt(want[PageSize():], int64(PageSize())); n != size-PageSize() || err != nil {
			t.Fatalf("WriteAt = %d, %v", n, err)
		}
		copy(r.Bytes()[:PageSize()], want)
		if err := r.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := r.FlushRange(1, PageSize()); err != nil {
			t.Fatalf("FlushRange: %v", err)
		}
		if err := r.FlushAsync(); err != nil {
			t.Fatalf("FlushAsync: %v", err)
		}
		got := readFile(t, name)
		if !bytes.Equal(got, want) {
			t.Fatal("the file does not hold what was written to the shared region")
		}
		mustUnmap(t, r)
		if err := r.Flush(); !errors.Is(err, ErrNotMapped) {
			t.Fatalf("Flush after Unmap = %v, want ErrNotMapped", err)
		}
		removeFile(t, f, name)
	})
}

func TestFlushRange(t *testing.T) {
	ps := PageSize()
	data := pattern(4*ps, 17)
	r, _, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	for _, c := range []struct{ off, n int }{
		{0, 0}, {len(data), 0}, {0, len(data)}, {1, len(data) - 1}, {ps - 1, 2}, {ps, ps}, {3*ps + 1, ps - 1},
	} {
		p := pattern(max(c.n, 1), byte(c.off))[:c.n]
		if n, err := r.WriteAt(p, int64(c.off)); n != c.n || (err != nil && c.n > 0) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", c.n, c.off, n, err)
		}
		if err := r.FlushRange(c.off, c.n); err != nil {
			t.Errorf("FlushRange(%d, %d): %v", c.off, c.n, err)
		}
		copy(data[c.off:], p)
	}
	if got := readFile(t, name); !bytes.Equal(got, data) {
		t.Fatalf("file after FlushRange (-want +got):\n%s", diff(got, data))
	}
	for _, c := range []struct{ off, n int }{
		{-1, 0}, {0, -1}, {len(data) + 1, 0}, {len(data), 1}, {1, len(data)}, {math.MaxInt, 1}, {1, math.MaxInt}, {math.MinInt, 0},
	} {
		checkErr(t, fmt.Sprintf("FlushRange(%d, %d)", c.off, c.n), r.FlushRange(c.off, c.n), "", fs.ErrInvalid)
	}
}

// TestReadAtDuringUnmap runs 8 goroutines calling ReadAt while another
// unmaps and maps the region again, round after round: every call returns
// the file's data or ErrNotMapped. Each round waits until a reader has seen
// the region unmapped, and then mapped again, so that both happen.
func TestReadAtDuringUnmap(t *testing.T) {
	ps := PageSize()
	data := pattern(4*ps+100, 29)
	r, _, _ := mapFile(t, data, os.O_RDONLY, 0, len(data), Read, Shared)
	var (
		hits, misses atomic.Int64
		stop         atomic.Bool
		failed       atomic.Int64
		wg           sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 100+g*ps/4)
			// Offsets step by 977 bytes, kept modulo the range so that
			// nothing overflows an int of 32 bits however long it runs.
			span := len(data) - len(buf) + 1
			next := g * 131 % span
			for !stop.Load() {
				off := next
				next = (next + 977) % span
				clear(buf)
				n, err := r.ReadAt(buf, int64(off))
				switch {
				case err == nil && n == len(buf) && bytes.Equal(buf, data[off:off+n]):
					hits.Add(1)
				case errors.Is(err, ErrNotMapped) && n == 0:
					misses.Add(1)
				default:
					if failed.Add(1) <= 3 {
						t.Errorf("goroutine %d: ReadAt(%d bytes, %d) = %d, %v; want the data or ErrNotMapped", g, len(buf), off, n, err)
					}
				}
				// Let the goroutine that maps and unmaps run often,
				// rather than at the next preemption.
				runtime.Gosched()
			}
		})
	}
	waitFor := func(c *atomic.Int64, what string) bool {
		start, deadline := c.Load(), time.Now().Add(10*time.Second)
		for c.Load() == start {
			if time.Now().After(deadline) {
				t.Errorf("no reader saw %s within 10s", what)
				return false
			}
			runtime.Gosched()
		}
		return true
	}
	for round := 0; round < 500 && !t.Failed(); round++ {
		if err := r.Unmap(); err != nil {
			t.Fatalf("round %d: Unmap: %v", round, err)
		}
		if !waitFor(&misses, "the region unmapped") {
			break
		}
		if err := r.Map(); err != nil {
			t.Fatalf("round %d: Map: %v", round, err)
		}
		if !waitFor(&hits, "the region mapped") {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads returned data, %d returned ErrNotMapped", hits.Load(), misses.Load())
}

// TestReadWriteParallel runs ReadAt and WriteAt from 8 goroutines at once:
// each writes its own page and reads it back, and reads a page nobody
// writes.
func TestReadWriteParallel(t *testing.T) {
	ps := PageSize()
	const workers = 8
	fixed := pattern(ps, 31)
	r := mapAnon(t, (workers+1)*PageSize(), Read|Write, Shared)
	if _, err := r.WriteAt(fixed, int64(workers*ps)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			buf := make([]byte, ps)
			for i := range 200 {
				p := pattern(ps, byte(g*37+i))
				if n, err := r.WriteAt(p, int64(g*ps)); n != ps || err != nil {
					t.Errorf("goroutine %d: WriteAt = %d, %v", g, n, err)
					return
				}
				if n, err := r.ReadAt(buf, int64(g*ps)); n != ps || err != nil || !bytes.Equal(buf, p) {
					t.Errorf("goroutine %d: ReadAt of its own page = %d, %v, equal %v", g, n, err, bytes.Equal(buf, p))
					return
				}
				if n, err := r.ReadAt(buf, int64(workers*ps)); n != ps || err != nil || !bytes.Equal(buf, fixed) {
					t.Errorf("goroutine %d: ReadAt of the fixed page = %d, %v, equal %v", g, n, err, bytes.Equal(buf, fixed))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWriteAtFileEnd(t *testing.T) {
	size := PageSize() + 100
	data := pattern(size, 31)
	r, f, name := mapFile(t, data, os.O_RDWR, 0, size, Read|Write, Shared)
	if !bytes.Equal(r.Bytes(), data) {
		t.Fatal("region of a file whose size is not a whole number of pages does not show its bytes")
	}
	if n, err := r.WriteAt([]byte("xyz"), int64(size-3)); n != 3 || err != nil {
		t.Fatalf("WriteAt at the end = %d, %v", n, err)
	}
	if n, err := r.WriteAt([]byte("xy"), int64(size-1)); n != 1 || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("WriteAt across the end = %d, %v; want 1, io.ErrShortWrite", n, err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	mustUnmap(t, r)
	got := readFile(t, name)
	want := append(data[:size-3:size-3], 'x', 'y', 'x')
	if !bytes.Equal(got, want) {
		t.Fatalf("file after writes at its end: last bytes %q, want %q (size %d, want %d)", got[max(0, len(got)-3):], want[size-3:], len(got), len(want))
	}
	removeFile(t, f, name)
}

// TestReadAtFaultStopsAtPageBoundary truncates a mapped file and checks that ReadAt
// stops with ErrFault on a page boundary, having copied the bytes before it,
// at whatever page size runs. A file page that holds the end of the file
// stays readable on a real system; an emulator with pages larger than the
// host's may fault inside it, so the test takes any page boundary between
// the end of the file's last whole page and the end of its last page.
func TestReadAtFaultStopsAtPageBoundary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a file that is mapped")
	}
	p := PageSize()
	data := pattern(3*p, 5)
	r, f, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read, Shared)
	size := p + 100
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	n, err := r.ReadAt(got, 0)
	if !errors.Is(err, ErrFault) {
		t.Fatalf("ReadAt of a mapping truncated to %d bytes: n = %d, err = %v; want ErrFault", size, n, err)
	}
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Offset != int64(n) {
		t.Errorf("error %v does not say the fault is at offset %d", err, n)
	}
	if n%p != 0 || n < p || n > AlignLength(size) {
		t.Fatalf("ReadAt copied %d bytes before the fault; want a multiple of %d in [%d, %d]", n, p, p, AlignLength(size))
	}
	if !bytes.Equal(got[:min(n, size)], data[:min(n, size)]) {
		t.Errorf("bytes copied before the fault differ from the file's")
	}
}

// TestCopyByPageFindsFaultWithoutAddress checks how ReadAt finds the faulting page
// when the system does not say where a fault happened (qemu-user gives no
// address for SIGBUS): by copying a page at a time.
func TestCopyByPageFindsFaultWithoutAddress(t *testing.T) {
	p := PageSize()
	r := mapAnon(t, 3*p, Read|Write, Private)
	mem := r.Bytes()
	copy(mem, pattern(len(mem), 9))
	if err := sysProtect(unsafe.Add(unsafe.Pointer(&mem[0]), p), uintptr(p), 0); err != nil {
		t.Fatal(err)
	}
	start := uintptr(unsafe.Pointer(&mem[0]))
	for _, from := range []int{0, 100, p - 1} {
		dst := make([]byte, len(mem)-from)
		n, fault, inDst := copyByPage(dst, mem[from:])
		if n != p-from || fault != start+uintptr(p) || inDst {
			t.Errorf("copyByPage from %d: %d bytes, fault at %#x (in dst: %v); want %d bytes, fault at %#x in src", from, n, fault, inDst, p-from, start+uintptr(p))
		}
		if !bytes.Equal(dst[:n], pattern(len(mem), 9)[from:p]) {
			t.Errorf("copyByPage from %d copied wrong bytes", from)
		}
	}
	// A copy that does not fault copies everything.
	dst := make([]byte, p)
	if n, fault, _ := copyByPage(dst, mem[2*p:]); n != p || fault != 0 {
		t.Errorf("copyByPage of a readable page: %d, %#x; want %d, 0", n, fault, p)
	}
}

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

// TestUnmapWaitsForReaders maps and unmaps a file region over and over while
// goroutines read from it and write back what they read: every ReadAt and
// WriteAt must either complete on the mapped memory or return ErrNotMapped.
// One that ran after munmap would fault (ErrFault) or read zeros or another
// mapping's bytes.
func TestUnmapWaitsForReaders(t *testing.T) {
	const size = 256 << 10
	want := pattern(size, 3)
	r, _, _ := mapFile(t, want, os.O_RDWR, 0, size, Read|Write, Shared)

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
	const cycles = 40
	for range cycles {
		if err := r.Unmap(); err != nil {
			fail(err)
			break
		}
		if err := r.Map(); err != nil {
			fail(err)
			break
		}
		// Let a call complete on this mapping before unmapping it again,
		// so that every cycle races Unmap with calls in flight.
		for before := done.Load(); done.Load() == before && !stop.Load(); {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	t.Logf("%d map cycles, %d calls on a mapped region", cycles, done.Load())
}

// checkAccess checks one Access of n bytes at off of a region of want's
// content that another goroutine maps and unmaps: fn sees exactly the right
// bytes, or Access returns ErrNotMapped. It reports whether fn ran.
func checkAccess(r *Region, want []byte, off, n int) (ran bool, err error) {
	n = min(n, len(want)-off)
	err = r.Access(off, n, func(b []byte) error {
		ran = true
		if !bytes.Equal(b, want[off:off+n]) {
			return fmt.Errorf("Access(%d, %d) saw bytes that are not the file's", off, n)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotMapped) {
		return ran, err
	}
	return ran, nil
}

// TestUnmapWaitsForReadersBeyondProcs reads with more Ps than there were
// when the region's counters were made (GOMAXPROCS grew after the first
// counted call): Unmap still waits for the calls in flight, and the
// counters add up to zero at the end. Access is always counted; ReadAt is
// where lock.go's optimistic reads are off.
func TestUnmapWaitsForReadersBeyondProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	const size = 64 << 10
	want := pattern(size, 9)
	r, _, _ := mapFile(t, want, os.O_RDONLY, 0, size, Read, Shared)
	buf := make([]byte, 4096)
	if err := checkRead(r, want, buf, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := checkAccess(r, want, 0, 4096); err != nil {
		t.Fatal(err)
	}
	if r.mu.readers.Load() == nil {
		t.Fatal("no counters after a counted call")
	}
	runtime.GOMAXPROCS(4)
	var (
		stop  atomic.Bool
		calls atomic.Int64 // Access calls whose fn ran on the mapped region
		wg    sync.WaitGroup
		errs  = make(chan error, 4)
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
				ran, err := checkAccess(r, want, off, 4096)
				if err != nil {
					errs <- err
					return
				}
				if ran {
					calls.Add(1)
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
		// Let a call run on this mapping, so that Unmap meets calls in
		// flight, counted on Ps beyond the first counters.
		for before := calls.Load(); calls.Load() == before && len(errs) == 0; {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if calls.Load() == 0 {
		t.Error("no Access found the region mapped: the test exercised nothing")
	}
	var sum int64
	c := r.mu.readers.Load().count
	for i := range c {
		sum += c[i].n.Load()
	}
	if sum != 0 {
		t.Errorf("counters add up to %d with no call in flight, want 0", sum)
	}
}

// TestCountedCallStandsAsideWhileLocked checks the counters' protocol of
// lock.go step by step: Lock waits for a call counted before it, marks every
// counter so that a call trying to count itself meanwhile takes its add
// back, and Unlock takes the marks away, leaving the counters at the calls
// in flight.
func TestCountedCallStandsAsideWhileLocked(t *testing.T) {
	var l regionLock
	sum := func() int64 {
		var n int64
		c := l.readers.Load().count
		for i := range c {
			n += c[i].n.Load()
		}
		return n
	}
	c := l.enter() // the first call makes the counters
	if c == nil || sum() != 1 {
		t.Fatalf("enter: counter %v, counters add up to %d; want a counter and 1", c, sum())
	}
	locked := make(chan struct{})
	go func() {
		l.Lock()
		close(locked)
	}()
	for l.seq.Load()&1 == 0 {
		runtime.Gosched() // until Lock holds rw and waits for c
	}
	for range 100 {
		runtime.Gosched()
	}
	select {
	case <-locked:
		t.Fatal("Lock returned while a counted call was in flight")
	default:
	}
	if l.tryEnter() != nil {
		t.Fatal("tryEnter counted a call while a Lock waits")
	}
	l.exit(c)
	deadline(t, "Lock after the call returned", func() { <-locked })
	marks := lockMark * int64(len(l.readers.Load().count))
	if got := sum(); got != marks {
		t.Fatalf("counters add up to %d while locked, want the marks alone, %d", got, marks)
	}
	if l.tryEnter() != nil {
		t.Fatal("tryEnter counted a call while a Lock is held")
	}
	l.Unlock()
	if c = l.tryEnter(); c == nil || sum() != 1 {
		t.Fatalf("tryEnter after Unlock: counter %v, counters add up to %d; want a counter and 1", c, sum())
	}
	l.exit(c)
	if got := sum(); got != 0 {
		t.Fatalf("counters add up to %d with no call in flight, want 0", got)
	}
}

// TestFaultLeavesRegionUsable truncates the file under a mapping: ReadAt and WriteAt
// across the end return ErrFault with the bytes before the missing page
// copied, and the region stays usable.
func TestFaultLeavesRegionUsable(t *testing.T) {
	ps := PageSize()
	want := pattern(4*ps, 5)
	r, f, _ := mapFile(t, want, os.O_RDWR, 0, 4*ps, Read|Write, Shared)
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
