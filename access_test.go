// This file tests Access: what fn sees, the faults inside it, and Unmap and
// Resize waiting for it.

package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// deadline runs fn in a goroutine and fails the test (ending the test
// binary) if it has not returned within a minute: a hang is a failure, not a
// stuck test binary.
func deadline(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		// The cleanup's Unmap would wait for the stuck call forever: end
		// the test binary with the failure instead.
		panic(fmt.Sprintf("%s: %s has not returned after a minute", t.Name(), what))
	}
}

// TestAccessSeesTheRegion checks that b is the n bytes at off, that writes
// through it reach the region, and the errors for bad ranges and an
// unmapped region.
func TestAccessSeesTheRegion(t *testing.T) {
	ps := PageSize()
	data := pattern(3*ps, 4)
	r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	for _, c := range []struct{ off, n int }{{0, 0}, {0, 1}, {ps - 3, 7}, {100, 2 * ps}, {0, 3 * ps}, {3 * ps, 0}} {
		err := r.Access(c.off, c.n, func(b []byte) error {
			if b == nil || len(b) != c.n || !bytes.Equal(b, data[c.off:c.off+c.n]) {
				return fmt.Errorf("b has %d bytes, not the region's %d at %d", len(b), c.n, c.off)
			}
			return nil
		})
		if err != nil {
			t.Errorf("Access(%d, %d): %v", c.off, c.n, err)
		}
	}
	if err := r.Access(10, 3, func(b []byte) error { copy(b, "abc"); return nil }); err != nil {
		t.Fatalf("Access to write: %v", err)
	}
	got := make([]byte, 3)
	if _, err := r.ReadAt(got, 10); err != nil || string(got) != "abc" {
		t.Errorf("after writing through Access, ReadAt = %q, %v; want \"abc\"", got, err)
	}
	for _, c := range []struct{ off, n int }{{-1, 1}, {0, -1}, {3*ps + 1, 0}, {ps, 2*ps + 1}, {1, int(^uint(0) >> 1)}} {
		called := false
		err := r.Access(c.off, c.n, func([]byte) error { called = true; return nil })
		checkErr(t, fmt.Sprintf("Access(%d, %d)", c.off, c.n), err, "", fs.ErrInvalid)
		if called {
			t.Errorf("Access(%d, %d) called fn", c.off, c.n)
		}
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	err := r.Access(0, 1, func([]byte) error { t.Error("fn called on an unmapped region"); return nil })
	checkErr(t, "Access after Unmap", err, "", ErrNotMapped)
}

// accessCheckFault checks that err is a *FaultError at offset want.
func accessCheckFault(t *testing.T, what string, err error, want int) {
	t.Helper()
	var fe *FaultError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFault) {
		t.Fatalf("%s = %v (%T); want a *FaultError matching ErrFault", what, err, err)
	}
	if fe.Offset != int64(want) {
		t.Errorf("%s: fault at offset %d, want %d", what, fe.Offset, want)
	}
}

// TestAccessFaultReturnsOffset faults inside fn, reading past the end of a
// truncated file and writing under Protect(Read): Access returns a
// *FaultError at the faulting byte's offset and leaves the goroutine's
// panic-on-fault setting as it was, whichever it was.
func TestAccessFaultReturnsOffset(t *testing.T) {
	ps := PageSize()
	for _, setting := range []bool{false, true} {
		t.Run(fmt.Sprintf("panicOnFault=%v", setting), func(t *testing.T) {
			t.Run("truncated", func(t *testing.T) {
				defer debug.SetPanicOnFault(debug.SetPanicOnFault(setting))
				if runtime.GOOS == "windows" {
					t.Skip("Windows refuses to truncate a file that is mapped")
				}
				skipUnderEmulator(t, "qemu-user gives no fault address for SIGBUS")
				r, f, _ := mapFile(t, pattern(4*ps, 1), os.O_RDWR, 0, 4*ps, Read, Shared)
				if err := f.Truncate(int64(ps)); err != nil {
					t.Fatal(err)
				}
				reached := 0
				err := r.Access(ps/2, 3*ps, func(b []byte) error {
					for i := range b {
						reached = i
						sink += b[i]
					}
					return nil
				})
				accessCheckFault(t, "Access reading past the truncated end", err, ps)
				if reached != ps/2 {
					t.Errorf("fn reached b[%d] before the fault; want b[%d]", reached, ps/2)
				}
				if got := debug.SetPanicOnFault(setting); got != setting {
					t.Errorf("panic-on-fault is %v after Access, want %v", got, setting)
				}
			})
			t.Run("read-only", func(t *testing.T) {
				defer debug.SetPanicOnFault(debug.SetPanicOnFault(setting))
				r := mapAnon(t, 3*ps, Read|Write, Private)
				if err := r.Protect(Read); err != nil {
					t.Fatal(err)
				}
				err := r.Access(ps, ps, func(b []byte) error {
					sink += b[0]
					b[17] = 1
					return nil
				})
				accessCheckFault(t, "Access writing under Protect(Read)", err, ps+17)
				if got := debug.SetPanicOnFault(setting); got != setting {
					t.Errorf("panic-on-fault is %v after Access, want %v", got, setting)
				}
				// The region is released: Protect does not wait forever.
				deadline(t, "Protect after a fault in Access", func() {
					if err := r.Protect(Read | Write); err != nil {
						t.Error(err)
					}
				})
			})
		})
	}
}

// TestAccessPassesErrorsAndPanics checks that fn's error is returned as is,
// that a panic in fn reaches the caller with its value, and that the region
// is released either way.
func TestAccessPassesErrorsAndPanics(t *testing.T) {
	r := mapAnon(t, 1*PageSize(), Read|Write, Private)
	mine := errors.New("fn's own error")
	if err := r.Access(0, 8, func([]byte) error { return mine }); err != mine {
		t.Errorf("Access = %v, want fn's error as is", err)
	}
	// A nil fn is a bad argument, not a panic.
	if err := r.Access(0, 8, nil); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Access with a nil fn = %v, want fs.ErrInvalid", err)
	}
	for _, value := range []any{"a string", fmt.Errorf("an error")} {
		got := func() (e any) {
			defer func() { e = recover() }()
			r.Access(0, 8, func([]byte) error { panic(value) })
			return nil
		}()
		if got != value {
			t.Errorf("Access whose fn panicked with %v: recovered %v", value, got)
		}
	}
	// A runtime error that is not a fault propagates.
	got := func() (e any) {
		defer func() { e = recover() }()
		r.Access(0, 8, func([]byte) error {
			var m map[int]int
			//lint:ignore SA5000 the runtime error is what this checks
			m[0] = 1
			return nil
		})
		return nil
	}()
	if _, ok := got.(runtime.Error); !ok {
		t.Errorf("Access whose fn indexed out of range panicked with %v (%T), want the runtime error", got, got)
	}
	// A nil pointer dereference in fn is a fault outside the region: it
	// propagates.
	got = func() (e any) {
		defer func() { e = recover() }()
		r.Access(0, 8, func([]byte) error {
			var p *[8]byte
			sink += p[3]
			return nil
		})
		return nil
	}()
	if _, ok := got.(runtime.Error); !ok {
		t.Errorf("Access whose fn dereferenced nil panicked with %v (%T), want a runtime error", got, got)
	}
	deadline(t, "Unmap after panics in Access", func() {
		if err := r.Unmap(); err != nil {
			t.Error(err)
		}
	})
}

// TestAccessRuntimeErrorOverMissingPage checks that a runtime error of fn
// that is not a memory fault propagates even when b holds a page that
// would fault (past the end of the file): Access does not turn it into a
// *FaultError by finding that page.
func TestAccessRuntimeErrorOverMissingPage(t *testing.T) {
	ps := PageSize()
	r, _, _ := pastEOFRegion(t, 2, 0)
	got := func() (e any) {
		defer func() { e = recover() }()
		err := r.Access(0, 2*ps, func(b []byte) error {
			var s []byte
			sink = s[len(b)%7] // index out of range
			return nil
		})
		return err
	}()
	if re, ok := got.(runtime.Error); !ok || isMemoryFault(re) {
		t.Errorf("Access whose fn indexed out of range over a missing page = %v (%T), want fn's runtime error", got, got)
	}
}

// TestAccessFaultOnPageThatCameBack truncates the file under a region and
// has fn fault reading b, then grow the file back (in a deferred call, so
// before Access sees the fault): the page is readable again when Access
// looks for the fault. Access must return ErrFault all the same, also where
// the system reports the fault without its address (qemu-user), and not
// take it for a panic of fn's own.
func TestAccessFaultOnPageThatCameBack(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a file that is mapped")
	}
	ps := PageSize()
	data := pattern(4*ps, 3)
	r, f, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	err := func() (err error) {
		defer func() {
			if e := recover(); e != nil {
				err = fmt.Errorf("Access panicked: %v", e)
			}
		}()
		return r.Access(2*ps+0x1f3, len(buf), func(b []byte) error {
			defer f.Truncate(int64(len(data)))
			copy(buf, b)
			return nil
		})
	}()
	if !errors.Is(err, ErrFault) {
		t.Fatalf("Access of a page past the file's end, which came back before Access returned: %v; want ErrFault", err)
	}
}

// TestAccessUnmapAndResizeWait starts Unmap or Resize from inside fn and
// checks that it has not returned, and b is still mapped, until fn returns.
func TestAccessUnmapAndResizeWait(t *testing.T) {
	ps := PageSize()
	for _, name := range []string{"Unmap", "Resize", "Protect"} {
		t.Run(name, func(t *testing.T) {
			r := mapAnon(t, 4*ps, Read|Write, Private)
			copy(r.Bytes(), pattern(4*ps, 6))
			var returned atomic.Bool
			done := make(chan error, 1)
			err := r.Access(0, 4*ps, func(b []byte) error {
				go func() {
					var err error
					switch name {
					case "Unmap":
						err = r.Unmap()
					case "Resize":
						err = r.Resize(ps)
					case "Protect":
						err = r.Protect(Read)
					}
					returned.Store(true)
					done <- err
				}()
				// Wait until the call holds the lock and waits for fn (seq is odd).
				for r.mu.seq.Load()&1 == 0 {
					runtime.Gosched()
				}
				for range 100 {
					runtime.Gosched()
				}
				if returned.Load() {
					return fmt.Errorf("%s returned while fn runs", name)
				}
				if !bytes.Equal(b, pattern(4*ps, 6)) {
					return fmt.Errorf("b changed while fn runs")
				}
				b[4*ps-1] = 1 // still mapped and writable
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			deadline(t, name, func() {
				if err := <-done; err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
			// And it did its work once fn had returned.
			switch {
			case name == "Unmap" && r.Mapped():
				t.Error("still mapped after Unmap returned")
			case name == "Resize" && r.Len() != ps:
				t.Errorf("Len() = %d after Resize(%d)", r.Len(), ps)
			case name == "Protect" && r.Prot() != Read:
				t.Errorf("Prot() = %v after Protect(Read)", r.Prot())
			}
		})
	}
}

// TestAccessDuringUnmapAndMap runs 8 goroutines in Access while another
// unmaps and maps the region again, many rounds: each call sees the file's
// bytes or returns ErrNotMapped.
func TestAccessDuringUnmapAndMap(t *testing.T) {
	ps := PageSize()
	data := pattern(8*ps, 8)
	r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		calls  atomic.Int64
		failed atomic.Value
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// i and off are kept modulo 4 and the file's size, so that
			// nothing overflows an int of 32 bits however long it runs.
			for i, off := 0, g*977%len(data); !stop.Load(); i, off = (i+1)%4, (off+131)%len(data) {
				n := min(len(data)-off, []int{1, 64, 4096, ps + 5}[i%4])
				err := r.Access(off, n, func(b []byte) error {
					if !bytes.Equal(b, data[off:off+n]) {
						return fmt.Errorf("Access(%d, %d) saw other bytes than the file's", off, n)
					}
					return nil
				})
				if err == nil {
					calls.Add(1)
				} else if !errors.Is(err, ErrNotMapped) {
					failed.CompareAndSwap(nil, err)
					stop.Store(true)
					return
				}
			}
		}()
	}
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	for range rounds {
		if stop.Load() {
			break
		}
		if err := r.Unmap(); err != nil {
			t.Fatal(err)
		}
		if err := r.Map(); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
	// The region is mapped now. On a loaded machine (or under an
	// emulator) the rounds may all end before a goroutine runs: give them
	// the mapped region for a while before asking that some call found it.
	for wait := time.Now().Add(10 * time.Second); calls.Load() == 0 && !stop.Load() && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Error("no Access call found the region mapped")
	}
}

// TestAccessGoexitReleasesRegion calls runtime.Goexit inside fn, with
// panic-on-fault off and on in the calling goroutine, and checks that the
// setting is as it was when the deferred calls of that goroutine run, and
// that Unmap does not wait for the ended Access.
func TestAccessGoexitReleasesRegion(t *testing.T) {
	r := mapAnon(t, 1*PageSize(), Read|Write, Private)
	for _, before := range []bool{false, true} {
		after := make(chan bool, 1)
		reached := false
		go func() {
			defer func() {
				old := debug.SetPanicOnFault(false)
				after <- old
			}()
			debug.SetPanicOnFault(before)
			r.Access(0, 8, func([]byte) error { runtime.Goexit(); return nil })
			reached = true
		}()
		if got := <-after; got != before {
			t.Errorf("panic-on-fault %v before an Access whose fn called Goexit, %v after", before, got)
		}
		if reached {
			t.Error("Access returned after its fn called Goexit")
		}
	}
	deadline(t, "Unmap after Goexit in Access", func() {
		if err := r.Unmap(); err != nil {
			t.Error(err)
		}
	})
}
