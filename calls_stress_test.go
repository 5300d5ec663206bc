package mmap

import (
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
)

// Bytes of the stress test below. Every mapping holds words of 4 bytes: the
// word at offset 4k has the bytes of k+1 (24 bits, little-endian) and then
// a tag saying who wrote it: a generation of the region's contents (1 to
// stressWriters-1), a goroutine that writes (stressWriters and up), or a
// decoy, another region mapped to take the address the region leaves
// (stressDecoys and up). A byte is checked alone, as writes of several
// goroutines may mix in one word: the three bytes of the index must be the
// offset's, the tag one of the region's.
const (
	stressWriters = 100
	stressDecoys  = 200
)

// stressByte returns the byte at offset o of a mapping whose words are
// tagged tag.
func stressByte(o int, tag byte) byte {
	if pos := o % 4; pos < 3 {
		return byte((o/4 + 1) >> (8 * pos))
	}
	return tag
}

// stressFill writes the bytes of offset off on into b, tagged tag.
func stressFill(b []byte, off int, tag byte) {
	for j := range b {
		b[j] = stressByte(off+j, tag)
	}
}

// stressSink receives bytes read from mapped memory, so that the reads
// are not optimized away.
var stressSink atomic.Uint32

// stressEpochs are counters that the goroutine changing the region makes
// odd while a condition may hold and even again once it cannot: a call that
// saw the same even value before and after it ran never met the condition.
type stressEpochs struct {
	unmapped  atomic.Uint64 // the region may be unmapped
	protected atomic.Uint64 // the region may be read-only
	truncated atomic.Uint64 // the file may be shorter than the region
	zeros     atomic.Uint64 // some words may be zeros (new anonymous pages, a file grown back)
}

type stressSnapshot [4]uint64

func (e *stressEpochs) load() stressSnapshot {
	return stressSnapshot{e.unmapped.Load(), e.protected.Load(), e.truncated.Load(), e.zeros.Load()}
}

// during reports, for each condition, whether it may have held between two
// snapshots.
func (a stressSnapshot) during(b stressSnapshot) (unmapped, protected, truncated, zeros bool) {
	may := func(i int) bool { return a[i]%2 == 1 || a[i] != b[i] }
	return may(0), may(1), may(2), may(3)
}

// stressCase is one kind of region for TestCallsDuringMappingChanges.
type stressCase struct {
	name    string
	file    bool
	flags   Flag
	reserve bool
}

// TestCallsDuringMappingChanges runs 12 goroutines calling ReadAt, WriteAt
// and Access (whose fn copies out of b or into it) on one region while
// another unmaps and maps it again (Unmap or Close), resizes it (growing
// and shrinking, inside a reservation or not), protects it read-only and
// back, and truncates its file and extends it again; after each Unmap or
// Resize it maps a decoy region, with bytes of its own, to take the address
// the region may have left. Every call must return, with the bytes of one
// of the region's own mappings (never a decoy's, never from another offset)
// or an error that the changes under way explain: ErrNotMapped while the
// region may be unmapped, ErrFault while it may be read-only (for writes) or
// its file short, io.EOF, io.ErrShortWrite and fs.ErrInvalid for ranges past
// a length the region had.
func TestCallsDuringMappingChanges(t *testing.T) {
	cases := []stressCase{
		{"anon", false, Private, false},
		{"anon reserved", false, Private, true},
		{"anon shared", false, Shared, false},
		{"file shared", true, Shared, false},
		{"file shared reserved", true, Shared, true},
		{"file private reserved", true, Private, true},
	}
	// Emulated, each call is slower, and slower still with larger pages,
	// whose regions are larger; the race detector slows every call too.
	rounds := 200
	switch {
	case largePagesEmulated():
		rounds = 12
	case emulated():
		rounds = 60
	case !optimisticReads:
		rounds = 100
	}
	if testing.Short() {
		rounds = max(rounds/4, 10)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if runtime.GOOS != "linux" {
				t.Skip("the changes and their errors are those of Linux (Windows refuses to truncate a mapped file)")
			}
			start := time.Now()
			timer := time.AfterFunc(3*time.Minute, func() {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				fmt.Fprintf(os.Stderr, "%s: no end after %v; goroutines:\n%s\n", t.Name(), time.Since(start), buf)
				panic(t.Name() + ": hang")
			})
			defer timer.Stop()
			runStress(t, c, rounds)
		})
	}
}

func runStress(t *testing.T, c stressCase, rounds int) {
	ps := PageSize()
	const maxPages = 8
	maxLen := maxPages * ps
	var (
		r   *Region
		f   *os.File
		err error
	)
	gen := 1 // the tag of the current contents
	if c.file {
		b := make([]byte, maxLen)
		stressFill(b, 0, byte(gen))
		f, _ = tempFile(t, b, os.O_RDWR)
		r, err = NewFile(f, 0, 4*ps, Read|Write, c.flags)
	} else {
		r, err = NewAnon(4*ps, Read|Write, c.flags)
	}
	if err == nil && c.reserve {
		err = r.Reserve(maxLen)
	}
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
	fill := func(from, to int) {
		b := make([]byte, to-from)
		stressFill(b, from, byte(gen))
		if n, err := r.WriteAt(b, int64(from)); n != len(b) || err != nil {
			t.Fatalf("filling [%d, %d): %d, %v", from, to, n, err)
		}
	}
	if !c.file {
		fill(0, r.Len())
	}

	var (
		ep      stressEpochs
		gens    atomic.Int64 // tags of contents used so far
		calls   atomic.Int64 // calls that returned
		ok      atomic.Int64 // calls that returned the region's bytes
		errs    [8]atomic.Int64
		stop    atomic.Bool
		failure atomic.Value
		wg      sync.WaitGroup
	)
	gens.Store(1)
	fail := func(err error) { failure.CompareAndSwap(nil, err); stop.Store(true) }
	// check returns an error if a byte of b, read at offset off, is not one
	// the region may hold.
	check := func(b []byte, off int, zeros bool) error {
		top := byte(gens.Load() + 1) // a generation may start during the call
		for j, v := range b {
			o := off + j
			want := stressByte(o, 0)
			switch {
			case zeros && v == 0:
			case o%4 < 3 && v == want:
			case o%4 == 3 && v > 0 && (v <= top || v >= stressWriters && v < stressDecoys):
			default:
				what := "a byte no mapping holds"
				if o%4 == 3 && v >= stressDecoys {
					what = "a decoy region's byte"
				}
				return fmt.Errorf("byte %d of the region is %#x: %s (want %#x, tag 1..%d or a writer's)", o, v, what, want, top)
			}
		}
		return nil
	}
	// lengthOK reports whether end, where a call stopped short, is a length
	// the region may have had: a multiple of the page size between 1 and
	// maxPages pages.
	lengthOK := func(end int) bool { return end%ps == 0 && end >= ps && end <= maxLen }
	sizes := []int{1, 4, 13, 64, ps - 4, ps, ps + 12, 3*ps - 1, maxLen}
	const goroutines = 12
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := byte(stressWriters + g)
			buf := make([]byte, maxLen+ps)
			src := make([]byte, maxLen+ps)
			for i := 0; !stop.Load(); i++ {
				if i%32 == 0 {
					runtime.Gosched()
				}
				n := sizes[(i+g)%len(sizes)]
				off := (i*4093 + g*509) % (maxLen + 8)
				if i%97 == 0 {
					off = []int{-1, maxLen + ps, math.MaxInt - 8}[i/97%3]
				}
				e1 := ep.load()
				var (
					got  int
					err  error
					kind = g % 4
					what string
				)
				switch kind {
				case 0, 1: // ReadAt
					p := buf[:n]
					clear(p)
					what = fmt.Sprintf("ReadAt(%d bytes at %d)", n, off)
					got, err = r.ReadAt(p, int64(off))
				case 2: // WriteAt
					p := src[:n]
					if off >= 0 && off <= maxLen {
						stressFill(p, off, tag)
					}
					what = fmt.Sprintf("WriteAt(%d bytes at %d)", n, off)
					got, err = r.WriteAt(p, int64(off))
				case 3: // Access, copying out of b or into it
					write := i%2 == 1
					what = fmt.Sprintf("Access(%d, %d), writing %v", off, n, write)
					err = r.Access(off, n, func(b []byte) error {
						if write {
							stressFill(src[:len(b)], off, tag)
							copy(b, src[:len(b)])
						}
						copy(buf[:len(b)], b)
						if len(b) > 0 {
							stressSink.Add(uint32(buf[0]))
						}
						got = len(b)
						return nil
					})
				}
				e2 := ep.load()
				unmapped, protected, truncated, zeros := e1.during(e2)
				calls.Add(1)
				// The bytes the call read: checked whatever its error, up
				// to what it counted.
				if kind != 2 && got > 0 {
					if cerr := check(buf[:got], off, zeros); cerr != nil {
						fail(fmt.Errorf("%s = %d, %v: %w", what, got, err, cerr))
						return
					}
				}
				var fe *FaultError
				switch {
				case err == nil:
					if got != n {
						fail(fmt.Errorf("%s = %d, nil", what, got))
						return
					}
					ok.Add(1)
					errs[0].Add(1)
				case errors.Is(err, ErrNotMapped):
					if got != 0 || !unmapped {
						fail(fmt.Errorf("%s = %d, %v while the region was mapped", what, got, err))
						return
					}
					errs[1].Add(1)
				case errors.As(err, &fe):
					// A fault on the region's memory: its file was short,
					// or, for a write, the region was read-only.
					write := kind == 2 || kind == 3 && i%2 == 1
					perm := errors.Is(err, fs.ErrPermission)
					switch {
					case !(truncated || write && protected):
						fail(fmt.Errorf("%s = %d, %v, with the file whole and the region writable", what, got, err))
						return
					case perm && (!write || !protected):
						fail(fmt.Errorf("%s = %d, %v: refused while the region was writable", what, got, err))
						return
					case kind != 3 && fe.Offset != int64(off+got):
						fail(fmt.Errorf("%s = %d, %v: offset %d, not %d", what, got, err, fe.Offset, off+got))
						return
					}
					errs[2].Add(1)
				case kind <= 1 && errors.Is(err, io.EOF):
					if got >= n || !(lengthOK(off+got) || got == 0 && off >= ps) {
						fail(fmt.Errorf("%s = %d, %v: no length the region had", what, got, err))
						return
					}
					errs[3].Add(1)
				case kind == 2 && errors.Is(err, io.ErrShortWrite):
					if !(lengthOK(off+got) || got == 0 && off >= ps) {
						fail(fmt.Errorf("%s = %d, %v: no length the region had", what, got, err))
						return
					}
					errs[4].Add(1)
				case errors.Is(err, fs.ErrInvalid):
					// A negative offset, or Access past the end.
					if !(off < 0 || kind == 3 && off > ps-n) {
						fail(fmt.Errorf("%s = %d, %v", what, got, err))
						return
					}
					errs[5].Add(1)
				default:
					fail(fmt.Errorf("%s = %d, %v: unexpected error (%T)", what, got, err, err))
					return
				}
			}
		}()
	}

	// A failure of the goroutine below stops the calls before the region
	// is unmapped.
	t.Cleanup(func() {
		stop.Store(true)
		wg.Wait()
	})

	// The changes. Each waits for calls to run on the state it makes, so
	// that the calls meet every state.
	settle := func() {
		for before, i := calls.Load(), 0; calls.Load() < before+2*goroutines && i < 100000 && !stop.Load(); i++ {
			runtime.Gosched()
		}
	}
	var decoys []*Region
	decoy := func(n int) {
		d, err := NewAnon(n, Read|Write, Private)
		if err == nil {
			err = d.Map()
		}
		if err != nil {
			t.Fatalf("decoy: %v", err)
		}
		stressFill(d.Bytes(), 0, byte(stressDecoys+len(decoys)%50))
		decoys = append(decoys, d)
		if len(decoys) > 3 {
			decoys[0].Unmap()
			decoys = decoys[1:]
		}
	}
	t.Cleanup(func() {
		for _, d := range decoys {
			d.Unmap()
		}
	})
	newGen := func() {
		gen = gen%(stressWriters-1) + 1
		if gens.Load() < stressWriters-1 {
			gens.Add(1)
		}
	}
	seed := uint32(12345)
	next := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	mustDo := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	counts := map[string]int{}
	privateZeros := false // ep.zeros is odd until the next Map (see truncation)
	for i := 0; i < rounds && !stop.Load(); i++ {
		op := next(5)
		if op == 4 && !c.file {
			op = next(4)
		}
		switch op {
		case 0, 1: // Unmap or Close, a decoy, new contents, Map
			ep.unmapped.Add(1)
			if !c.file {
				ep.zeros.Add(1)
			}
			length := r.Len()
			if op == 0 {
				mustDo("Unmap", r.Unmap())
				counts["unmap"]++
			} else {
				mustDo("Close", r.Close())
				counts["close"]++
			}
			decoy(length)
			newGen()
			if c.file {
				b := make([]byte, maxLen)
				stressFill(b, 0, byte(gen))
				if _, err := f.WriteAt(b, 0); err != nil {
					t.Fatal(err)
				}
			}
			mustDo("Map", r.Map())
			ep.unmapped.Add(1)
			if privateZeros {
				ep.zeros.Add(1)
				privateZeros = false
			}
			if !c.file {
				fill(0, r.Len())
				ep.zeros.Add(1)
			}
		case 2: // Resize to another length, and a decoy
			old := r.Len()
			length := (1 + next(maxPages)) * ps
			if length == old {
				length = old%maxLen + ps
			}
			if !c.file {
				ep.zeros.Add(1)
			}
			mustDo(fmt.Sprintf("Resize(%d) from %d", length, old), r.Resize(length))
			decoy(old)
			if !c.file {
				if length > old {
					fill(old, length)
				}
				ep.zeros.Add(1)
			}
			if length > old {
				counts["grow"]++
			} else {
				counts["shrink"]++
			}
		case 3: // Protect(Read), then back
			ep.protected.Add(1)
			mustDo("Protect(Read)", r.Protect(Read))
			settle()
			mustDo("Protect(Read|Write)", r.Protect(Read|Write))
			ep.protected.Add(1)
			counts["protect"]++
		case 4: // truncate the file, then extend it and write it again
			ep.truncated.Add(1)
			if !privateZeros {
				ep.zeros.Add(1)
			}
			size := []int64{0, 100, int64(ps), int64(ps + 100), int64(3 * ps)}[next(5)]
			mustDo("Truncate", f.Truncate(size))
			settle()
			mustDo("Truncate back", f.Truncate(int64(maxLen)))
			b := make([]byte, maxLen)
			stressFill(b, 0, byte(gen))
			if _, err := f.WriteAt(b, 0); err != nil {
				t.Fatal(err)
			}
			ep.truncated.Add(1)
			// A private page copied while the file was short, or grown
			// back and not yet written, keeps its zeros until Unmap.
			if c.flags&Private != 0 {
				privateZeros = true
			} else {
				ep.zeros.Add(1)
			}
			counts["truncate"]++
		}
		settle()
	}
	stop.Store(true)
	wg.Wait()
	if err, _ := failure.Load().(error); err != nil {
		t.Fatal(err)
	}
	if ok.Load() == 0 {
		t.Fatal("no call succeeded")
	}
	if s := r.mu.readers.Load(); s != nil {
		var sum int64
		for i := range s.count {
			sum += s.count[i].n.Load()
		}
		if sum != 0 {
			t.Errorf("counters add up to %d with no call in flight", sum)
		}
	}
	t.Logf("%d rounds %v; %d calls: %d ok, %d ErrNotMapped, %d ErrFault, %d EOF, %d short writes, %d invalid",
		rounds, counts, calls.Load(), errs[0].Load(), errs[1].Load(), errs[2].Load(), errs[3].Load(), errs[4].Load(), errs[5].Load())
}
