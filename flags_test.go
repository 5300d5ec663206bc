// This file tests the flags and calls that change how memory is held
// (Populate, Locked, NoReserve, Guard, Secret, HugePages; Protect, Lock,
// Resident, Advise), through what the region does and, on Linux, through
// the kernel's own account of the mapping in /proc/self/smaps.

package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestResident reports the pages of a region that are in memory: those
// written, not those never touched, and all of a populated file region.
func TestResident(t *testing.T) {
	ps := PageSize()
	t.Run("untouched pages are not resident", func(t *testing.T) {
		r := mapAnon(t, 4*ps, Read|Write, Private)
		for _, page := range []int{0, 2} {
			if _, err := r.WriteAt([]byte{1}, int64(page*ps)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := r.Resident()
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("Resident: %v", err)
		}
		if err != nil {
			t.Fatalf("Resident: %v", err)
		}
		// Pages never touched are not in memory: anonymous memory is allocated
		// on the first access.
		if want := []bool{true, false, true, false}; !slices.Equal(res, want) {
			t.Errorf("Resident() = %v, want %v", res, want)
		}

		data := pattern(3*ps+5, 3)
		skipUnderLargePages(t, "qemu-user maps a file only up to the end of the host page that holds the file's end, "+
			"so mincore of the rest of the guest's last page fails (ENOMEM)")
		fr, _, _ := mapFile(t, data, os.O_RDONLY, 0, len(data), Read, Shared|Populate)
		res, err = fr.Resident()
		if err != nil {
			t.Fatalf("Resident of a file region: %v", err)
		}
		if want := []bool{true, true, true, true}; !slices.Equal(res, want) {
			t.Errorf("Resident() of a populated file region = %v, want %v", res, want)
		}
	})

	t.Run("written pages are resident", func(t *testing.T) {
		r := mapAnon(t, 4*ps, Read|Write, Private)
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
	})
}

// TestAdvise gives each advice to anonymous and file regions: only DontNeed
// and Free may drop contents, and a region not mapped refuses advice.
func TestAdvise(t *testing.T) {
	ps := PageSize()
	t.Run("every advice keeps the contents", func(t *testing.T) {
		data := pattern(2*ps, 21)
		fr, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
		for a := Normal; a <= Free; a++ {
			r := mapAnon(t, 2*ps, Read|Write, Private)
			if _, err := r.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
			err := r.Advise(a)
			if err != nil && !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Advise(%v) of anonymous memory: %v", a, err)
				continue
			}
			if err != nil {
				t.Logf("Advise(%v): %v", a, err)
			}
			// Only DontNeed and Free may drop the contents; Free only under
			// memory pressure, when the page reads as zeros.
			got := r.Bytes()
			switch {
			case a == DontNeed && err == nil:
				if i := firstNonZero(got); i >= 0 {
					t.Errorf("after Advise(DontNeed) anonymous byte %d = %#x, want 0", i, got[i])
				}
			case a == Free:
			default:
				if !bytes.Equal(got, data) {
					t.Errorf("Advise(%v) changed the contents", a)
				}
			}
			if a == Free {
				continue // Free is for anonymous memory only.
			}
			if err := fr.Advise(a); err != nil && !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Advise(%v) of a shared file region: %v", a, err)
			}
			if got := fr.Bytes(); !bytes.Equal(got, data) {
				t.Errorf("Advise(%v) changed the contents of a shared file region", a)
			}
		}
	})

	t.Run("DontNeed zeroes private anonymous memory", func(t *testing.T) {
		r := mapAnon(t, 2*ps, Read|Write, Private)
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
		data := pattern(2*ps, 8)
		fr, f, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
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
		removeFile(t, f, name, fr)
	})
}

// TestLockUnlock locks the pages of a region in memory and unlocks them,
// also when they were not locked, and refuses a region not mapped.
func TestLockUnlock(t *testing.T) {
	ps := PageSize()
	t.Run("locked pages are resident", func(t *testing.T) {
		r := mapAnon(t, 4*ps, Read|Write, Private)
		if err := r.Lock(); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && (errors.Is(err, syscall.EPERM) || errors.Is(err, errNoMemory)) {
				t.Skipf("Lock: %v (RLIMIT_MEMLOCK)", err)
			}
			t.Fatalf("Lock: %v", err)
		}
		if res, err := r.Resident(); err == nil {
			for i, in := range res {
				if !in {
					t.Errorf("page %d not resident after Lock", i)
				}
			}
		} else if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Resident: %v", err)
		}
		if n, err := r.WriteAt(pattern(4*ps, 1), 0); n != 4*ps || err != nil {
			t.Errorf("WriteAt to a locked region = %d, %v", n, err)
		}
		if err := r.Unlock(); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		if err := r.Unlock(); err != nil {
			t.Errorf("second Unlock: %v", err)
		}
	})

	t.Run("unlock without lock and after unmap", func(t *testing.T) {
		r := mapAnon(t, 2*ps, Read|Write, Private)
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

		locked := mapAnon(t, ps, Read|Write, Private|Locked|Populate)
		mustUnmap(t, locked)
	})
}

// TestProtect changes the protection of mapped regions: ReadAt and WriteAt
// follow it, a fault on protected memory is caught, Map restores the
// original protection, and a region not mapped refuses it.
func TestProtect(t *testing.T) {
	ps := PageSize()
	t.Run("file regions follow each protection", func(t *testing.T) {
		data := pattern(2*ps, 23)
		for _, flags := range []Flag{Shared, Private} {
			t.Run(flags.String(), func(t *testing.T) {
				r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, flags)
				for _, p := range []Prot{Read, 0, Read | Write, Write, Read} {
					if err := r.Protect(p); err != nil {
						t.Fatalf("Protect(%v): %v", p, err)
					}
					if got := r.Prot(); got != p {
						t.Errorf("Prot() after Protect(%v) = %v", p, got)
					}
					_, werr := r.WriteAt([]byte{9}, 1)
					if (werr == nil) != (p&Write != 0) {
						t.Errorf("WriteAt with protection %v: %v", p, werr)
					}
					_, rerr := r.ReadAt(make([]byte, 1), 1)
					if (rerr == nil) != (p&(Read|Write) != 0) {
						t.Errorf("ReadAt with protection %v: %v", p, rerr)
					}
				}
				mapAgain(t, r)
				if got := r.Prot(); got != Read|Write {
					t.Errorf("Prot() after Map = %v, want the original %v", got, Read|Write)
				}
				if _, err := r.WriteAt([]byte{7}, 0); err != nil {
					t.Errorf("WriteAt after Map restored the protection: %v", err)
				}
			})
		}
	})

	t.Run("writes fault and are caught", func(t *testing.T) {
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
			r, f, name := mapFile(t, pattern(PageSize(), 0), os.O_RDONLY, 0, PageSize(), Read, Shared)
			if err := r.Protect(Read | Write); !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("Protect(Read|Write) of a file open read-only = %v, want fs.ErrPermission", err)
			}
			removeFile(t, f, name, r)
		})
	})
}

// TestAdviseContents checks what DontNeed and Free do to the data of each
// kind of region, as the Advice docs say.
func TestAdviseContents(t *testing.T) {
	ps := PageSize()
	file := pattern(2*ps, 51)
	written := pattern(2*ps, 52)
	zeros := make([]byte, 2*ps)
	for _, c := range []struct {
		name        string
		anon        bool
		flags       Flag
		dontNeed    []byte // contents after DontNeed
		freeRefused bool   // Free is refused with fs.ErrInvalid
	}{
		{"shared file", false, Shared, written, true},
		{"private file", false, Private, file, true},
		{"shared anonymous", true, Shared, written, true},
		{"private anonymous", true, Private, zeros, false},
	} {
		if runtime.GOOS == "windows" && c.anon {
			// Shared and Private anonymous memory are the same there, as
			// the package documents: both lose their contents.
			c.dontNeed, c.freeRefused = zeros, false
		}
		t.Run(c.name, func(t *testing.T) {
			var r *Region
			if c.anon {
				r = mapAnon(t, 2*ps, Read|Write, c.flags)
			} else {
				r, _, _ = mapFile(t, file, os.O_RDWR, 0, len(file), Read|Write, c.flags)
			}
			if _, err := r.WriteAt(written, 0); err != nil {
				t.Fatal(err)
			}
			err := r.Advise(DontNeed)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("DontNeed: %v", err)
			}
			if err != nil {
				t.Fatalf("Advise(DontNeed): %v", err)
			}
			if got := r.Bytes(); !bytes.Equal(got, c.dontNeed) {
				t.Errorf("contents after DontNeed (-want +got):\n%s", diff(got, c.dontNeed))
			}
			if _, err := r.WriteAt(written, 0); err != nil {
				t.Fatal(err)
			}
			err = r.Advise(Free)
			switch {
			case errors.Is(err, errors.ErrUnsupported):
			case c.freeRefused && err == nil && emulated():
				// qemu-user ignores madvise, so MADV_FREE of shared
				// memory does not fail with EINVAL as on Linux.
			case c.freeRefused:
				checkErr(t, "Advise(Free)", err, "madvise", fs.ErrInvalid)
			case err != nil:
				t.Errorf("Advise(Free): %v", err)
			default:
				// Each page keeps its contents until memory is short,
				// and reads as zeros once the kernel has taken it.
				b := r.Bytes()
				for off := 0; off < len(b); off += ps {
					page := b[off : off+ps]
					if !bytes.Equal(page, written[off:off+ps]) && firstNonZero(page) >= 0 {
						t.Errorf("page at %d after Free holds neither its contents nor zeros", off)
					}
				}
			}
		})
	}
}

func TestParseSmaps(t *testing.T) {
	const text = `55d4c000-55d4e100 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
Rss:                   8 kB
AnonHugePages:      2048 kB
THPeligible:    0
VmFlags: rd wr mr mw me ac lo dd
7f000000-7f001000 ---p 00000000 00:00 0 
Rss:                   0 kB
VmFlags: mr mw me nr
`
	maps, err := parseSmaps([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 {
		t.Fatalf("got %d entries, want 2", len(maps))
	}
	m := maps[0]
	if m.start != 0x55d4c000 || m.end != 0x55d4e100 || m.perms != "rw-p" {
		t.Errorf("entry 0: %#x-%#x %s", m.start, m.end, m.perms)
	}
	if m.counters["Rss"] != 8192 || m.counters["AnonHugePages"] != 2<<20 || m.counters["THPeligible"] != 0 {
		t.Errorf("entry 0 counters: %v", m.counters)
	}
	if !m.flags["lo"] || !m.flags["dd"] || m.flags["nr"] {
		t.Errorf("entry 0 flags: %v", m.flags)
	}
	if !maps[1].flags["nr"] || maps[1].perms != "---p" {
		t.Errorf("entry 1: %v %s", maps[1].flags, maps[1].perms)
	}
	if _, err := parseSmaps([]byte("Rss: 4 kB\n")); err == nil {
		t.Error("a field before any header parsed without error")
	}
}

// otherUnix lists the unix systems other than Linux, which cannot keep
// memory out of a child created by a raw fork (Secret) and, but for
// FreeBSD's superpages, have no huge pages for HugePages.
var otherUnix = map[string]bool{"darwin": true, "ios": true, "freebsd": true, "openbsd": true, "netbsd": true,
	"dragonfly": true, "solaris": true, "illumos": true, "aix": true}

func TestFlagsRefusedOnOtherUnix(t *testing.T) {
	if !otherUnix[runtime.GOOS] {
		t.Skipf("HugePages and Secret are supported on %s", runtime.GOOS)
	}
	refused := []Flag{Private | Secret}
	if runtime.GOOS != "freebsd" {
		refused = append(refused, Private|HugePages)
	}
	for _, flags := range refused {
		if r, err := NewAnon(pageSize, Read|Write, flags); r != nil || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NewAnon(%v) on %s: %v, %v; want nil and errors.ErrUnsupported", flags, runtime.GOOS, r, err)
		}
	}
}

func TestHugePagesRefusedForFile(t *testing.T) {
	f, _ := tempFile(t, make([]byte, pageSize), os.O_RDWR)
	if _, err := NewFile(f, 0, pageSize, Read, Shared|HugePages); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewFile with HugePages: %v, want fs.ErrInvalid", err)
	}
}

func TestLockedPagesStayInMemory(t *testing.T) {
	needSmaps(t)
	const n = 16
	before := procStatus(t, "VmLck")
	r := mapAnon(t, n*pageSize, Read|Write, Private|Locked)
	checkSmapsFlags(t, r, "lo")
	m := isolatedSmaps(t, r)
	if got, want := m.counters["Rss"], int64(n*pageSize); got != want {
		t.Errorf("Rss of a locked region %d, want %d", got, want)
	}
	if got, want := m.counters["Locked"], int64(n*pageSize); got != want {
		t.Errorf("Locked of a locked region %d, want %d", got, want)
	}
	if got, want := procStatus(t, "VmLck")-before, int64(n*pageSize); got != want {
		t.Errorf("VmLck grew by %d at Map, want %d", got, want)
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if got := procStatus(t, "VmLck") - before; got != 0 {
		t.Errorf("VmLck is %d above what it was after Unmap, want 0", got)
	}

	// Without the flag, nothing is locked.
	plain := mapAnon(t, n*pageSize, Read|Write, Private)
	checkSmapsFlags(t, plain, "!lo")
}

func TestPopulateFaultsPagesIn(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "smaps shows the host's mappings, which qemu-user places and merges itself, "+
		"and qemu does not pass MAP_POPULATE on (Rss stays 0)")
	const n = 8
	data := pattern(n*pageSize, 3)
	tests := []struct {
		name string
		new  func(t *testing.T, flags Flag) (*Region, error)
	}{
		{"anon-private", func(t *testing.T, flags Flag) (*Region, error) {
			return NewAnon(n*pageSize, Read|Write, Private|flags)
		}},
		{"anon-shared", func(t *testing.T, flags Flag) (*Region, error) {
			return NewAnon(n*pageSize, Read|Write, Shared|flags)
		}},
		{"file-shared", func(t *testing.T, flags Flag) (*Region, error) {
			f, _ := tempFile(t, data, os.O_RDWR)
			return NewFile(f, 0, n*pageSize, Read|Write, Shared|flags)
		}},
		{"file-private", func(t *testing.T, flags Flag) (*Region, error) {
			f, _ := tempFile(t, data, os.O_RDONLY)
			return NewFile(f, 0, n*pageSize, Read, Private|flags)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, flags := range []Flag{0, Populate} {
				r, err := tt.new(t, flags)
				mapRegion(t, r, err)
				rss := isolatedSmaps(t, r).counters["Rss"]
				if err := r.Unmap(); err != nil {
					t.Fatal(err)
				}
				if flags == 0 && rss != 0 {
					t.Errorf("Rss %d right after Map without Populate, want 0", rss)
				}
				if flags == Populate && rss != int64(n*pageSize) {
					t.Errorf("Rss %d after Map with Populate, want %d", rss, n*pageSize)
				}
			}
		})
	}
}

func TestNoReserveSkipsAccounting(t *testing.T) {
	needSmaps(t)
	if b, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err == nil && strings.TrimSpace(string(b)) == "2" {
		if _, err := NewAnon(pageSize, Read|Write, Private|NoReserve); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NoReserve under strict overcommit: %v, want errors.ErrUnsupported", err)
		}
		t.Skip("vm.overcommit_memory is 2: the kernel ignores MAP_NORESERVE")
	}
	for _, flags := range []Flag{Private, Shared, Private | Guard} {
		t.Run(flags.String(), func(t *testing.T) {
			r := mapAnon(t, 4*pageSize, Read|Write, flags|NoReserve)
			checkSmapsFlags(t, r, "nr")
			plain := mapAnon(t, 4*pageSize, Read|Write, flags)
			checkSmapsFlags(t, plain, "!nr")
		})
	}
}

// checkGuardPages checks that the page before and the page after r's
// memory fault on access, with the faulting address inside the guard page,
// while the first and last bytes of the region do not.
func checkGuardPages(t *testing.T, r *Region) {
	t.Helper()
	addr := regionAddr(r)
	end := unsafe.Add(addr, r.mappedLen())
	for _, write := range []bool{false, true} {
		for _, c := range []struct {
			name       string
			p          unsafe.Pointer
			guardStart uintptr
		}{
			{"one byte before", unsafe.Add(addr, -1), uintptr(addr) - uintptr(pageSize)},
			{"first byte of the guard before", unsafe.Add(addr, -pageSize), uintptr(addr) - uintptr(pageSize)},
			{"one byte past the end", end, uintptr(end)},
			{"last byte of the guard after", unsafe.Add(end, pageSize-1), uintptr(end)},
		} {
			got := faultAt(c.p, write)
			if got == 0 {
				t.Errorf("%s (write %v) at %p: no fault", c.name, write, c.p)
				continue
			}
			if got < c.guardStart || got >= c.guardStart+uintptr(pageSize) {
				t.Errorf("%s (write %v): fault at %#x, want inside the guard page %#x-%#x",
					c.name, write, got, c.guardStart, c.guardStart+uintptr(pageSize))
			}
		}
	}
	if r.Prot()&Write != 0 {
		for _, p := range []unsafe.Pointer{addr, unsafe.Add(end, -1)} {
			if got := faultAt(p, true); got != 0 {
				t.Errorf("write inside the region at %p faulted at %#x", p, got)
			}
		}
	}
	if runtime.GOOS == "linux" && !smapsUntrusted() {
		for _, p := range []unsafe.Pointer{unsafe.Add(addr, -1), end} {
			if r.guards == guardMarkers {
				// Guard regions lie inside the region's own mapping.
				if m := smapsAt(t, p); m.start > uintptr(addr) || m.end < uintptr(end) {
					t.Errorf("guard region at %p is in the mapping %#x-%#x, which does not hold the region %p-%p",
						p, m.start, m.end, addr, end)
				}
				continue
			}
			if m := smapsAt(t, p); m.perms[:3] != "---" {
				t.Errorf("guard page at %p has permissions %s, want ---", p, m.perms)
			}
		}
	}
}

func TestGuardPagesFault(t *testing.T) {
	for _, tt := range []struct {
		name  string
		prot  Prot
		flags Flag
	}{
		{"private", Read | Write, Private | Guard},
		{"shared", Read | Write, Shared | Guard},
		{"read-only", Read, Private | Guard},
		{"secret", Read | Write, Private | Secret},
		{"hugepages", Read | Write, Private | Guard | HugePages},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewAnon(2*pageSize, tt.prot, tt.flags)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			}
			mapRegion(t, r, err)
			checkGuardPages(t, r)
		})
	}
	t.Run("file", func(t *testing.T) {
		r, _, _ := mapFile(t, pattern(2*pageSize, 1), os.O_RDWR, 0, 2*pageSize, Read|Write, Shared|Guard)
		checkGuardPages(t, r)
		// Mapping again puts the guards around the new address.
		mapAgain(t, r)
		checkGuardPages(t, r)
	})
}

// TestSecretMemory checks every promise of Secret, with secret memory
// (memfd_secret) where the system has it and with the layout of other
// systems (forced).
func TestSecretMemory(t *testing.T) {
	t.Run("default", checkSecret)
	t.Run("without memfd_secret", func(t *testing.T) {
		setForTest(t, &testNoSecretMemory, true)
		checkSecret(t)
	})
}

func checkSecret(t *testing.T) {
	const n = 4
	r, err := NewAnon(n*pageSize, Read|Write, Private|Secret)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var wiped []byte
	var wipedAt unsafe.Pointer
	setForTest(t, &testHookWiped, func(b []byte) {
		wipedAt = unsafe.Pointer(unsafe.SliceData(b))
		wiped = bytes.Clone(b)
	})
	secret := pattern(n*pageSize, 42)
	for _, prot := range []Prot{Read | Write, Read, 0} {
		if err := r.Map(); err != nil {
			t.Fatal(err)
		}
		addr := regionAddr(r)
		if b := r.Bytes(); !bytes.Equal(b, make([]byte, len(b))) {
			t.Fatalf("a new mapping of a Secret region is not all zeros")
		}
		copy(r.Bytes(), secret)
		if runtime.GOOS == "linux" && emulated() && !smapsUntrusted() {
			// qemu-user ignores madvise (MADV_DONTDUMP): only mlock shows.
			checkSmapsFlags(t, r, "lo")
		} else if runtime.GOOS == "linux" && !emulated() {
			checkSmapsFlags(t, r, "lo", "dd")
			m := isolatedSmaps(t, r)
			if got := m.counters["Rss"]; got != int64(n*pageSize) {
				t.Errorf("Rss %d of a locked Secret region, want %d", got, n*pageSize)
			}
		}
		checkGuardPages(t, r)
		if err := r.Unlock(); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Unlock of a Secret region: %v, want fs.ErrInvalid", err)
		}
		if err := r.Advise(DoDump); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("DoDump advice for a Secret region: %v, want fs.ErrInvalid", err)
		}
		switch {
		case r.SecretMemory():
			checkSmapsFlags(t, r, "dc") // MADV_DONTFORK: the kernel refuses MADV_WIPEONFORK
		case kernelAtLeast(4, 14) && !emulated(): // qemu-user ignores madvise
			checkSmapsFlags(t, r, "wf") // MADV_WIPEONFORK
		}
		if err := r.Protect(prot); err != nil {
			t.Fatal(err)
		}
		wiped, wipedAt = nil, nil
		if err := r.Unmap(); err != nil {
			t.Fatalf("Unmap after Protect(%v): %v", prot, err)
		}
		if wipedAt != addr {
			t.Fatalf("after Protect(%v): wipe hook saw %p, want the region at %p", prot, wipedAt, addr)
		}
		if !bytes.Equal(wiped, make([]byte, n*pageSize)) {
			t.Errorf("after Protect(%v): memory not all zeros just before munmap", prot)
		}
	}
}

func TestSecretRefused(t *testing.T) {
	f, _ := tempFile(t, make([]byte, pageSize), os.O_RDWR)
	for _, tt := range []struct {
		name string
		new  func() (*Region, error)
	}{
		{"anon-shared", func() (*Region, error) { return NewAnon(pageSize, Read|Write, Shared|Secret) }},
		{"file-private", func() (*Region, error) { return NewFile(f, 0, pageSize, Read|Write, Private|Secret) }},
		{"file-shared", func() (*Region, error) { return NewFile(f, 0, pageSize, Read|Write, Shared|Secret) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.new()
			if !errors.Is(err, fs.ErrInvalid) || r != nil {
				t.Errorf("got %v, %v; want nil and an error matching fs.ErrInvalid", r, err)
			}
		})
	}
}

// BenchmarkFirstTouch measures mapping 32 MiB of anonymous memory,
// writing one byte of each page and unmapping it, with and without
// HugePages.
func BenchmarkFirstTouch(b *testing.B) {
	const size = 32 << 20
	for _, flags := range []Flag{Private, Private | HugePages} {
		b.Run(flags.String(), func(b *testing.B) {
			r, err := NewAnon(size, Read|Write, flags)
			if errors.Is(err, errors.ErrUnsupported) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Map(); err != nil {
					b.Fatal(err)
				}
				m := r.Bytes()
				for off := 0; off < len(m); off += pageSize {
					m[off] = 1
				}
				if err := r.Unmap(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
