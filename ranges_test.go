package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// These tests check the ranged forms of Advise, Lock, Unlock and
// FlushAsync: which pages they act on, what the kernel shows of them in
// /proc/self/smaps, and the ranges they refuse.

// rangedCalls are the ranged methods, by name.
var rangedCalls = []struct {
	name string
	call func(r *Region, off, n int) error
}{
	{"AdviseRange", func(r *Region, off, n int) error { return r.AdviseRange(off, n, Normal) }},
	{"LockRange", (*Region).LockRange},
	{"UnlockRange", (*Region).UnlockRange},
	{"FlushAsyncRange", (*Region).FlushAsyncRange},
	{"FlushRange", (*Region).FlushRange},
}

func TestRangesRejectBadRanges(t *testing.T) {
	ps := PageSize()
	f, _ := tempFile(t, pattern(4*ps, 1), os.O_RDWR)
	r, err := NewFile(f, 0, 4*ps, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rangedCalls {
		if err := c.call(r, 0, ps); err != ErrNotMapped {
			t.Errorf("%s of an unmapped region = %v, want ErrNotMapped", c.name, err)
		}
	}
	mapRegion(t, r, nil)
	bad := []struct{ off, n int }{
		{-1, 1}, {0, -1}, {-ps, 2 * ps}, {4*ps + 1, 0}, {0, 4*ps + 1}, {3 * ps, ps + 1}, {1, math.MaxInt}, {math.MaxInt, 1},
	}
	for _, c := range rangedCalls {
		for _, b := range bad {
			if err := c.call(r, b.off, b.n); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("%s(%d, %d) of a %d-byte region = %v, want fs.ErrInvalid", c.name, b.off, b.n, r.Len(), err)
			}
		}
		for _, g := range []struct{ off, n int }{{0, 0}, {4 * ps, 0}, {ps + 1, 1}, {0, 4 * ps}, {3*ps + 7, ps - 7}} {
			if err := c.call(r, g.off, g.n); err != nil {
				t.Errorf("%s(%d, %d) of a %d-byte region = %v, want nil", c.name, g.off, g.n, r.Len(), err)
			}
		}
	}
}

func TestRangesRoundOutToPages(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, 8*ps, Read|Write, Private)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r.Bytes())))
	for _, c := range []struct {
		off, n     int
		start, len int // in bytes from base; len 0: nothing to act on
	}{
		{0, 1, 0, ps},
		{ps - 1, 2, 0, 2 * ps},
		{ps, ps, ps, ps},
		{ps + 1, ps, ps, 2 * ps},
		{3*ps + 5, 0, 0, 0},
		{0, -1, 0, 8 * ps}, // the whole region
		{7 * ps, ps, 7 * ps, ps},
	} {
		r.mu.RLock()
		addr, size, err := r.span("test", c.off, c.n)
		r.mu.RUnlock()
		if err != nil {
			t.Errorf("span(%d, %d): %v", c.off, c.n, err)
			continue
		}
		if c.len == 0 {
			if addr != nil || size != 0 {
				t.Errorf("span(%d, %d) = %#x+%d, want nothing", c.off, c.n, addr, size)
			}
			continue
		}
		if uintptr(addr)-base != uintptr(c.start) || size != uintptr(c.len) {
			t.Errorf("span(%d, %d) = base+%d, %d bytes; want base+%d, %d bytes", c.off, c.n, uintptr(addr)-base, size, c.start, c.len)
		}
	}
}

func TestLockRangeLocksOnlyThoseVMAPages(t *testing.T) {
	needSmaps(t)
	ps := PageSize()
	r := mapAnon(t, 8*ps, Read|Write, Private)
	addr := regionAddr(r)
	// Bytes 100 past page 2 for a page: pages 2 and 3.
	if err := r.LockRange(2*ps+100, ps); err != nil {
		t.Fatalf("LockRange: %v", err)
	}
	locked := smapsAt(t, unsafe.Add(addr, 2*ps))
	if !locked.flags["lo"] || locked.start != uintptr(addr)+uintptr(2*ps) || locked.end != uintptr(addr)+uintptr(4*ps) {
		t.Errorf("after LockRange(2 pages + 100, a page): smaps entry %#x-%#x flags %v; want pages 2 and 3 locked (%#x-%#x)",
			locked.start, locked.end, vmFlagList(locked), uintptr(addr)+uintptr(2*ps), uintptr(addr)+uintptr(4*ps))
	}
	if got := locked.counters["Locked"]; got != int64(2*ps) {
		t.Errorf("Locked of the locked pages = %d, want %d", got, 2*ps)
	}
	for _, page := range []int{0, 1, 4, 7} {
		if m := smapsAt(t, unsafe.Add(addr, page*ps)); m.flags["lo"] {
			t.Errorf("page %d is locked (%#x-%#x), want only pages 2 and 3", page, m.start, m.end)
		}
	}
	if err := r.UnlockRange(3*ps, 1); err != nil {
		t.Fatalf("UnlockRange: %v", err)
	}
	if m := smapsAt(t, unsafe.Add(addr, 3*ps)); m.flags["lo"] {
		t.Errorf("page 3 still locked after UnlockRange(page 3, 1 byte)")
	}
	if m := smapsAt(t, unsafe.Add(addr, 2*ps)); !m.flags["lo"] {
		t.Errorf("page 2 unlocked by UnlockRange of page 3")
	}
	// The whole-region forms act on every page.
	if err := r.Lock(); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	for page := range 8 {
		if m := smapsAt(t, unsafe.Add(addr, page*ps)); !m.flags["lo"] {
			t.Errorf("after Lock: page %d has flags %v, want lo", page, vmFlagList(m))
		}
	}
	if err := r.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if m := smapsAt(t, unsafe.Add(addr, 2*ps)); m.flags["lo"] {
		t.Errorf("page 2 still locked after Unlock")
	}
}

func TestAdviseRangeDontNeedDropsOnlyThosePages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("DontNeed on a private file region restores the file's contents on Linux; elsewhere it may keep them or be unsupported")
	}
	skipUnderEmulator(t, "qemu-user ignores madvise")
	ps := PageSize()
	data := pattern(4*ps, 9)
	r, _, _ := mapFile(t, data, os.O_RDONLY, 0, 4*ps, Read|Write, Private)
	ones := bytes.Repeat([]byte{0xff}, 4*ps)
	if _, err := r.WriteAt(ones, 0); err != nil {
		t.Fatal(err)
	}
	needSmaps(t)
	before := smapsAt(t, regionAddr(r)).counters["Anonymous"]
	if before != int64(4*ps) {
		t.Errorf("Anonymous after writing 4 private pages = %d, want %d", before, 4*ps)
	}
	if err := r.AdviseRange(ps+10, ps-20, DontNeed); err != nil {
		t.Fatalf("AdviseRange(DontNeed): %v", err)
	}
	got := make([]byte, 4*ps)
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, ones[:ps]...), data[ps:2*ps]...), ones[2*ps:]...)
	if !bytes.Equal(got, want) {
		t.Errorf("after AdviseRange(DontNeed) of page 1: %s", diff(got, want))
	}
	if after := smapsAt(t, regionAddr(r)).counters["Anonymous"]; after != before-int64(ps) {
		t.Errorf("Anonymous after AdviseRange(DontNeed) of one page = %d, want %d", after, before-int64(ps))
	}
}

func TestAdviseRangeMarksOnlyThosePages(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "qemu-user ignores madvise")
	ps := PageSize()
	r := mapAnon(t, 8*ps, Read|Write, Private)
	addr := regionAddr(r)
	if err := r.AdviseRange(3*ps, 2*ps, Random); err != nil {
		t.Fatalf("AdviseRange(Random): %v", err)
	}
	m := smapsAt(t, unsafe.Add(addr, 3*ps))
	if !m.flags["rr"] || m.start != uintptr(addr)+uintptr(3*ps) || m.end != uintptr(addr)+uintptr(5*ps) {
		t.Errorf("after AdviseRange(3 pages, 2 pages, Random): entry %#x-%#x flags %v; want pages 3 and 4 (%#x-%#x) with rr",
			m.start, m.end, vmFlagList(m), uintptr(addr)+uintptr(3*ps), uintptr(addr)+uintptr(5*ps))
	}
	for _, page := range []int{0, 2, 5, 7} {
		if m := smapsAt(t, unsafe.Add(addr, page*ps)); m.flags["rr"] {
			t.Errorf("page %d advised Random (%#x-%#x), want only pages 3 and 4", page, m.start, m.end)
		}
	}
	if err := r.Advise(Sequential); err != nil {
		t.Fatalf("Advise(Sequential): %v", err)
	}
	for _, page := range []int{0, 3, 7} {
		if m := smapsAt(t, unsafe.Add(addr, page*ps)); !m.flags["sr"] || m.flags["rr"] {
			t.Errorf("after Advise(Sequential), page %d has flags %v, want sr and not rr", page, vmFlagList(m))
		}
	}
}
