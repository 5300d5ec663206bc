package mmap

// Tests of how regions change size on Windows: file regions move to a new
// view (Reserve is refused for them), pages given back inside a
// reservation are decommitted, and a lack of memory matches ENOMEM.

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

func TestWfxResizeFileView(t *testing.T) {
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
			onDisk, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
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

func TestWfxReserveDecommits(t *testing.T) {
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

func TestWfxNoMemory(t *testing.T) {
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
