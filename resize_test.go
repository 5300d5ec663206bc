// This file tests Resize, Grow and Reserve: contents, flags and protection
// kept across a change of size, and the address a reservation keeps.

package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

func TestResizeAnon(t *testing.T) { checkResizeAnon(t) }

// TestResizeAnonWithoutMremap takes the path of systems without mremap, mapping
// again and copying, on this one.
func TestResizeAnonWithoutMremap(t *testing.T) {
	old := remap
	remap = func(unsafe.Pointer, uintptr, unsafe.Pointer, uintptr) (unsafe.Pointer, error) {
		return nil, errors.ErrUnsupported
	}
	t.Cleanup(func() { remap = old })
	t.Run("anon", checkResizeAnon)
	t.Run("machine", checkResizeMachine)
}

func checkResizeAnon(t *testing.T) {
	ps := PageSize()
	for _, flags := range []Flag{
		Private, Shared, Private | Guard, Shared | Guard, Private | Locked, Private | Secret,
		Private | HugePages, Private | Populate, Shared | NoReserve,
	} {
		t.Run(flags.String(), func(t *testing.T) {
			r := mapAnon(t, 2*ps, Read|Write, flags)
			want := pattern(2*ps, 1)
			if _, err := r.WriteAt(want, 0); err != nil {
				t.Fatal(err)
			}
			steps := []int{5, 3, 1, 40, 2, 64}
			if flags&HugePages != 0 {
				// Past the slack left for alignment: the region moves.
				steps = append(steps, 2*hugePageSize()/ps+3, 7)
			}
			for _, pages := range steps {
				if err := r.Resize(pages * ps); err != nil {
					t.Fatalf("Resize(%d pages): %v", pages, err)
				}
				want = resized(want, pages*ps)
				checkContents(t, r, want)
				// New data in the new part must stick, the guard pages and
				// flags must follow the end.
				fresh := pattern(ps, byte(pages))
				if _, err := r.WriteAt(fresh, int64(len(want)-ps)); err != nil {
					t.Fatal(err)
				}
				copy(want[len(want)-ps:], fresh)
				checkVMAFlags(t, r)
			}
			checkContents(t, r, want)
		})
	}
}

// checkVMAFlags checks in /proc/self/smaps that the mapping of r has the
// kernel flags that its Flags ask for, from its first to its last page, and
// that Guard pages lie on both sides. It checks nothing on other systems.
func checkVMAFlags(t *testing.T, r *Region) {
	t.Helper()
	if runtime.GOOS != "linux" || smapsUntrusted() {
		return
	}
	b := r.Bytes()
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	last := first + uintptr(len(b)) - 1
	for _, a := range []uintptr{first, last} {
		v, ok := findSmaps(t, a)
		if !ok {
			t.Fatalf("no mapping holds address %#x of the region", a)
		}
		want := map[Flag]string{Locked: "lo", Secret: "dd", HugePages: "hg"}
		if emulated() {
			// qemu-user ignores madvise: only mlock shows in smaps.
			delete(want, Secret)
			delete(want, HugePages)
		}
		for f, name := range want {
			if r.Flags()&f != 0 && !v.flags[name] {
				t.Errorf("mapping at %#x lacks VmFlag %q for %v after Resize; flags %v", a, name, f, v.flags)
			}
		}
		if r.Flags()&Secret != 0 && !v.flags["lo"] {
			t.Errorf("Secret mapping at %#x is not locked", a)
		}
	}
	if h := uintptr(hugePageSize()); r.Flags()&HugePages != 0 && first%h != 0 {
		t.Errorf("HugePages region at %#x is not aligned to %#x after Resize", first, h)
	}
	if r.Flags()&(Guard|Secret) != 0 {
		if r.guards == guardMarkers {
			// Guard regions are part of the region's mapping.
			start := unsafe.Pointer(unsafe.SliceData(b))
			for _, p := range []unsafe.Pointer{unsafe.Add(start, -1), unsafe.Add(start, len(b))} {
				if faultAt(p, false) == 0 {
					t.Errorf("no fault at the guard region at %p", p)
				}
			}
			return
		}
		for _, a := range []uintptr{first - 1, last + 1} {
			v, ok := findSmaps(t, a)
			if !ok || v.perms[:3] != "---" {
				t.Errorf("no guard page at %#x (mapping %+v, found %v)", a, v, ok)
			}
		}
	}
}

func TestResizeFile(t *testing.T) {
	ps := PageSize()
	for _, flags := range []Flag{Shared, Private, Shared | Guard, Shared | Populate} {
		t.Run(flags.String(), func(t *testing.T) {
			data := pattern(3*ps+100, 3)
			f, _ := tempFile(t, data, os.O_RDWR)
			r, err := NewFile(f, 0, 2*ps, Read|Write, flags)
			r = mapRegion(t, r, err)

			// Past the end of the file: refused, region unchanged.
			if err := r.Resize(5 * ps); !errors.Is(err, ErrPastEOF) {
				t.Fatalf("Resize past EOF = %v, want ErrPastEOF", err)
			}
			checkContents(t, r, data[:2*ps])
			// Unaligned and not at the end of the file.
			if err := r.Resize(3*ps + 1); !errors.Is(err, ErrUnaligned) {
				t.Fatalf("Resize(3 pages + 1) = %v, want ErrUnaligned", err)
			}
			// Exactly to the end of the file, unaligned.
			if err := r.Resize(len(data)); err != nil {
				t.Fatal(err)
			}
			checkContents(t, r, data)
			// The file grows; so may the region.
			more := pattern(2*ps, 9)
			if _, err := f.WriteAt(more, int64(len(data))); err != nil {
				t.Fatal(err)
			}
			data = append(data, more...)
			if err := r.Resize(5 * ps); err != nil {
				t.Fatal(err)
			}
			checkContents(t, r, data[:5*ps])
			if _, err := r.WriteAt([]byte("tail"), int64(5*ps-4)); err != nil {
				t.Fatal(err)
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			onDisk := make([]byte, 4)
			if _, err := f.ReadAt(onDisk, int64(5*ps-4)); err != nil {
				t.Fatal(err)
			}
			if want := data[5*ps-4 : 5*ps]; flags&Shared != 0 {
				want = []byte("tail")
				copy(data[5*ps-4:], want)
				if !bytes.Equal(onDisk, want) {
					t.Errorf("file holds %q after a write to the grown part, want %q", onDisk, want)
				}
			} else if !bytes.Equal(onDisk, want) {
				t.Errorf("private write reached the file: %q, want %q", onDisk, want)
			}
			if err := r.Resize(ps); err != nil {
				t.Fatal(err)
			}
			want := data[:ps]
			checkContents(t, r, want)
			checkVMAFlags(t, r)
			// Map again after Unmap keeps the new length.
			mapAgain(t, r)
			checkContents(t, r, want)
		})
	}
}

func TestResizeErrors(t *testing.T) {
	ps := PageSize()
	r, err := NewAnon(ps, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Resize(2 * ps); err != ErrNotMapped {
		t.Errorf("Resize of an unmapped region = %v, want ErrNotMapped", err)
	}
	if err := r.Grow(2 * ps); err != ErrNotMapped {
		t.Errorf("Grow of an unmapped region = %v, want ErrNotMapped", err)
	}
	r = mapRegion(t, r, nil)
	for _, tc := range []struct {
		name   string
		length int
		want   error
	}{
		{"zero", 0, fs.ErrInvalid},
		{"negative", -ps, fs.ErrInvalid},
		{"unaligned", ps + 1, ErrUnaligned},
		{"overflow", int(^uint(0) >> 1), fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.Resize(tc.length); !errors.Is(err, tc.want) {
				t.Errorf("Resize(%d) = %v, want %v", tc.length, err, tc.want)
			}
			if r.Len() != ps {
				t.Errorf("Len() = %d after a refused Resize, want %d", r.Len(), ps)
			}
		})
	}
	if err := r.Grow(0); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Grow(0) = %v, want fs.ErrInvalid", err)
	}

	f, name := tempFile(t, pattern(2*ps, 0), os.O_RDWR)
	fr, err := NewFile(f, 0, ps, Read|Write, Shared)
	fr = mapRegion(t, fr, err)
	f.Close()
	if err := fr.Resize(2 * ps); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Resize of a region whose file is closed = %v, want fs.ErrClosed", err)
	}
	if err := fr.Grow(2 * ps); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Grow of a region whose file is closed = %v, want fs.ErrClosed", err)
	}

	o, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Resize(ps); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Resize of a region from Open = %v, want fs.ErrClosed", err)
	}
	if err := o.Grow(4 * ps); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Grow of a region from Open = %v, want fs.ErrClosed", err)
	}
}

func TestResizeKeepsProtection(t *testing.T) {
	ps := PageSize()
	for _, tc := range []struct {
		prot    Prot // what Resize must keep; smaps shows it as Prot.String does
		flags   Flag
		reserve int
	}{
		{Read, Private, 0},
		{Read, Private, 16 * ps},
		{Read, Shared, 0}, // moved by copying
		{0, Shared, 0},
		{0, Private | Guard, 0},
	} {
		t.Run(fmt.Sprintf("%v/reserve=%d/%v", tc.flags, tc.reserve, tc.prot), func(t *testing.T) {
			r, err := NewAnon(ps, Read|Write, tc.flags)
			r = mapReserved(t, r, err, tc.reserve)
			if _, err := r.WriteAt([]byte("kept"), 0); err != nil {
				t.Fatal(err)
			}
			if err := r.Protect(tc.prot); err != nil {
				t.Fatal(err)
			}
			if err := r.Resize(4 * ps); err != nil {
				t.Fatal(err)
			}
			if r.Prot() != tc.prot {
				t.Errorf("Prot() = %v after Resize, want %v", r.Prot(), tc.prot)
			}
			if _, err := r.WriteAt([]byte{1}, int64(3*ps)); !errors.Is(err, ErrFault) {
				t.Errorf("WriteAt to a grown %v region = %v, want ErrFault", tc.prot, err)
			}
			if runtime.GOOS == "linux" && !smapsUntrusted() {
				b := r.Bytes()
				for _, off := range []int{0, 3 * ps} {
					v, ok := findSmaps(t, uintptr(unsafe.Pointer(&b[off])))
					if !ok || v.perms[:3] != tc.prot.String() {
						t.Errorf("page at %d has permissions %q after Resize, want %v", off, v.perms, tc.prot)
					}
				}
			}
			if err := r.Protect(Read | Write); err != nil {
				t.Fatal(err)
			}
			checkContents(t, r, append([]byte("kept"), make([]byte, 4*ps-4)...))
		})
	}
}

func TestReserveKeepsAddress(t *testing.T) {
	ps := PageSize()
	const steps = 300
	for _, flags := range []Flag{Private, Shared, Private | Guard, Private | HugePages, Private | Secret} {
		t.Run(flags.String(), func(t *testing.T) {
			r, err := NewAnon(ps, Read|Write, flags)
			r = mapReserved(t, r, err, steps*ps)
			base := unsafe.SliceData(r.Bytes())
			for i := 1; i < steps; i++ {
				if _, err := r.WriteAt([]byte{byte(i)}, int64(r.Len()-1)); err != nil {
					t.Fatal(err)
				}
				if err := r.Resize((i + 1) * ps); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if p := unsafe.SliceData(r.Bytes()); p != base {
					t.Fatalf("step %d: region moved from %p to %p", i, base, p)
				}
			}
			b := r.Bytes()
			for i := 1; i < steps; i++ {
				if got := b[i*ps-1]; got != byte(i) {
					t.Fatalf("last byte of page %d = %d, want %d", i-1, got, byte(i))
				}
			}
			sink = b[len(b)-1]
			// Shrink and grow again: still in place, new pages zero.
			if err := r.Resize(10 * ps); err != nil {
				t.Fatal(err)
			}
			if err := r.Resize(steps * ps); err != nil {
				t.Fatal(err)
			}
			b = r.Bytes()
			if unsafe.SliceData(b) != base {
				t.Fatal("region moved after shrinking and growing again")
			}
			if b[10*ps-1] != 10 || b[20*ps-1] != 0 {
				t.Errorf("after shrink and regrow: byte %d = %d (want 10), byte %d = %d (want 0)",
					10*ps-1, b[10*ps-1], 20*ps-1, b[20*ps-1])
			}
			checkVMAFlags(t, r)
			// Beyond the reservation: refused, nothing changed.
			if err := r.Resize((steps + 1) * ps); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Resize beyond the reservation = %v, want fs.ErrInvalid", err)
			}
			if r.Len() != steps*ps || unsafe.SliceData(r.Bytes()) != base {
				t.Errorf("refused Resize changed the region: Len %d, address %p", r.Len(), unsafe.SliceData(r.Bytes()))
			}
			// Map again after Unmap uses the reservation again.
			mapAgain(t, r)
			if err := r.Resize(ps); err != nil {
				t.Fatal(err)
			}
			base = unsafe.SliceData(r.Bytes())
			if err := r.Resize(steps * ps); err != nil {
				t.Fatal(err)
			}
			if unsafe.SliceData(r.Bytes()) != base {
				t.Error("region moved inside its reservation after a second Map")
			}
		})
	}
}

func TestReserveFileGrow(t *testing.T) {
	ps := PageSize()
	const steps = 200
	f, _ := tempFile(t, pattern(ps, 5), os.O_RDWR)
	r, err := NewFile(f, 0, ps, Read|Write, Shared)
	r = mapReserved(t, r, err, steps*ps)
	base := unsafe.SliceData(r.Bytes())
	for i := 1; i < steps; i++ {
		if err := r.Grow((i + 1) * ps); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if _, err := r.WriteAt([]byte{byte(i)}, int64(i*ps)); err != nil {
			t.Fatal(err)
		}
		if p := unsafe.SliceData(r.Bytes()); p != base {
			t.Fatalf("step %d: region moved from %p to %p", i, base, p)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != steps*int64(ps) {
		t.Errorf("file size %d after Grow, want %d", fi.Size(), steps*ps)
	}
	got := make([]byte, 1)
	for _, i := range []int{1, steps / 2, steps - 1} {
		if _, err := f.ReadAt(got, int64(i*ps)); err != nil {
			t.Fatal(err)
		}
		if got[0] != byte(i) {
			t.Errorf("file byte at page %d = %d, want %d", i, got[0], byte(i))
		}
	}
	if err := r.Grow((steps + 1) * ps); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Grow beyond the reservation = %v, want fs.ErrInvalid", err)
	}
}

func TestReserveErrors(t *testing.T) {
	ps := PageSize()
	r, err := NewAnon(2*ps, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		max  int
		want error
	}{
		{"unaligned", 4*ps + 1, ErrUnaligned},
		{"smaller than Len", ps, fs.ErrInvalid},
		{"negative", -ps, fs.ErrInvalid},
		{"overflow", int(^uint(0)>>1) &^ (ps - 1), fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.Reserve(tc.max); !errors.Is(err, tc.want) {
				t.Errorf("Reserve(%d) = %v, want %v", tc.max, err, tc.want)
			}
		})
	}
	if err := r.Reserve(2 * ps); err != nil {
		t.Errorf("Reserve(Len) = %v", err)
	}
	r = mapRegion(t, r, nil)
	if err := r.Reserve(8 * ps); err != ErrMapped {
		t.Errorf("Reserve after Map = %v, want ErrMapped", err)
	}
}

// TestUnmapReleasesReservation checks that Unmap gives the whole
// reservation back, and that shrinking keeps it.
func TestUnmapReleasesReservation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/smaps")
	}
	ps := PageSize()
	r, err := NewAnon(ps, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reserve(64 * ps); err != nil {
		t.Fatal(err)
	}
	r = mapRegion(t, r, nil)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(r.Bytes())))
	if err := r.Resize(32 * ps); err != nil {
		t.Fatal(err)
	}
	if err := r.Resize(2 * ps); err != nil {
		t.Fatal(err)
	}
	end := start + uintptr(64*ps) - 1
	before := map[uintptr]smapsEntry{}
	for _, a := range []uintptr{start, start + uintptr(2*ps), end} {
		v, ok := findSmaps(t, a)
		if !ok {
			t.Fatalf("address %#x of the reservation is not mapped", a)
		}
		before[a] = v
	}
	if p := before[end].perms; p[:3] != "---" {
		t.Fatalf("last page of the reservation after shrinking has permissions %q, want an inaccessible mapping", p)
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	// Other mappings of the process (the runtime's, the race detector's)
	// may take the freed addresses at once, but are not pieces of ours:
	// inside their bounds, with their permissions.
	for a, old := range before {
		if v, ok := findSmaps(t, a); ok && v.start >= old.start && v.end <= old.end && v.perms == old.perms {
			t.Errorf("address %#x still mapped after Unmap: %+v", a, v)
		}
	}
}

// TestResizeDuringReadAt resizes a region while other goroutines
// read it: every read returns the right bytes, or io.EOF after the right
// bytes where the region was shorter, or ErrNotMapped once it is unmapped.
func TestResizeDuringReadAt(t *testing.T) {
	ps := PageSize()
	const maxPages = 16
	for _, tc := range []struct {
		name    string
		reserve int
		flags   Flag
		file    bool
	}{
		{"moving", 0, Private, false},
		{"shared", 0, Shared, false},
		{"guard", 0, Private | Guard, false},
		{"reserved", maxPages * ps, Private, false},
		{"file", 0, Shared, true},
		{"file reserved", maxPages * ps, Private, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := pattern(maxPages*ps, 7)
			var (
				r   *Region
				err error
			)
			if tc.file {
				// The file holds every byte: reads must match exactly.
				f, _ := tempFile(t, want, os.O_RDWR)
				r, err = NewFile(f, 0, ps, Read|Write, tc.flags)
			} else {
				r, err = NewAnon(ps, Read|Write, tc.flags)
			}
			r = mapReserved(t, r, err, tc.reserve)
			if _, err := r.WriteAt(want[:ps], 0); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 3 {
				wg.Go(func() {
					buf := make([]byte, 3*ps)
					// Offsets step by (g+1)*ps/3 bytes, kept modulo the
					// range so that nothing overflows a 32-bit int.
					for pos := 0; ; pos = (pos + (g+1)*ps/3) % (maxPages * ps) {
						off := (pos + g) % (maxPages * ps)
						n, err := r.ReadAt(buf, int64(off))
						if err == ErrNotMapped {
							return
						}
						if err != nil && err != io.EOF {
							errs <- fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v", len(buf), off, n, err)
							return
						}
						if err == nil && n != len(buf) {
							errs <- fmt.Errorf("ReadAt = %d, nil; want %d", n, len(buf))
							return
						}
						// Every page holds the pattern or, if just grown
						// and not written yet, zeros.
						for j := 0; j < n; j++ {
							if b := buf[j]; b != want[off+j] && (b != 0 || off+j < ps || tc.file) {
								errs <- fmt.Errorf("byte %d = %#x, want %#x (or 0)", off+j, b, want[off+j])
								return
							}
						}
					}
				})
			}
			for i := range 200 {
				pages := 1 + (i*7)%maxPages
				old := r.Len()
				if err := r.Resize(pages * ps); err != nil {
					t.Error(err)
					break
				}
				if pages*ps > old {
					if _, err := r.WriteAt(want[old:pages*ps], int64(old)); err != nil {
						t.Error(err)
						break
					}
				}
			}
			if err := r.Unmap(); err != nil {
				t.Error(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// BenchmarkResize grows a region from one page to 64 and shrinks it
// back, per way of growing.
func BenchmarkResize(b *testing.B) {
	ps := PageSize()
	for _, tc := range []struct {
		name    string
		flags   Flag
		reserve int
	}{
		{"mremap", Private, 0},
		{"reserved", Private, 64 * ps},
		{"copy", Shared, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := NewAnon(ps, Read|Write, tc.flags)
			r = mapReserved(b, r, err, tc.reserve)
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Resize(64 * ps); err != nil {
					b.Fatal(err)
				}
				if err := r.Resize(ps); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGrowPastFileEnd grows a region that already reaches past its
// file's end (Resize allows the rest of the file's last page, which is a
// whole page of 16 or 64 KiB on some systems): Grow must extend the file to
// the region's end even when the region itself grows little or not at all.
func TestGrowPastFileEnd(t *testing.T) {
	ps := PageSize()
	data := pattern(6*ps+1, 3)
	r, f, name := mapFile(t, data, os.O_RDWR, 0, ps, Read|Write, Shared)
	// 7 pages: the last one holds the file's final byte and lies mostly
	// beyond the file's end.
	if err := r.Resize(7 * ps); err != nil {
		t.Fatalf("Resize(7 pages) = %v", err)
	}
	for _, n := range []int{7 * ps, 8 * ps} {
		if err := r.Grow(n); err != nil {
			t.Fatalf("Grow(%d) = %v", n, err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(n) {
			t.Fatalf("after Grow(%d) the file has %d bytes, want %d", n, fi.Size(), n)
		}
	}
	// Writes to the grown part reach the file; the file's old bytes stay.
	want := pattern(2*ps, 9)
	if _, err := r.WriteAt(want, int64(6*ps)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, name)
	if !bytes.Equal(got[:6*ps], data[:6*ps]) || !bytes.Equal(got[6*ps:], want) {
		t.Fatal("file after Grow and WriteAt differs from what was written")
	}
}
