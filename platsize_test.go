// This file tests what differs between platforms: page arithmetic at
// whatever page size the system runs with (scripts/test-qemu.sh runs it with
// 16 KiB and 64 KiB pages), and sizes and offsets at the limits of int and
// int64 (scripts/test-386.sh runs it where int has 32 bits).

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
	"strconv"
	"testing"
	"unsafe"
)

func TestPlatPageSizeIsSystems(t *testing.T) {
	p := PageSize()
	if p != os.Getpagesize() {
		t.Fatalf("PageSize() = %d, os.Getpagesize() = %d", p, os.Getpagesize())
	}
	if p < 4096 || p&(p-1) != 0 {
		t.Fatalf("PageSize() = %d, want a power of two of at least 4096", p)
	}
	if aux, ok := auxPageSize(t); ok && aux != p {
		t.Fatalf("PageSize() = %d, AT_PAGESZ = %d", p, aux)
	}
	if runtime.GOOS != "windows" && Granularity() != p {
		t.Fatalf("Granularity() = %d, want the page size %d", Granularity(), p)
	}
	t.Logf("page size %d, granularity %d", p, Granularity())
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

func init() {
	childFuncs["printPageSize"] = func() int {
		fmt.Print(PageSize())
		return 0
	}
}

// TestPlatPageSizeChild checks that a child process (which other tests
// use) runs, under an emulator too, and sees the same page size.
func TestPlatPageSizeChild(t *testing.T) {
	out, err := childCommand(t, "printPageSize", nil).Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if got, want := string(out), strconv.Itoa(PageSize()); got != want {
		t.Fatalf("child's page size %q, want %q", got, want)
	}
}

func TestPlatPageSizeArithmetic(t *testing.T) {
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
}

func TestPlatPageSizeAnon(t *testing.T) {
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

// TestPlatPageSizeProtectGranule checks that the system really uses the
// page size the package reports: mprotect accepts a page boundary and
// refuses half a page.
func TestPlatPageSizeProtectGranule(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("VirtualProtect rounds addresses to pages instead of refusing them")
	}
	p := PageSize()
	r, err := NewAnon(2*p, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
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

func TestPlatPageSizeFileTail(t *testing.T) {
	p := PageSize()
	g := Granularity()
	data := pattern(g+p+100, 3) // a tail of 100 bytes after the last whole page
	f, _ := tempFile(t, data, os.O_RDWR)
	cases := []struct {
		name   string
		off    int64
		length int
		want   error
	}{
		{"whole file", 0, len(data), nil},
		{"tail after an offset", int64(g), p + 100, nil},
		{"whole pages into the tail page", 0, AlignLength(len(data)), nil},
		{"short of the end, not whole pages", 0, len(data) - 1, ErrUnaligned},
		{"past the tail page", 0, AlignLength(len(data)) + p, ErrPastEOF},
		{"offset inside a granule", int64(g / 2), p, ErrUnaligned},
		{"offset past the end", AlignOffset(int64(len(data))) + int64(g), p, ErrPastEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewFile(f, c.off, c.length, Read, Shared)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("NewFile(%d, %d) of a %d-byte file, page size %d: err = %v, want %v", c.off, c.length, len(data), p, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFile(%d, %d): %v", c.off, c.length, err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			defer r.Unmap()
			inFile := min(c.length, len(data)-int(c.off))
			b := r.Bytes()
			if len(b) != c.length || !bytes.Equal(b[:inFile], data[c.off:int(c.off)+inFile]) {
				t.Fatalf("Bytes() has %d bytes, not the file's %d bytes at %d", len(b), c.length, c.off)
			}
			for i, v := range b[inFile:] {
				if v != 0 {
					t.Fatalf("byte %d past the end of the file is %#x, want 0", inFile+i, v)
				}
			}
			got := make([]byte, c.length+1)
			if n, err := r.ReadAt(got, 0); n != c.length || err != io.EOF || !bytes.Equal(got[:n], b) {
				t.Fatalf("ReadAt past the end: n = %d, err = %v; want %d, io.EOF", n, err, c.length)
			}
		})
	}
}

// TestPlatOverflowAlignLength checks that rounding a length near the top of
// int panics instead of wrapping around.
func TestPlatOverflowAlignLength(t *testing.T) {
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
}

// TestPlatOverflowLengths checks lengths whose sums overflow int: with guard
// pages, and the ranges of FlushRange.
func TestPlatOverflowLengths(t *testing.T) {
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
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
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

// TestPlatOverflowOffsets checks that an offset plus a length beyond int64
// is refused.
func TestPlatOverflowOffsets(t *testing.T) {
	f, _ := tempFile(t, pattern(PageSize(), 1), os.O_RDONLY)
	g := int64(Granularity())
	top := int64(math.MaxInt64) &^ (g - 1)
	for _, c := range []struct {
		off    int64
		length int
	}{
		{top, PageSize()},
		{top, int(g)},
		{top - g, 2*int(g) + 1},
		{top, math.MaxInt &^ (PageSize() - 1)},
	} {
		if int64(AlignLength(c.length)) <= math.MaxInt64-c.off {
			// No overflow where the granularity is larger than a page
			// (Windows): top plus one page still fits in an int64.
			continue
		}
		// The overflow is found before the file's size is looked at.
		_, err := NewFile(f, c.off, c.length, Read, Shared)
		if !errors.Is(err, fs.ErrInvalid) || errors.Is(err, ErrPastEOF) || errors.Is(err, ErrUnaligned) {
			t.Errorf("NewFile(off %d, length %d): err = %v, want an overflow matching fs.ErrInvalid", c.off, c.length, err)
		}
	}
}

// TestPlatOverflowEOF checks the end-of-file check for files whose size is
// close to the largest int64, where rounding the size up to a page would
// overflow.
func TestPlatOverflowEOF(t *testing.T) {
	p := PageSize()
	for _, c := range []struct {
		off    int64
		length int
		size   int64
		want   error
	}{
		{0, p, math.MaxInt64, nil},
		{0, p, math.MaxInt64 - 10, nil},
		{int64(math.MaxInt64) &^ int64(p-1), p, math.MaxInt64, nil},
		{int64(math.MaxInt64) &^ int64(p-1), p, int64(math.MaxInt64)&^int64(p-1) + 1, nil},
		{int64(math.MaxInt64) &^ int64(p-1), p, int64(math.MaxInt64)&^int64(p-1) - 1, ErrPastEOF},
		{int64(math.MaxInt64)&^int64(p-1) - int64(p), 2 * p, math.MaxInt64 - int64(p), ErrPastEOF},
	} {
		r := &Region{name: "test", off: c.off, length: c.length}
		if err := r.checkEOF(c.size); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("checkEOF of %d bytes at %d in a file of %d: err = %v, want %v", c.length, c.off, c.size, err, c.want)
		}
	}
}

// TestPlatOverflowOpen checks that Open refuses a file larger than the
// address space (any file over 2 GiB where int has 32 bits).
func TestPlatOverflowOpen(t *testing.T) {
	size := int64(math.MaxInt - PageSize() + 1)
	f := sparseFile(t, size)
	r, err := Open(f.Name())
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("Open of a %d-byte file: err = %v, want fs.ErrInvalid", size, err)
	}
}

// TestPlatOverflowFarOffset maps a page beyond 4 GiB into a file, and one
// beyond 16 TiB (past what mmap2 can reach on 32-bit Linux): each either maps
// the right bytes or fails with fs.ErrInvalid, never maps another part of
// the file.
func TestPlatOverflowFarOffset(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		skipUnderEmulator(t, "qemu-i386 7.2 cuts the file offsets of mmap2 to 32 bits")
	}
	for _, off := range []int64{1 << 32, 1 << 44} {
		off = AlignOffset(off)
		f := sparseFile(t, off+int64(PageSize()))
		want := pattern(64, byte(off>>32))
		if _, err := f.WriteAt(want, off); err != nil {
			t.Fatal(err)
		}
		r, err := NewFile(f, off, PageSize(), Read, Shared)
		if err != nil {
			t.Fatalf("NewFile at %d: %v", off, err)
		}
		if err := r.Map(); err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Map at offset %d: err = %v, want nil or fs.ErrInvalid", off, err)
			}
			t.Logf("Map at offset %d: %v", off, err)
			continue
		}
		got := make([]byte, len(want))
		_, err = r.ReadAt(got, 0)
		r.Unmap()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadAt of the page at offset %d: %v, bytes %x, want %x", off, err, got, want)
		}
	}
}

// TestPlatPageSizeFault truncates a mapped file and checks that ReadAt
// stops with ErrFault on a page boundary, having copied the bytes before it,
// at whatever page size runs. A file page that holds the end of the file
// stays readable on a real system; an emulator with pages larger than the
// host's may fault inside it, so the test takes any page boundary between
// the end of the file's last whole page and the end of its last page.
func TestPlatPageSizeFault(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a file that is mapped")
	}
	p := PageSize()
	data := pattern(3*p, 5)
	f, _ := tempFile(t, data, os.O_RDWR)
	r, err := NewFile(f, 0, len(data), Read, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
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

// TestPlatFaultWithoutAddress checks how ReadAt finds the faulting page
// when the system does not say where a fault happened (qemu-user gives no
// address for SIGBUS): by copying a page at a time.
func TestPlatFaultWithoutAddress(t *testing.T) {
	p := PageSize()
	r, err := NewAnon(3*p, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
	mem := r.Bytes()
	copy(mem, pattern(len(mem), 9))
	if err := sysProtect(unsafe.Add(unsafe.Pointer(&mem[0]), p), uintptr(p), 0); err != nil {
		t.Fatal(err)
	}
	start := uintptr(unsafe.Pointer(&mem[0]))
	for _, from := range []int{0, 100, p - 1} {
		dst := make([]byte, len(mem)-from)
		n, fault := copyByPage(dst, mem[from:], start+uintptr(from))
		if n != p-from || fault != start+uintptr(p) {
			t.Errorf("copyByPage from %d: %d bytes, fault at %#x; want %d bytes, fault at %#x", from, n, fault, p-from, start+uintptr(p))
		}
		if !bytes.Equal(dst[:n], pattern(len(mem), 9)[from:p]) {
			t.Errorf("copyByPage from %d copied wrong bytes", from)
		}
	}
	// A copy that does not fault copies everything.
	dst := make([]byte, p)
	if n, fault := copyByPage(dst, mem[2*p:], start+uintptr(2*p)); n != p || fault != 0 {
		t.Errorf("copyByPage of a readable page: %d, %#x; want %d, 0", n, fault, p)
	}
}
