package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"
	"unsafe"
)

// fuzzMaxPages bounds what the fuzz targets map, so that a length such
// as 1<<40 with Populate or Locked is only validated, never faulted in.
const fuzzMaxPages = 64

// checkMapped checks a mapped region of length bytes: Bytes is exactly
// Len bytes long and starts on a page boundary, and the region holds want
// followed by zeros.
func checkMapped(t *testing.T, r *Region, length int, want []byte) {
	t.Helper()
	b := r.Bytes()
	if r.Len() != length || len(b) != length {
		t.Fatalf("Len() = %d, len(Bytes()) = %d; want %d", r.Len(), len(b), length)
	}
	if addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))); addr%uintptr(PageSize()) != 0 {
		t.Fatalf("Bytes() at %#x, not on a page boundary", addr)
	}
	if r.Prot()&(Read|Write) == 0 {
		if err := r.Protect(Read); err != nil {
			t.Fatalf("Protect(Read): %v", err)
		}
	}
	got := make([]byte, length)
	if n, err := r.ReadAt(got, 0); n != length || err != nil {
		t.Fatalf("ReadAt of the whole region = %d, %v", n, err)
	}
	full := make([]byte, length)
	copy(full, want)
	if !bytes.Equal(got, full) {
		t.Fatalf("region differs from the file (-want +got):\n%s", diff(got, full))
	}
}

// checkMappedPastEOF checks a mapped PastEOF region of length bytes whose
// first inFile bytes (possibly none) lie in pages of the file: those hold
// want followed by zeros, and a read of the page after them is a fault
// matching ErrPastEOF.
func checkMappedPastEOF(t *testing.T, r *Region, length int, want []byte, inFile int64) {
	t.Helper()
	if r.Len() != length || len(r.Bytes()) != length {
		t.Fatalf("Len() = %d, len(Bytes()) = %d; want %d", r.Len(), len(r.Bytes()), length)
	}
	if r.Prot()&(Read|Write) == 0 {
		if err := r.Protect(Read); err != nil {
			t.Fatalf("Protect(Read): %v", err)
		}
	}
	n := int(max(0, min(int64(length), inFile)))
	got := make([]byte, n)
	if m, err := r.ReadAt(got, 0); m != n || err != nil {
		t.Fatalf("ReadAt of the %d bytes in the file's pages = %d, %v", n, m, err)
	}
	full := make([]byte, n)
	copy(full, want)
	if !bytes.Equal(got, full) {
		t.Fatalf("region differs from the file (-want +got):\n%s", diff(got, full))
	}
	if n < length {
		if _, err := r.ReadAt(make([]byte, 1), int64(n)); !errors.Is(err, ErrFault) || !errors.Is(err, ErrPastEOF) {
			t.Fatalf("ReadAt of the first page past the end of the file: %v, want a fault matching ErrPastEOF", err)
		}
	}
}

// mapValid maps r, which a constructor accepted, and reports whether it is
// mapped. The arguments are valid, so only the system may refuse, with an
// error of the operating system or errors.ErrUnsupported.
func mapValid(t *testing.T, r *Region) bool {
	t.Helper()
	err := r.Map()
	if err == nil {
		return true
	}
	checkClassified(t, "Map", err)
	var pe *fs.PathError
	if !errors.As(err, &pe) && !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Map of a valid region: %v", err)
	}
	return false
}

// FuzzNewFile calls NewFile with arbitrary arguments on files of up to 8
// pages: it never panics, every error is classified, a region it accepts
// lies within the file and follows the alignment rule, and a successful
// Map gives Len() bytes equal to the file's content (zeros past its end in
// the last page).
func FuzzNewFile(f *testing.F) {
	for _, c := range newFileCases() {
		f.Add(c.off, c.length, uint8(c.prot), uint32(c.flags), c.size, c.rdonly)
	}
	dir := tempDir(f)
	ps := PageSize()
	f.Fuzz(func(t *testing.T, off int64, length int, prot uint8, flags uint32, size int64, rdonly bool) {
		size = int64(uint64(size) % uint64(8*ps+1))
		content := pattern(int(size), byte(size))
		file, err := os.CreateTemp(dir, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		name := file.Name()
		defer os.Remove(name)
		_, err = file.Write(content)
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
		flag := os.O_RDWR
		if rdonly {
			flag = os.O_RDONLY
		}
		if file, err = os.OpenFile(name, flag, 0); err != nil {
			t.Fatal(err)
		}
		defer file.Close()

		r, err := NewFile(file, off, length, Prot(prot), Flag(flags))
		if err != nil {
			if r != nil {
				t.Fatalf("NewFile returned a region with error %v", err)
			}
			checkClassified(t, "NewFile", err)
			return
		}
		g, mapLen := int64(Granularity()), int64(AlignLength(length))
		pastEOF := Flag(flags)&PastEOF != 0 // pages past the file's end allowed
		switch {
		case off < 0 || off%g != 0:
			t.Fatalf("NewFile accepted offset %d", off)
		case length <= 0 || (length%ps != 0 && off+int64(length) != size):
			t.Fatalf("NewFile accepted length %d at offset %d of a %d-byte file", length, off, size)
		case !pastEOF && off+mapLen > int64(AlignLength(int(size))):
			t.Fatalf("NewFile accepted %d bytes at offset %d of a %d-byte file: a page past the end", length, off, size)
		case Prot(prot)&^(Read|Write|Exec) != 0:
			t.Fatalf("NewFile accepted protection %v", Prot(prot))
		}
		if !mapValid(t, r) {
			return
		}
		defer r.Unmap()
		if r.Offset() != off || r.Flags() != Flag(flags) || r.Prot() != Prot(prot) {
			t.Fatalf("Offset, Flags, Prot = %d, %v, %v; want %d, %v, %v", r.Offset(), r.Flags(), r.Prot(), off, Flag(flags), Prot(prot))
		}
		if pastEOF {
			skipUnderLargePages(t, whyNoPastEOF)
			checkMappedPastEOF(t, r, length, content[min(off, size):min(off+int64(length), size)], int64(AlignLength(int(size)))-off)
		} else {
			checkMapped(t, r, length, content[off:min(off+int64(length), size)])
		}
		if err := r.Unmap(); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
	})
}

// FuzzNewAnon calls NewAnon with arbitrary arguments: it never panics,
// every error is classified, and a region of up to 64 pages maps to
// page-aligned zeros.
func FuzzNewAnon(f *testing.F) {
	for _, c := range newAnonCases() {
		f.Add(c.length, uint8(c.prot), uint32(c.flags))
	}
	f.Fuzz(func(t *testing.T, length int, prot uint8, flags uint32) {
		r, err := NewAnon(length, Prot(prot), Flag(flags))
		if err != nil {
			if r != nil {
				t.Fatalf("NewAnon returned a region with error %v", err)
			}
			checkClassified(t, "NewAnon", err)
			return
		}
		if length <= 0 || length%PageSize() != 0 {
			t.Fatalf("NewAnon accepted length %d", length)
		}
		if length > fuzzMaxPages*PageSize() {
			return
		}
		if !mapValid(t, r) {
			return
		}
		defer r.Unmap()
		checkMapped(t, r, length, nil)
		if err := r.Unmap(); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
	})
}
