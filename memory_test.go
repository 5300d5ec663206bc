package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// These tests check that the flags which change how memory is held really
// take effect, by reading the kernel's own account of the mapping in
// /proc/self/smaps (Linux only) and by overrunning guarded regions.

func TestMemParseSmaps(t *testing.T) {
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

// otherUnix lists the unix systems other than Linux, which have neither
// transparent huge pages nor a way to keep memory out of core dumps.
var otherUnix = map[string]bool{"darwin": true, "ios": true, "freebsd": true, "openbsd": true, "netbsd": true,
	"dragonfly": true, "solaris": true, "illumos": true, "aix": true}

func TestMemUnsupportedFlags(t *testing.T) {
	if !otherUnix[runtime.GOOS] {
		t.Skipf("HugePages and Secret are supported on %s", runtime.GOOS)
	}
	for _, flags := range []Flag{Private | HugePages, Private | Secret} {
		if r, err := NewAnon(pageSize, Read|Write, flags); r != nil || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NewAnon(%v) on %s: %v, %v; want nil and errors.ErrUnsupported", flags, runtime.GOOS, r, err)
		}
	}
}

func TestMemHugePagesFile(t *testing.T) {
	f, _ := tempFile(t, make([]byte, pageSize), os.O_RDWR)
	if _, err := NewFile(f, 0, pageSize, Read, Shared|HugePages); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewFile with HugePages: %v, want fs.ErrInvalid", err)
	}
}

func TestMemLocked(t *testing.T) {
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

func TestMemPopulate(t *testing.T) {
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
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Map(); err != nil {
					t.Fatal(err)
				}
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

func TestMemNoReserve(t *testing.T) {
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
			if m := smapsAt(t, p); m.perms[:3] != "---" {
				t.Errorf("guard page at %p has permissions %s, want ---", p, m.perms)
			}
		}
	}
}

func TestMemGuard(t *testing.T) {
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
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			defer r.Unmap()
			checkGuardPages(t, r)
		})
	}
	t.Run("file", func(t *testing.T) {
		f, _ := tempFile(t, pattern(2*pageSize, 1), os.O_RDWR)
		r, err := NewFile(f, 0, 2*pageSize, Read|Write, Shared|Guard)
		skipUnsupported(t, err) // Windows: no view inside a reservation
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Map(); err != nil {
			t.Fatal(err)
		}
		defer r.Unmap()
		checkGuardPages(t, r)
		// Mapping again puts the guards around the new address.
		if err := r.Unmap(); err != nil {
			t.Fatal(err)
		}
		if err := r.Map(); err != nil {
			t.Fatal(err)
		}
		checkGuardPages(t, r)
	})
}

func TestMemSecret(t *testing.T) {
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
	setWipeHook(t, func(b []byte) {
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
		if kernelAtLeast(4, 14) && !emulated() { // qemu-user ignores madvise
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

// setWipeHook installs fn as the hook that sees a Secret region's memory
// just before it is unmapped, until the end of the test. Tests that use it
// must not run in parallel.
func setWipeHook(t *testing.T, fn func([]byte)) {
	old := testHookWiped
	testHookWiped = fn
	t.Cleanup(func() { testHookWiped = old })
}

func TestMemSecretRefused(t *testing.T) {
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

// BenchmarkMemFirstTouch measures mapping 32 MiB of anonymous memory,
// writing one byte of each page and unmapping it, with and without
// HugePages.
func BenchmarkMemFirstTouch(b *testing.B) {
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
