package mmap

// Tests of the basics that every platform must get right, written to run
// unchanged on unix and on Windows (scripts/test-windows.sh runs them under
// Wine). Files are made with tempFile and removed with os.RemoveAll, and
// every region is unmapped before its file is closed and removed.

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWinAnonRoundTrip(t *testing.T) {
	for _, flags := range []Flag{Private, Shared} {
		t.Run(flags.String(), func(t *testing.T) {
			r, err := NewAnon(3*PageSize(), Read|Write, flags)
			if err != nil {
				t.Fatal(err)
			}
			mapRegion(t, r, nil)
			want := pattern(r.Len(), 3)
			if n, err := r.WriteAt(want, 0); n != len(want) || err != nil {
				t.Fatalf("WriteAt = %d, %v; want %d, nil", n, err, len(want))
			}
			if got := readAll(t, r); !bytes.Equal(got, want) {
				t.Fatal("ReadAt does not return what WriteAt wrote")
			}
			if !bytes.Equal(r.Bytes(), want) {
				t.Fatal("Bytes does not hold what WriteAt wrote")
			}
			mustUnmap(t, r)
			if err := r.Unmap(); !errors.Is(err, ErrNotMapped) {
				t.Fatalf("second Unmap = %v, want ErrNotMapped", err)
			}
			if r.Bytes() != nil {
				t.Fatal("Bytes of an unmapped region is not nil")
			}
			mapRegion(t, r, nil)
			if got := readAll(t, r); !bytes.Equal(got, make([]byte, r.Len())) {
				t.Fatal("anonymous memory mapped again is not zero")
			}
			mustUnmap(t, r)
		})
	}
}

func TestWinFileShared(t *testing.T) {
	size := 2 * Granularity()
	f, name := tempFile(t, pattern(size, 1), os.O_RDWR)
	r, err := NewFile(f, 0, size, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
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
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the file does not hold what was written to the shared region")
	}
	mustUnmap(t, r)
	if err := r.Flush(); !errors.Is(err, ErrNotMapped) {
		t.Fatalf("Flush after Unmap = %v, want ErrNotMapped", err)
	}
	removeFile(t, f, name)
}

func TestWinFilePrivate(t *testing.T) {
	size := 2 * PageSize()
	orig := pattern(size, 5)
	f, name := tempFile(t, orig, os.O_RDONLY)
	r, err := NewFile(f, 0, size, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
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
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatal("a write to a private region reached the file")
	}
	mustUnmap(t, r)
	mapRegion(t, r, nil)
	if !bytes.Equal(r.Bytes(), orig) {
		t.Fatal("private region mapped again does not show the file's contents")
	}
	mustUnmap(t, r)
	removeFile(t, f, name)
}

func TestWinOpen(t *testing.T) {
	for _, size := range []int{0, 1, PageSize() + 123, 2 * PageSize()} {
		t.Run("", func(t *testing.T) {
			want := pattern(size, 11)
			name := filepath.Join(tempDir(t), "open")
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(name)
			if err != nil {
				t.Fatalf("Open of a %d-byte file: %v", size, err)
			}
			b := r.Bytes()
			if b == nil || r.Len() != size || !bytes.Equal(b, want) {
				t.Errorf("Open of a %d-byte file: Len %d, Bytes nil %v, equal %v", size, r.Len(), b == nil, bytes.Equal(b, want))
			}
			if size > 0 {
				if got := readAll(t, r); !bytes.Equal(got, want) {
					t.Error("ReadAt of an opened file does not return its contents")
				}
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := r.Map(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Map after Close of an opened region = %v, want fs.ErrClosed", err)
			}
			// Open keeps no handle: the file can go at once.
			if err := os.Remove(name); err != nil {
				t.Fatalf("removing the file after Close: %v", err)
			}
		})
	}
}

func TestWinGranularity(t *testing.T) {
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
}

func TestWinOffsetAlignment(t *testing.T) {
	g, p := Granularity(), PageSize()
	data := pattern(3*g, 21)
	f, name := tempFile(t, data, os.O_RDONLY)
	// An offset that is a multiple of the page size but, where the two
	// differ, not of the granularity.
	_, err := NewFile(f, int64(p), p, Read, Shared)
	if g != p {
		if !errors.Is(err, ErrUnaligned) || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("NewFile at offset %d with granularity %d = %v, want ErrUnaligned", p, g, err)
		}
	} else if err != nil {
		t.Fatalf("NewFile at offset %d: %v", p, err)
	}
	r, err := NewFile(f, int64(g), p, Read, Shared)
	if err != nil {
		t.Fatalf("NewFile at offset %d: %v", g, err)
	}
	mapRegion(t, r, nil)
	if !bytes.Equal(r.Bytes(), data[g:g+p]) {
		t.Fatalf("region at offset %d does not show the file's bytes there", g)
	}
	// The tail of the file: its length is not a whole number of pages.
	mustUnmap(t, r)
	tail := int64(2 * g)
	if _, err := f.Stat(); err != nil {
		t.Fatal(err)
	}
	r, err = NewFile(f, tail, len(data)-int(tail), Read, Private)
	if err != nil {
		t.Fatalf("NewFile of the file's last %d bytes: %v", len(data)-int(tail), err)
	}
	mapRegion(t, r, nil)
	if !bytes.Equal(r.Bytes(), data[tail:]) {
		t.Fatal("region of the file's tail does not show its bytes")
	}
	mustUnmap(t, r)
	removeFile(t, f, name)
}

func TestWinOddSizeFile(t *testing.T) {
	size := PageSize() + 100
	data := pattern(size, 31)
	f, name := tempFile(t, data, os.O_RDWR)
	r, err := NewFile(f, 0, size, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
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
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want := append(data[:size-3:size-3], 'x', 'y', 'x')
	if !bytes.Equal(got, want) {
		t.Fatalf("file after writes at its end: last bytes %q, want %q (size %d, want %d)", got[max(0, len(got)-3):], want[size-3:], len(got), len(want))
	}
	removeFile(t, f, name)
}

func TestWinHandlesClosed(t *testing.T) {
	size := PageSize()
	cases := []struct {
		name  string
		flag  int
		prot  Prot
		flags Flag
	}{
		{"shared-rw", os.O_RDWR, Read | Write, Shared},
		{"shared-r", os.O_RDONLY, Read, Shared},
		{"shared-r-of-rw", os.O_RDWR, Read, Shared},
		{"private-rw", os.O_RDONLY, Read | Write, Private},
		{"private-none", os.O_RDONLY, 0, Private},
		{"private-exec", os.O_RDONLY, Read | Exec, Private},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, name := tempFile(t, pattern(size, 2), c.flag)
			r, err := NewFile(f, 0, size, c.prot, c.flags)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				err := r.Map()
				if c.prot&Exec != 0 && err != nil {
					// A file not opened for execution may refuse it;
					// what matters is that nothing stays open.
					t.Logf("Map with Exec: %v", err)
					break
				}
				if err != nil {
					t.Fatalf("Map: %v", err)
				}
				if c.prot&Read != 0 {
					sink = r.Bytes()[size-1]
				}
				if err := r.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				mustUnmap(t, r)
			}
			removeFile(t, f, name)
		})
	}
}

func TestWinProtect(t *testing.T) {
	check := func(t *testing.T, r *Region) {
		t.Helper()
		mapRegion(t, r, nil)
		if _, err := r.WriteAt([]byte{1}, 0); err != nil {
			t.Fatalf("WriteAt before Protect: %v", err)
		}
		if err := r.Protect(Read); err != nil {
			t.Fatalf("Protect(Read): %v", err)
		}
		if r.Prot() != Read {
			t.Fatalf("Prot after Protect(Read) = %v", r.Prot())
		}
		n, err := r.WriteAt([]byte{2}, 0)
		if n != 0 || !errors.Is(err, ErrFault) || !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("WriteAt to a read-only region = %d, %v; want 0, ErrFault and fs.ErrPermission", n, err)
		}
		// The copy itself faults too, and is caught.
		if n, fault := tryCopy(r.Bytes()[:1], []byte{3}); n != 0 || fault == 0 {
			t.Fatalf("tryCopy into read-only memory = %d, %#x; want a fault", n, fault)
		}
		b := make([]byte, 1)
		if _, err := r.ReadAt(b, 0); err != nil || b[0] != 1 {
			t.Fatalf("ReadAt of a read-only region = %v, %v; want [1], nil", b, err)
		}
		if err := r.Protect(0); err != nil {
			t.Fatalf("Protect(0): %v", err)
		}
		if n, fault := tryCopy(b, r.Bytes()[:1]); n != 0 || fault == 0 {
			t.Fatalf("tryCopy from inaccessible memory = %d, %#x; want a fault", n, fault)
		}
		if err := r.Protect(Read | Write); err != nil {
			t.Fatalf("Protect(Read|Write): %v", err)
		}
		if _, err := r.WriteAt([]byte{4}, 0); err != nil {
			t.Fatalf("WriteAt after Protect(Read|Write): %v", err)
		}
		mustUnmap(t, r)
		if err := r.Protect(Read); !errors.Is(err, ErrNotMapped) {
			t.Fatalf("Protect after Unmap = %v, want ErrNotMapped", err)
		}
	}
	t.Run("anonymous", func(t *testing.T) {
		r, err := NewAnon(PageSize(), Read|Write, Private)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r)
	})
	for _, flags := range []Flag{Shared, Private} {
		t.Run("file-"+flags.String(), func(t *testing.T) {
			f, name := tempFile(t, pattern(PageSize(), 0), os.O_RDWR)
			r, err := NewFile(f, 0, PageSize(), Read|Write, flags)
			if err != nil {
				t.Fatal(err)
			}
			check(t, r)
			removeFile(t, f, name)
		})
	}
	t.Run("shared-read-only-file", func(t *testing.T) {
		f, name := tempFile(t, pattern(PageSize(), 0), os.O_RDONLY)
		r, err := NewFile(f, 0, PageSize(), Read, Shared)
		if err != nil {
			t.Fatal(err)
		}
		mapRegion(t, r, nil)
		if err := r.Protect(Read | Write); !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("Protect(Read|Write) of a file open read-only = %v, want fs.ErrPermission", err)
		}
		mustUnmap(t, r)
		removeFile(t, f, name)
	})
}

func TestWinResident(t *testing.T) {
	r, err := NewAnon(4*PageSize(), Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
	b := r.Bytes()
	for i := 0; i < len(b); i += PageSize() {
		b[i] = 1
	}
	res, err := r.Resident()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("Resident: %v", err)
	}
	if err != nil {
		t.Fatalf("Resident: %v", err)
	}
	if len(res) != 4 {
		t.Fatalf("Resident returned %d entries for 4 pages", len(res))
	}
	for i, in := range res {
		if !in {
			t.Errorf("page %d was just written but is not resident", i)
		}
	}
	mustUnmap(t, r)
	if _, err := r.Resident(); !errors.Is(err, ErrNotMapped) {
		t.Fatalf("Resident after Unmap = %v, want ErrNotMapped", err)
	}
}

func TestWinLock(t *testing.T) {
	r, err := NewAnon(2*PageSize(), Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
	if err := r.Unlock(); err != nil {
		t.Fatalf("Unlock of pages that are not locked: %v", err)
	}
	if err := r.Lock(); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if _, err := r.WriteAt([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	mustUnmap(t, r)
	if err := r.Lock(); !errors.Is(err, ErrNotMapped) {
		t.Fatalf("Lock after Unmap = %v, want ErrNotMapped", err)
	}

	locked, err := NewAnon(PageSize(), Read|Write, Private|Locked|Populate)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, locked, nil)
	mustUnmap(t, locked)
}

func TestWinAdvise(t *testing.T) {
	r, err := NewAnon(2*PageSize(), Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
	for _, a := range []Advice{Normal, WillNeed} {
		if err := r.Advise(a); err != nil {
			t.Errorf("Advise(%v): %v", a, err)
		}
	}
	if err := r.Advise(Advice(-1)); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Advise(-1) = %v, want fs.ErrInvalid", err)
	}
	if _, err := r.WriteAt(pattern(r.Len(), 1), 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Advise(DontNeed); err != nil {
		t.Fatalf("Advise(DontNeed): %v", err)
	}
	if got := readAll(t, r); !bytes.Equal(got, make([]byte, r.Len())) {
		t.Error("private anonymous memory does not read as zeros after DontNeed")
	}
	if _, err := r.WriteAt([]byte{1}, 0); err != nil {
		t.Fatalf("WriteAt after DontNeed: %v", err)
	}
	mustUnmap(t, r)
	if err := r.Advise(Normal); !errors.Is(err, ErrNotMapped) {
		t.Errorf("Advise after Unmap = %v, want ErrNotMapped", err)
	}

	// A shared file region keeps its contents.
	data := pattern(2*PageSize(), 8)
	f, name := tempFile(t, data, os.O_RDWR)
	fr, err := NewFile(f, 0, len(data), Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	mapRegion(t, fr, nil)
	copy(fr.Bytes(), "hello")
	if err := fr.Advise(WillNeed); err != nil {
		t.Errorf("Advise(WillNeed) of a file region: %v", err)
	}
	if err := fr.Advise(DontNeed); err != nil {
		t.Errorf("Advise(DontNeed) of a shared file region: %v", err)
	}
	want := append([]byte("hello"), data[5:]...)
	if got := readAll(t, fr); !bytes.Equal(got, want) {
		t.Error("shared file region lost its contents after DontNeed")
	}
	mustUnmap(t, fr)
	removeFile(t, f, name)
}

func TestWinAccessChecked(t *testing.T) {
	size := PageSize()
	ro, _ := tempFile(t, pattern(size, 0), os.O_RDONLY)
	if _, err := NewFile(ro, 0, size, Read|Write, Shared); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("shared writable region of a file open read-only: %v, want fs.ErrInvalid", err)
	}
	wo, _ := tempFile(t, pattern(size, 0), os.O_WRONLY)
	if _, err := NewFile(wo, 0, size, Read, Shared); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("region of a file open write-only: %v, want fs.ErrInvalid", err)
	}
	if _, err := NewFile(ro, 0, size, Read|Write, Private); err != nil {
		t.Errorf("private writable region of a file open read-only: %v", err)
	}
}
