//go:build !race

package mmap

import (
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

func init() {
	childFuncs["fixupFaultAfterAccess"] = fixupChildFaultAfterAccess
}

// TestAccessFaultThroughHandler checks Access where the package's handler,
// not panic-on-fault, makes a fault inside fn a panic: fn runs with the
// goroutine's panic-on-fault flag as the caller left it, a fault on the
// region's memory returns a *FaultError with its offset, and the flag is as
// it was afterwards. fn faults in code of each kind that the handler tells
// apart: a Go function with a frame, one without (a leaf), the runtime's
// copy, and assembly that uses BP as a register (md5, and sha256 on a
// machine with AVX2), where the chain of frame pointers is broken; and fn
// calls Access on another region, and recovers a fault of its own.
func TestAccessFaultThroughHandler(t *testing.T) {
	needFaultHandler(t)
	if !fixupAccess {
		t.Fatal("faults inside Access are not caught by the handler")
	}
	ps := PageSize()
	r := lostPagesRegion(t, 4, 1)
	other := mapAnon(t, ps, Read|Write, Private)
	buf := make([]byte, 2*ps)
	cases := []struct {
		name    string
		off, n  int
		fn      func(b []byte) error
		wantOff int // -1: fn's own result, nil
		// wantTo, if set, makes any offset in [wantOff, wantTo) right: the
		// runtime's copy may touch a later byte of the lost page first.
		wantTo int
		// scan tells that fn breaks the chain of frame pointers at the
		// fault: the handler searches the stack word by word.
		scan bool
	}{
		{"loop", ps - 8, 64, func(b []byte) error {
			for i := range b {
				sink += b[i]
			}
			return nil
		}, ps, 0, false},
		{"copy", ps / 2, ps, func(b []byte) error { copy(buf, b); return nil }, ps, ps + ps/2, false},
		{"leaf", ps + 24, 8, fixupLeafLoad, ps + 24, 0, false},
		{"md5", 0, 2 * ps, func(b []byte) error { sinkSum = md5.Sum(b)[0]; return nil }, ps, 0, true},
		{"sha256", 0, 2 * ps, func(b []byte) error { sinkSum = sha256.Sum256(b)[0]; return nil }, ps, 0, false},
		{"nested", 0, 8, func([]byte) error {
			// A fault in the inner Access is the inner Access's.
			err := other.Access(0, 8, func([]byte) error {
				return r.Access(2*ps, 8, fixupLeafLoad)
			})
			accessCheckFault(t, "inner Access", err, 2*ps)
			return nil
		}, -1, 0, false},
		{"recovered in fn", 0, 2 * ps, func(b []byte) (err error) {
			defer func() {
				if e := recover(); e == nil || !isMemoryFault(e) {
					err = fmt.Errorf("fn recovered %v, want a memory fault", e)
				}
			}()
			copy(buf, b)
			return errors.New("no fault")
		}, -1, 0, false},
	}
	for _, c := range cases {
		for _, setting := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/panicOnFault=%v", c.name, setting), func(t *testing.T) {
				defer debug.SetPanicOnFault(debug.SetPanicOnFault(setting))
				var called, flagInFn atomic.Bool
				scans := atomic.LoadUint64(&fixupScans)
				err := r.Access(c.off, c.n, func(b []byte) error {
					called.Store(true)
					flagInFn.Store(debug.SetPanicOnFault(setting))
					return c.fn(b)
				})
				var fe *FaultError
				switch {
				case c.wantOff < 0:
					if err != nil {
						t.Errorf("Access = %v, want nil", err)
					}
				case c.wantTo == 0:
					accessCheckFault(t, "Access", err, c.wantOff)
				case !errors.As(err, &fe) || !errors.Is(err, ErrFault):
					t.Errorf("Access = %v (%T); want a *FaultError matching ErrFault", err, err)
				case fe.Offset < int64(c.wantOff) || fe.Offset >= int64(c.wantTo):
					t.Errorf("Access: fault at offset %d, want one in [%d, %d)", fe.Offset, c.wantOff, c.wantTo)
				}
				if c.scan && atomic.LoadUint64(&fixupScans) == scans {
					t.Error("the handler did not search the stack word by word")
				}
				if !called.Load() {
					t.Error("fn was not called")
				} else if got := flagInFn.Load(); got != setting {
					t.Errorf("fn ran with panic-on-fault %v, want the caller's %v", got, setting)
				}
				if got := debug.SetPanicOnFault(setting); got != setting {
					t.Errorf("panic-on-fault is %v after Access, want %v", got, setting)
				}
				for i := range fixupSetG {
					if g := atomic.LoadUintptr(&fixupSetG[i]); g != 0 {
						t.Errorf("fixupSetG[%d] = %#x after Access, want 0", i, g)
					}
				}
				if n := atomic.LoadInt32(&fixupPending); n != 0 {
					t.Errorf("fixupPending = %d after Access, want 0", n)
				}
			})
		}
	}
}

var sinkSum byte

// lostPagesRegion maps pages pages of a file that holds pattern(pages*ps,
// seed), read-only and shared, then cuts the file to its first page: every
// access past that page faults.
func lostPagesRegion(t *testing.T, pages int, seed byte) *Region {
	t.Helper()
	ps := PageSize()
	r, f, _ := mapFile(t, pattern(pages*ps, seed), os.O_RDWR, 0, pages*ps, Read, Shared)
	if err := f.Truncate(int64(ps)); err != nil {
		t.Fatal(err)
	}
	return r
}

// fixupLeafLoad loads b's first 8 bytes: a function without a frame, which
// calls nothing.
func fixupLeafLoad(b []byte) error {
	sinkWord = *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
	return nil
}

var sinkWord uint64

// TestPanicOnFaultOffset checks the offset the handler uses against
// debug.SetPanicOnFault on this goroutine.
func TestPanicOnFaultOffset(t *testing.T) {
	needFaultHandler(t)
	at := panicOnFaultOffset()
	if at == 0 || at != fixupPanicOnFault {
		t.Fatalf("panicOnFaultOffset() = %d, fixupPanicOnFault = %d", at, fixupPanicOnFault)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(false))
	flag := (*uint8)(unsafe.Add(fixupG(), at))
	for _, v := range []bool{true, false, true} {
		debug.SetPanicOnFault(v)
		if got := *flag; got > 1 || (got == 1) != v {
			t.Errorf("after SetPanicOnFault(%v): the byte at %d is %d", v, at, got)
		}
	}
}

// TestFixupFaultAfterAccess checks, in a child, that a goroutine that
// called Access and returned from it still crashes, as the runtime makes it,
// on a fault outside Access: the handler finds no frame of Access on its
// stack, and leaves the fault alone.
func TestFixupFaultAfterAccess(t *testing.T) {
	needFaultHandler(t)
	fixupCheckCrash(t, "fixupFaultAfterAccess")
}

func fixupChildFaultAfterAccess() int {
	if !fixupChildReady() {
		return 4
	}
	if !fixupAccess {
		fmt.Fprintln(os.Stderr, "the fault handler does not catch faults inside Access")
		return 4
	}
	ps := PageSize()
	r, f := childFileRegion(2*ps, 2, Read)
	if r == nil {
		return 4
	}
	if err := f.Truncate(int64(ps)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	for range 3 {
		err := r.Access(ps, 8, fixupLeafLoad)
		if !errors.Is(err, ErrFault) {
			fmt.Fprintf(os.Stderr, "Access of a lost page = %v, want ErrFault\n", err)
			return 4
		}
	}
	b := r.Bytes()
	sinkWord = *(*uint64)(unsafe.Pointer(&b[ps+8])) // crashes
	return 0
}

// TestAccessFaultsAtOnce has goroutines fault inside Access at once, each
// with its own panic-on-fault setting, many times: every Access returns the
// fault, every goroutine's flag is as it set it afterwards, and the
// handler's record of the flags it set is empty at the end.
func TestAccessFaultsAtOnce(t *testing.T) {
	needFaultHandler(t)
	ps := PageSize()
	r := lostPagesRegion(t, 2, 4)
	const goroutines, rounds = 8, 300
	errs := make(chan error, goroutines)
	for i := range goroutines {
		go func() {
			setting := i%2 == 1
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(setting))
			for j := range rounds {
				off := ps + 8*(j%64)
				err := r.Access(off, 8, fixupLeafLoad)
				var fe *FaultError
				if !errors.As(err, &fe) || fe.Offset != int64(off) {
					errs <- fmt.Errorf("goroutine %d, round %d: Access at %d = %v, want its fault", i, j, off, err)
					return
				}
				if got := debug.SetPanicOnFault(setting); got != setting {
					errs <- fmt.Errorf("goroutine %d, round %d: panic-on-fault %v after Access, want %v", i, j, got, setting)
					return
				}
			}
			errs <- nil
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := atomic.LoadInt32(&fixupPending); n != 0 {
		t.Errorf("fixupPending = %d at the end, want 0", n)
	}
}

// TestAccessFaultDeepInFn has fn fault deep in a recursion that grows the
// goroutine's stack (the runtime copies it elsewhere, frame pointers and
// all) and in assembly that breaks the chain of frame pointers below that
// recursion: the handler still finds Access's frame.
func TestAccessFaultDeepInFn(t *testing.T) {
	needFaultHandler(t)
	ps := PageSize()
	r := lostPagesRegion(t, 2, 5)
	for _, depth := range []int{1000, 20000} {
		for _, asm := range []bool{false, true} {
			err := r.Access(0, 2*ps, func(b []byte) error {
				sink = fixupRecurse(depth, b, asm)
				return nil
			})
			accessCheckFault(t, fmt.Sprintf("Access faulting %d calls deep (md5: %v)", depth, asm), err, ps)
			if debug.SetPanicOnFault(false) {
				t.Errorf("depth %d: panic-on-fault left set after Access", depth)
			}
		}
	}
}

// fixupRecurse calls itself depth times with a frame of some size, then
// reads b, in Go or through md5.
func fixupRecurse(depth int, b []byte, asm bool) byte {
	var pad [64]byte
	pad[depth%64] = byte(depth)
	if depth > 0 {
		return fixupRecurse(depth-1, b, asm) + pad[(depth+1)%64]
	}
	if asm {
		return md5.Sum(b)[0]
	}
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// TestAccessNoStaleMatch checks that a fault after Access has returned, in a
// function called next by the same caller, is not taken for a fault inside
// Access: the handler leaves the goroutine's panic-on-fault flag alone. The
// functions have frames of every size from 8 to 512 bytes, so that one of
// them has its lowest word where Access's call of fn stored its return
// address (the word is overwritten by Access's later calls). The fault is a
// nil dereference, which the runtime makes a panic with or without the flag.
func TestAccessNoStaleMatch(t *testing.T) {
	needFaultHandler(t)
	r := mapAnon(t, PageSize(), Read|Write, Private)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(false))
	for i, sib := range fixupSiblings {
		fixupAccessThenFault(t, r, sib)
		if debug.SetPanicOnFault(false) {
			t.Errorf("frame %d: a nil dereference after Access returned set panic-on-fault", 8*(i+1))
		}
		if n := atomic.LoadInt32(&fixupPending); n != 0 {
			t.Fatalf("frame %d: fixupPending = %d after a fault outside Access", 8*(i+1), n)
		}
	}
}

// fixupAccessThenFault calls Access, then sib with a nil pointer, and
// recovers the panic.
//
//go:noinline
func fixupAccessThenFault(t *testing.T, r *Region, sib func(p *byte, i int) byte) {
	if err := r.Access(0, 8, func(b []byte) error { sink += b[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if e := recover(); e == nil {
			t.Error("no panic from a nil dereference")
		}
	}()
	sink = sib(nil, 1)
}

// fixupSibling loads *p with a frame of T's size on the stack.
//
//go:noinline
func fixupSibling[T any](p *byte, i int) byte {
	var buf T
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf)), unsafe.Sizeof(buf))
	v := *p
	b[i%len(b)] = v
	return fixupSum(b)
}

//go:noinline
func fixupSum(b []byte) (s byte) {
	for _, c := range b {
		s += c
	}
	return s
}

var fixupSiblings = []func(*byte, int) byte{
	fixupSibling[[8]byte],
	fixupSibling[[16]byte],
	fixupSibling[[24]byte],
	fixupSibling[[32]byte],
	fixupSibling[[40]byte],
	fixupSibling[[48]byte],
	fixupSibling[[56]byte],
	fixupSibling[[64]byte],
	fixupSibling[[72]byte],
	fixupSibling[[80]byte],
	fixupSibling[[88]byte],
	fixupSibling[[96]byte],
	fixupSibling[[104]byte],
	fixupSibling[[112]byte],
	fixupSibling[[120]byte],
	fixupSibling[[128]byte],
	fixupSibling[[136]byte],
	fixupSibling[[144]byte],
	fixupSibling[[152]byte],
	fixupSibling[[160]byte],
	fixupSibling[[168]byte],
	fixupSibling[[176]byte],
	fixupSibling[[184]byte],
	fixupSibling[[192]byte],
	fixupSibling[[200]byte],
	fixupSibling[[208]byte],
	fixupSibling[[216]byte],
	fixupSibling[[224]byte],
	fixupSibling[[232]byte],
	fixupSibling[[240]byte],
	fixupSibling[[248]byte],
	fixupSibling[[256]byte],
	fixupSibling[[264]byte],
	fixupSibling[[272]byte],
	fixupSibling[[280]byte],
	fixupSibling[[288]byte],
	fixupSibling[[296]byte],
	fixupSibling[[304]byte],
	fixupSibling[[312]byte],
	fixupSibling[[320]byte],
	fixupSibling[[328]byte],
	fixupSibling[[336]byte],
	fixupSibling[[344]byte],
	fixupSibling[[352]byte],
	fixupSibling[[360]byte],
	fixupSibling[[368]byte],
	fixupSibling[[376]byte],
	fixupSibling[[384]byte],
	fixupSibling[[392]byte],
	fixupSibling[[400]byte],
	fixupSibling[[408]byte],
	fixupSibling[[416]byte],
	fixupSibling[[424]byte],
	fixupSibling[[432]byte],
	fixupSibling[[440]byte],
	fixupSibling[[448]byte],
	fixupSibling[[456]byte],
	fixupSibling[[464]byte],
	fixupSibling[[472]byte],
	fixupSibling[[480]byte],
	fixupSibling[[488]byte],
	fixupSibling[[496]byte],
	fixupSibling[[504]byte],
	fixupSibling[[512]byte],
}

// TestAccessFaultsParked has more goroutines fault inside Access at once
// than the handler's first table size, each held inside fn's deferred
// function (which runs before Access recovers the fault) until all have
// faulted: every one returns with panic-on-fault as it was.
func TestAccessFaultsParked(t *testing.T) {
	needFaultHandler(t)
	const goroutines = 200 // fewer than fixupSlots
	ps := PageSize()
	r := lostPagesRegion(t, 2, 6)
	var inFn, release sync.WaitGroup
	inFn.Add(goroutines)
	release.Add(1)
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() {
			err := r.Access(ps, 8, func(b []byte) error {
				defer func() {
					inFn.Done()
					release.Wait()
				}()
				sink += b[0]
				return nil
			})
			if !errors.Is(err, ErrFault) {
				errs <- fmt.Errorf("Access = %v, want ErrFault", err)
				return
			}
			if debug.SetPanicOnFault(false) {
				errs <- errors.New("panic-on-fault left set after Access")
				return
			}
			errs <- nil
		}()
	}
	inFn.Wait()
	release.Done()
	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := atomic.LoadInt32(&fixupPending); n != 0 {
		t.Errorf("fixupPending = %d at the end, want 0", n)
	}
}
