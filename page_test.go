// This file tests page arithmetic at whatever page size the system runs with
// (scripts/test-qemu.sh runs it with 16 KiB and 64 KiB pages), and lengths
// at the limits of int (scripts/test-386.sh runs it where int has 32 bits).

package mmap

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

// TestAlign checks AlignOffset, AlignLength and Granularity at the page
// size and granularity of this system, and that AlignLength panics rather
// than wrap around near the top of int.
func TestAlign(t *testing.T) {
	t.Run("at the limits", func(t *testing.T) {
		ps, g := PageSize(), int64(Granularity())
		if ps <= 0 || ps&(ps-1) != 0 {
			t.Fatalf("PageSize() = %d, want a positive power of two", ps)
		}
		if g < int64(ps) || g%int64(ps) != 0 {
			t.Fatalf("Granularity() = %d, want a multiple of PageSize() = %d", g, ps)
		}
		for _, c := range []struct{ in, want int64 }{
			{0, 0}, {1, 0}, {g - 1, 0}, {g, g}, {g + 1, g}, {-1, -g}, {-g, -g}, {math.MaxInt64, math.MaxInt64 - (g - 1)},
		} {
			if got := AlignOffset(c.in); got != c.want {
				t.Errorf("AlignOffset(%d) = %d, want %d", c.in, got, c.want)
			}
		}
		for _, c := range []struct{ in, want int }{
			{0, 0}, {1, ps}, {ps, ps}, {ps + 1, 2 * ps}, {math.MaxInt &^ (ps - 1), math.MaxInt &^ (ps - 1)},
		} {
			if got := AlignLength(c.in); got != c.want {
				t.Errorf("AlignLength(%d) = %d, want %d", c.in, got, c.want)
			}
		}
		for _, n := range []int{-1, math.MinInt, math.MaxInt, math.MaxInt - ps + 2} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("AlignLength(%d) did not panic", n)
					}
				}()
				AlignLength(n)
			}()
		}
	})

	t.Run("at this page size", func(t *testing.T) {
		p := PageSize()
		g := int64(Granularity())
		for _, c := range []struct{ in, want int }{
			{0, 0}, {1, p}, {p - 1, p}, {p, p}, {p + 1, 2 * p}, {3*p - 1, 3 * p},
		} {
			if got := AlignLength(c.in); got != c.want {
				t.Errorf("AlignLength(%d) = %d, want %d", c.in, got, c.want)
			}
		}
		for _, c := range []struct{ in, want int64 }{
			{0, 0}, {1, 0}, {g - 1, 0}, {g, g}, {g + 1, g}, {5*g + 3, 5 * g}, {-1, -g}, {-g, -g}, {-g - 1, -2 * g},
		} {
			if got := AlignOffset(c.in); got != c.want {
				t.Errorf("AlignOffset(%d) = %d, want %d", c.in, got, c.want)
			}
		}
	})

	t.Run("granularity", func(t *testing.T) {
		g, p := Granularity(), PageSize()
		if g < p || g%p != 0 || g&(g-1) != 0 {
			t.Fatalf("Granularity %d is not a power-of-two multiple of PageSize %d", g, p)
		}
		if runtime.GOOS != "windows" && g != p {
			t.Fatalf("Granularity %d differs from PageSize %d on %s", g, p, runtime.GOOS)
		}
		if got := AlignOffset(int64(g) + 1); got != int64(g) {
			t.Fatalf("AlignOffset(%d) = %d, want %d", g+1, got, g)
		}
	})

	// Rounding a length near the top of int panics instead of wrapping
	// around.
	t.Run("overflow", func(t *testing.T) {
		p := PageSize()
		top := math.MaxInt &^ (p - 1) // the largest whole number of pages in an int
		if got := AlignLength(top); got != top {
			t.Errorf("AlignLength(%d) = %d", top, got)
		}
		for _, n := range []int{top + 1, math.MaxInt - p + 2, math.MaxInt} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("AlignLength(%d) did not panic", n)
					}
				}()
				got := AlignLength(n)
				t.Errorf("AlignLength(%d) = %d", n, got)
			}()
		}
		if _, ok := roundUp(top+1, p); ok {
			t.Errorf("roundUp(%d, %d) reports no overflow", top+1, p)
		}
		if got := AlignOffset(math.MinInt64); got != math.MinInt64 {
			t.Errorf("AlignOffset(MinInt64) = %d", got)
		}
		if got, want := AlignOffset(math.MaxInt64), int64(math.MaxInt64)&^int64(Granularity()-1); got != want {
			t.Errorf("AlignOffset(MaxInt64) = %d, want %d", got, want)
		}
	})
}

func TestPageSizeIsSystems(t *testing.T) {
	p := PageSize()
	if p != os.Getpagesize() {
		t.Fatalf("PageSize() = %d, os.Getpagesize() = %d", p, os.Getpagesize())
	}
	if p < 4096 || p&(p-1) != 0 {
		t.Fatalf("PageSize() = %d, want a power of two of at least 4096", p)
	}
	// The kernel's own word, where /proc gives it; Granularity is checked
	// by TestAlign/granularity.
	aux, ok := auxPageSize(t)
	if !ok {
		t.Logf("no auxiliary vector here: PageSize %d is checked against os.Getpagesize only", p)
	} else if aux != p {
		t.Fatalf("PageSize() = %d, AT_PAGESZ = %d", p, aux)
	}
}

// auxPageSize returns AT_PAGESZ from the auxiliary vector that the
// kernel (or qemu) gave the process, where /proc shows it.
func auxPageSize(t *testing.T) (int, bool) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Logf("no auxiliary vector to compare with: %v", err)
		return 0, false
	}
	const atPageSz = 6
	w := int(unsafe.Sizeof(uintptr(0)))
	word := func(i int) uint64 {
		var v uint64
		for k := w - 1; k >= 0; k-- { // native byte order, read byte by byte
			v = v<<8 | uint64(b[i+nativeByteIndex(k, w)])
		}
		return v
	}
	for i := 0; i+2*w <= len(b); i += 2 * w {
		if word(i) == atPageSz {
			return int(word(i + w)), true
		}
	}
	t.Logf("no AT_PAGESZ in /proc/self/auxv")
	return 0, false
}

// nativeByteIndex returns where byte k (0 = least significant) of a w-byte
// word lies in memory on this machine.
func nativeByteIndex(k, w int) int {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return k
	}
	return w - 1 - k
}

// TestChildSeesPageSize checks that a child process (which other tests
// use) runs, under an emulator too, and sees the same page size.
func TestChildSeesPageSize(t *testing.T) {
	out, err := childCommand(t, "printPageSize", nil).Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if got, want := string(out), strconv.Itoa(PageSize()); got != want {
		t.Fatalf("child's page size %q, want %q", got, want)
	}
}

func TestNewAnonRoundsToPages(t *testing.T) {
	p := PageSize()
	for _, n := range []int{1, p / 2, p - 1, p + 1, 2*p + 17} {
		if _, err := NewAnon(n, Read|Write, Private); !errors.Is(err, ErrUnaligned) {
			t.Errorf("NewAnon(%d) with page size %d: err = %v, want ErrUnaligned", n, p, err)
		}
		r, err := NewAnon(AlignLength(n), Read|Write, Private)
		if err != nil {
			t.Fatalf("NewAnon(AlignLength(%d)): %v", n, err)
		}
		if err := r.Map(); err != nil {
			t.Fatalf("Map of %d bytes: %v", r.Len(), err)
		}
		b := r.Bytes()
		if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(p) != 0 || len(b) != AlignLength(n) {
			t.Errorf("Bytes() at %p, %d bytes; want page-aligned, %d bytes", unsafe.SliceData(b), len(b), AlignLength(n))
		}
		want := pattern(len(b), byte(n))
		if k, err := r.WriteAt(want, 0); err != nil || k != len(want) {
			t.Fatalf("WriteAt: %d, %v", k, err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("Bytes() after WriteAt differs from what was written")
		}
		if res, err := r.Resident(); err == nil {
			if len(res) != len(b)/p {
				t.Errorf("Resident() has %d entries for %d pages", len(res), len(b)/p)
			}
			for i, in := range res {
				if !in {
					t.Errorf("page %d of %d just written is not resident", i, len(res))
				}
			}
		} else if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Resident: %v", err)
		}
		if err := r.Unmap(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProtectGranuleIsPageSize checks that the system really uses the
// page size the package reports: mprotect accepts a page boundary and
// refuses half a page.
func TestProtectGranuleIsPageSize(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("VirtualProtect rounds addresses to pages instead of refusing them")
	}
	p := PageSize()
	r := mapAnon(t, 2*p, Read|Write, Private)
	r.mu.RLock()
	addr := r.addr
	r.mu.RUnlock()
	if err := sysProtect(unsafe.Add(addr, p), uintptr(p), Read); err != nil {
		t.Errorf("mprotect of the second page (page size %d): %v", p, err)
	}
	if p > 4096 {
		skipUnderEmulator(t, "qemu-user's mprotect works on 4 KiB pieces whatever page size it reports")
	}
	if err := sysProtect(unsafe.Add(addr, p/2), uintptr(p/2), Read); err == nil {
		t.Errorf("mprotect at half a page (%d bytes) succeeded: the page size is not %d", p/2, p)
	}
}

// TestLengthOverflow checks lengths whose sums overflow int: with guard
// pages, and the ranges of FlushRange.
func TestLengthOverflow(t *testing.T) {
	top := math.MaxInt &^ (PageSize() - 1)
	r, err := NewAnon(top, Read|Write, Private|Guard)
	if err != nil {
		t.Fatalf("NewAnon(%d, Guard): %v", top, err)
	}
	if err := r.Map(); !errors.Is(err, fs.ErrInvalid) {
		r.Unmap()
		t.Fatalf("Map of %d bytes with guard pages: err = %v, want fs.ErrInvalid", top, err)
	}

	r, err = NewAnon(PageSize(), Read|Write, Private)
	mapRegion(t, r, err)
	for _, c := range [][2]int{{1, math.MaxInt}, {math.MaxInt, 1}, {PageSize(), math.MaxInt - PageSize() + 1}} {
		if err := r.FlushRange(c[0], c[1]); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("FlushRange(%d, %d) of a page: err = %v, want fs.ErrInvalid", c[0], c[1], err)
		}
	}
	// Offsets beyond 32 bits must not be cut to int.
	buf := make([]byte, 8)
	for _, off := range []int64{1 << 32, 1<<32 + 1, math.MaxInt64} {
		if n, err := r.ReadAt(buf, off); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at %d: %d, %v; want 0, io.EOF", off, n, err)
		}
		if n, err := r.WriteAt(buf, off); n != 0 || !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("WriteAt at %d: %d, %v; want 0, io.ErrShortWrite", off, n, err)
		}
	}
}

func init() {
	childFuncs["printPageSize"] = func() int {
		os.Stdout.WriteString(strconv.Itoa(PageSize()))
		return 0
	}
}
