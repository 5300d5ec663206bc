//go:build windows

// This file holds the tests of what is particular to Windows: the flags and
// advice it refuses, guard pages of anonymous regions, faults caught on a
// plain slice access, the names of the functions in errors, files that
// cannot be truncated under a view, handles left open, and how regions
// change size (file regions move to a new view, pages given back inside a
// reservation are decommitted, a lack of memory matches ENOMEM).

package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

func TestFlagsRefusedOnWindows(t *testing.T) {
	f, _ := tempFile(t, pattern(PageSize(), 0), os.O_RDWR)
	cases := []struct {
		name  string
		anon  bool
		flags Flag
	}{
		{"anon-HugePages", true, Private | HugePages},
		{"anon-Secret", true, Private | Secret},
		{"anon-NoReserve", true, Private | NoReserve},
		{"file-Guard", false, Shared | Guard},
		{"file-private-NoReserve", false, Private | NoReserve},
	}
	for _, c := range cases {
		var err error
		if c.anon {
			_, err = NewAnon(PageSize(), Read|Write, c.flags)
		} else {
			_, err = NewFile(f, 0, PageSize(), Read|Write, c.flags)
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: error %v, want errors.ErrUnsupported", c.name, err)
		}
	}
	r, err := NewFile(f, 0, PageSize(), Read|Write, Shared|NoReserve)
	if err != nil {
		t.Fatalf("NoReserve for a shared file region: %v", err)
	}
	mapRegion(t, r, nil)
	mustUnmap(t, r)
}

func TestAdviceRefusedOnWindows(t *testing.T) {
	r := mapAnon(t, PageSize(), Read|Write, Private)
	pr, f, name := mapFile(t, pattern(PageSize(), 0), os.O_RDONLY, 0, PageSize(), Read|Write, Private)
	for _, a := range []Advice{Sequential, Random, HugePage, NoHugePage, DontDump, DoDump} {
		for _, reg := range []*Region{r, pr} {
			err := reg.Advise(a)
			var pe *fs.PathError
			if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &pe) {
				t.Errorf("Advise(%v) of %s = %v, want an *fs.PathError matching errors.ErrUnsupported", a, reg.name, err)
			}
		}
	}
	// Free applies to anonymous memory only; a private view of a file
	// cannot drop its copies.
	if _, err := r.WriteAt([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Advise(Free); err != nil {
		t.Errorf("Advise(Free) of anonymous memory: %v", err)
	}
	if _, err := r.WriteAt([]byte{2}, 0); err != nil {
		t.Errorf("WriteAt after Free: %v", err)
	}
	for _, a := range []Advice{Free, DontNeed} {
		if err := pr.Advise(a); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Advise(%v) of a private file region = %v, want errors.ErrUnsupported", a, err)
		}
	}
	mustUnmap(t, pr)
	removeFile(t, f, name, r)
}

func TestGuardPagesStopCopy(t *testing.T) {
	r, err := NewAnon(2*PageSize(), Read|Write, Private|Guard)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mapRegion(t, r, nil)
		b := r.Bytes()
		clear(b)
		start := unsafe.Pointer(unsafe.SliceData(b))
		before := unsafe.Slice((*byte)(unsafe.Add(start, -1)), 1)
		after := unsafe.Slice((*byte)(unsafe.Add(start, len(b))), 1)
		one := make([]byte, 1)
		for _, g := range [][]byte{before, after} {
			if n, fault := tryCopy(one, g); n != 0 || fault != uintptr(unsafe.Pointer(&g[0])) {
				t.Errorf("read of the guard page at %p = %d, fault %#x; want a fault there", &g[0], n, fault)
			}
		}
		mustUnmap(t, r)
	}
}

// TestPanicOnFaultRecoversAccessViolation checks that the Go runtime turns an access violation on
// a plain slice access into a panic that can be recovered, when the
// goroutine asked for it, as the package's documentation tells users.
func TestPanicOnFaultRecoversAccessViolation(t *testing.T) {
	r := mapAnon(t, PageSize(), Read, Private)
	b := r.Bytes()
	addr := faultAt(unsafe.Pointer(&b[10]), true)
	if addr != uintptr(unsafe.Pointer(&b[10])) {
		t.Fatalf("write to read-only memory: fault at %#x, want a fault at %p", addr, &b[10])
	}
	mustUnmap(t, r)
}

func TestErrorsNameWindowsFunctions(t *testing.T) {
	r, f, name := mapFile(t, pattern(PageSize(), 0), os.O_RDONLY, 0, PageSize(), Read, Shared)
	err := r.Protect(Read | Write)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "VirtualProtect" || pe.Path != name || !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Errorf("Protect(Read|Write) of a read-only view = %#v, want a *fs.PathError from VirtualProtect on %s", err, name)
	}
	mustUnmap(t, r)

	// A file that is empty when Map is called fails before any call.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	f2, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewFile(f2, 0, PageSize(), Read, Shared)
	if !errors.Is(err, ErrPastEOF) {
		t.Errorf("NewFile of an empty file = %v, want ErrPastEOF", err)
	}
	if r2 != nil {
		t.Errorf("NewFile returned a region with its error")
	}
	removeFile(t, f2, name)
}

// TestNoTruncateUnderView checks what the package documents for Windows:
// a file cannot be made shorter while a view of it is mapped, so the faults
// of a truncated file do not happen there; it can once the view is gone.
func TestNoTruncateUnderView(t *testing.T) {
	r, f, name := mapFile(t, pattern(2*PageSize(), 0), os.O_RDWR, 0, 2*PageSize(), Read|Write, Shared)
	if err := f.Truncate(int64(PageSize())); err == nil {
		t.Error("Truncate of a file with a view mapped succeeded")
	} else {
		t.Logf("Truncate under a view: %v", err)
	}
	mustUnmap(t, r)
	if err := f.Truncate(int64(PageSize())); err != nil {
		t.Errorf("Truncate after Unmap: %v", err)
	}
	if err := r.Map(); !errors.Is(err, ErrPastEOF) {
		t.Errorf("Map of a region now past the end of its file = %v, want ErrPastEOF", err)
	}
	removeFile(t, f, name)
}

// nextHandle returns the value of a handle made and closed at once:
// Windows and Wine hand out a freed handle value again, so the value
// changes when a handle was left open in between.
func nextHandle(t *testing.T) windows.Handle {
	t.Helper()
	h, err := windows.CreateEvent(nil, 0, 0, nil)
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	windows.CloseHandle(h)
	return h
}

// checkNoHandleLeak fails the test if fn leaves a handle open. The runtime may open
// a handle of its own while fn runs (a new thread), so a change is only
// taken for a leak when it shows on every one of a few tries.
func checkNoHandleLeak(t *testing.T, fn func()) {
	t.Helper()
	var before, after windows.Handle
	for range 3 {
		before = nextHandle(t)
		fn()
		if after = nextHandle(t); after == before {
			return
		}
	}
	t.Errorf("a handle was left open: the next free handle was %#x before and %#x after", before, after)
}

func TestNoHandleLeak(t *testing.T) {
	size := PageSize() + 7
	f, name := tempFile(t, pattern(size, 0), os.O_RDWR)
	for _, c := range []struct {
		prot  Prot
		flags Flag
	}{
		{Read | Write, Shared},
		{Read, Shared},
		{Read | Write, Private},
		{0, Private},
		{Read | Exec, Private},
	} {
		r, err := NewFile(f, 0, size, c.prot, c.flags)
		if err != nil {
			t.Fatal(err)
		}
		checkNoHandleLeak(t, func() {
			if err := r.Map(); err != nil {
				t.Logf("Map %v %v: %v", c.prot, c.flags, err)
				return
			}
			if err := r.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			mustUnmap(t, r)
		})
	}
	checkNoHandleLeak(t, func() {
		r, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	// A Map that fails in the system (a file opened without write access,
	// checked after NewFile) leaves nothing open either.
	ro, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := NewFile(ro, 0, size, Read|Exec, Shared)
	if err != nil {
		t.Fatal(err)
	}
	checkNoHandleLeak(t, func() {
		if err := r.Map(); err == nil {
			t.Log("Map of Read|Exec over a read-only handle succeeded here: the failing path was not exercised")
			mustUnmap(t, r)
		}
	})
}

// TestReservationShims checks the shims that region.go uses to place memory
// inside a reservation: commit at an address in it, decommit part of it,
// and release it whole.
func TestReservationShims(t *testing.T) {
	p := uintptr(PageSize())
	base, err := sysReserve(4 * p)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			sysUnmap(base, 4*p)
		}
	}()
	addr, err := sysMap(^uintptr(0), 0, unsafe.Add(base, p), 2*p, Read|Write, Private)
	if err != nil || addr != unsafe.Add(base, p) {
		t.Fatalf("sysMap inside the reservation = %p, %v; want %p", addr, err, unsafe.Add(base, p))
	}
	mem := unsafe.Slice((*byte)(addr), 2*p)
	mem[0], mem[p] = 1, 2
	one := make([]byte, 1)
	if n, fault := tryCopy(one, unsafe.Slice((*byte)(base), 1)); n != 0 || fault == 0 {
		t.Errorf("the reserved page before the memory can be read")
	}
	if err := sysUnmap(unsafe.Add(addr, p), p); err != nil {
		t.Fatalf("sysUnmap of the second page: %v", err)
	}
	if n, fault := tryCopy(one, mem[p:p+1]); n != 0 || fault == 0 {
		t.Errorf("a page unmapped inside the reservation can still be read")
	}
	if n, _ := tryCopy(one, mem[:1]); n != 1 || one[0] != 1 {
		t.Errorf("the page left mapped lost its contents: %d, %v", n, one)
	}
	if _, err := sysMap(^uintptr(0), 0, unsafe.Add(addr, p), p, Read, Private); err != nil {
		t.Fatalf("sysMap of the second page again: %v", err)
	}
	if n, _ := tryCopy(one, mem[p:p+1]); n != 1 || one[0] != 0 {
		t.Errorf("a page mapped again is not zero: %d, %v", n, one)
	}
	released = true
	if err := sysUnmap(base, 4*p); err != nil {
		t.Fatalf("sysUnmap of the reservation: %v", err)
	}
}

// checkReleased fails the test if a view of a file still starts at addr.
func checkReleased(t *testing.T, addr unsafe.Pointer) {
	t.Helper()
	mbi, err := query(addr)
	if err != nil {
		t.Fatal(err)
	}
	if mbi.Type == memMapped && mbi.AllocationBase == uintptr(addr) {
		t.Errorf("the old view at %p is still mapped after Resize", addr)
	}
}

func TestResizeMovesFileView(t *testing.T) {
	ps := PageSize()
	for _, flags := range []Flag{Shared, Private} {
		t.Run(flags.String(), func(t *testing.T) {
			data := pattern(4*ps, 61)
			f, name := tempFile(t, data, os.O_RDWR)
			r, err := NewFile(f, 0, 2*ps, Read|Write, flags)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Reserve(16 * ps); !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("Reserve of a file region = %v, want errors.ErrUnsupported", err)
			}
			mapRegion(t, r, nil)
			if _, err := r.WriteAt([]byte("mark"), 0); err != nil {
				t.Fatal(err)
			}
			want := append([]byte("mark"), data[4:]...)
			for _, pages := range []int{4, 1, 3, 3, 2} {
				old := unsafe.Pointer(unsafe.SliceData(r.Bytes()))
				oldLen := r.Len()
				checkNoHandleLeak(t, func() {
					if err := r.Resize(pages * ps); err != nil {
						t.Fatalf("Resize(%d pages): %v", pages, err)
					}
				})
				now := unsafe.Pointer(unsafe.SliceData(r.Bytes()))
				if oldLen != pages*ps {
					if now == old {
						t.Errorf("Resize(%d pages) kept the view at %p", pages, now)
					}
					checkReleased(t, old)
				}
				if got := r.Bytes(); !bytes.Equal(got, want[:pages*ps]) {
					t.Fatalf("after Resize(%d pages) the region differs from its contents first at byte %d",
						pages, firstDiff(got, want))
				}
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			mustUnmap(t, r)
			onDisk := readFile(t, name)
			wantDisk := data
			if flags&Shared != 0 {
				wantDisk = want
			}
			if !bytes.Equal(onDisk, wantDisk) {
				t.Errorf("%v region: the file holds %q at its start, want %q", flags, onDisk[:4], wantDisk[:4])
			}
		})
	}
}

func TestResizeDecommitsReservation(t *testing.T) {
	ps := PageSize()
	r, err := NewAnon(4*ps, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reserve(8 * ps); err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
	b := r.Bytes()
	for i := range b {
		b[i] = 0xa5
	}
	base := unsafe.Pointer(unsafe.SliceData(b))
	if err := r.Resize(ps); err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{1, 3} {
		mbi, err := query(unsafe.Add(base, page*ps))
		if err != nil {
			t.Fatal(err)
		}
		if mbi.State != windows.MEM_RESERVE {
			t.Errorf("page %d after shrinking has state %#x, want MEM_RESERVE (decommitted)", page, mbi.State)
		}
	}
	if err := r.Resize(4 * ps); err != nil {
		t.Fatal(err)
	}
	b = r.Bytes()
	if unsafe.Pointer(unsafe.SliceData(b)) != base {
		t.Fatal("region moved inside its reservation")
	}
	if b[ps-1] != 0xa5 || firstNonZero(b[ps:]) >= 0 {
		t.Errorf("after shrinking and growing: last kept byte %#x (want 0xa5), first non-zero new byte at %d (want none)",
			b[ps-1], ps+firstNonZero(b[ps:]))
	}
	mustUnmap(t, r)
}

func TestNoMemoryMatchesENOMEM(t *testing.T) {
	for _, code := range []windows.Errno{windows.ERROR_NOT_ENOUGH_MEMORY, windows.ERROR_OUTOFMEMORY, windows.ERROR_COMMITMENT_LIMIT} {
		err := pathError("mmap", "anonymous", os.NewSyscallError("VirtualAlloc", code))
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "VirtualAlloc" || !errors.Is(err, syscall.ENOMEM) || !errors.Is(err, code) {
			t.Errorf("error of VirtualAlloc %d: %v; want an *fs.PathError with Op VirtualAlloc matching ENOMEM and the code", code, err)
		}
	}
	err := pathError("mmap", "anonymous", os.NewSyscallError("VirtualAlloc", windows.ERROR_INVALID_PARAMETER))
	if errors.Is(err, syscall.ENOMEM) || !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ERROR_INVALID_PARAMETER: %v; want fs.ErrInvalid, not ENOMEM", err)
	}
}
