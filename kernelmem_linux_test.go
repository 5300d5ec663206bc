package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The tests of what current Linux kernels offer: guard regions (6.13),
// secret memory (memfd_secret, 5.14) and the huge page pool (HugeTLB).

// kernelMapsEntries returns how many entries of /proc/self/maps overlap
// the n bytes at addr.
func kernelMapsEntries(t *testing.T, addr uintptr, n uintptr) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for line := range strings.Lines(string(data)) {
		lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-")
		if !ok {
			t.Fatalf("bad maps line %q", line)
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad maps line %q", line)
		}
		if uintptr(start) < addr+n && uintptr(end) > addr {
			count++
		}
	}
	return count
}

// kernelCheckGuardEntries checks that r with its guard pages takes one
// entry of /proc/self/maps (with guard regions) or at least three (with
// PROT_NONE guard pages, which are mappings of their own), and that both
// guards fault.
func kernelCheckGuardEntries(t *testing.T, r *Region, markers bool) {
	t.Helper()
	addr := uintptr(regionAddr(r)) - uintptr(pageSize)
	got := kernelMapsEntries(t, addr, r.mappedLen()+2*uintptr(pageSize))
	if markers && got != 1 || !markers && got < 3 {
		t.Errorf("the region of %d bytes with its guard pages takes %d entries of /proc/self/maps, want %s",
			r.Len(), got, map[bool]string{true: "1", false: "3 or more"}[markers])
	}
	checkGuardPages(t, r) // writes to the first and last byte
}

// TestGuardRegionIsOneMapping checks that a guarded private anonymous
// region is one entry of /proc/self/maps on Linux 6.13 and later, before
// and after Resize grows and shrinks it, with both guards faulting; and
// that the fallback to PROT_NONE pages (forced) takes three and faults the
// same way.
func TestGuardRegionIsOneMapping(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "/proc/self/maps shows the host's mappings, which qemu-user places itself")
	withAndWithout(t, "fallback", &testNoGuardMarkers, func(t *testing.T, fallback bool) {
		if !fallback && !kernelAtLeast(6, 13) {
			t.Skip("guard regions need Linux 6.13")
		}
		r := mapAnon(t, 4*pageSize, Read|Write, Private|Guard)
		if got := r.guards == guardMarkers; got != !fallback {
			t.Fatalf("guard regions in use: %v, want %v", got, !fallback)
		}
		if _, err := r.WriteAt(pattern(4*pageSize, 5), 0); err != nil {
			t.Fatal(err)
		}
		kernelCheckGuardEntries(t, r, !fallback)
		contents := pattern(4*pageSize, 5)
		contents[0], contents[len(contents)-1] = 1, 1
		for _, pages := range []int{6, 64, 2, 3, 1, 9} {
			if err := r.Resize(pages * pageSize); err != nil {
				t.Fatalf("Resize(%d pages): %v", pages, err)
			}
			contents = resized(contents, pages*pageSize)
			checkContents(t, r, contents)
			kernelCheckGuardEntries(t, r, !fallback)
			contents[0], contents[len(contents)-1] = 1, 1
		}
		// Protect keeps it one mapping.
		if err := r.Protect(Read); err != nil {
			t.Fatal(err)
		}
		kernelCheckGuardEntries(t, r, !fallback)
	})
}

// kernelReadProcMem reads n bytes at addr through /proc/self/mem.
func kernelReadProcMem(addr unsafe.Pointer, n int) ([]byte, error) {
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, int64(uintptr(addr)))
	return b, err
}

// TestSecretMemoryHiddenFromProcMem checks that a Secret region is secret
// memory where memfd_secret is allowed, which a read of /proc/self/mem
// cannot see, while it sees plain memory and the fallback layout of Secret.
func TestSecretMemoryHiddenFromProcMem(t *testing.T) {
	skipUnderEmulator(t, "qemu-user emulates /proc/self/mem with its own reads")
	secret := pattern(pageSize, 77)

	plain := mapAnon(t, pageSize, Read|Write, Private)
	copy(plain.Bytes(), secret)
	if got, err := kernelReadProcMem(regionAddr(plain), pageSize); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("read of a plain region through /proc/self/mem: %v, equal %v; want its contents", err, bytes.Equal(got, secret))
	}

	r := mapAnon(t, pageSize, Read|Write, Private|Secret)
	copy(r.Bytes(), secret)
	if !r.SecretMemory() {
		if kernelAtLeast(5, 14) {
			if _, err := os.Stat("/sys/kernel/mm/secretmem"); err == nil {
				t.Log("memfd_secret is refused here (secretmem.enable=0?)")
			}
		}
		t.Skip("the kernel gave no secret memory (memfd_secret needs Linux 5.14, enabled)")
	}
	m := checkSmapsFlags(t, r, "lo", "dd", "dc")
	if m.flags["wf"] {
		t.Errorf("secret memory has VmFlag wf")
	}
	if got, err := kernelReadProcMem(regionAddr(r), pageSize); err == nil {
		t.Errorf("read of secret memory through /proc/self/mem succeeded (equal to the secret: %v), want an error", bytes.Equal(got, secret))
	} else if !errors.Is(err, syscall.EIO) {
		t.Logf("read of secret memory through /proc/self/mem: %v", err)
	}
	if err := r.Lock(); err != nil {
		t.Errorf("Lock of secret memory: %v, want nil (the kernel locks it)", err)
	}
	// Populate touches it: the kernel refuses the populate advice for it.
	if err := r.Advise(PopulateWrite); err != nil {
		t.Errorf("PopulateWrite advice for secret memory: %v", err)
	}
	if !bytes.Equal(r.Bytes(), secret) {
		t.Errorf("PopulateWrite changed the secret")
	}
	// Secret memory cannot be executed (its file system is noexec).
	var pe *fs.PathError
	if err := r.Protect(Read | Write | Exec); !errors.As(err, &pe) || pe.Op != "mprotect" ||
		!errors.Is(err, syscall.EACCES) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Protect adding Exec to secret memory: %v; want an *fs.PathError of mprotect matching EACCES and fs.ErrPermission", err)
	}
	if got := r.Prot(); got != Read|Write {
		t.Errorf("Prot after the refused Protect: %v, want rw-", got)
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if r.SecretMemory() {
		t.Errorf("SecretMemory is true after Unmap")
	}

	setForTest(t, &testNoSecretMemory, true)
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	copy(r.Bytes(), secret)
	if r.SecretMemory() {
		t.Errorf("SecretMemory is true with secret memory turned off")
	}
	if got, err := kernelReadProcMem(regionAddr(r), pageSize); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("read of the fallback Secret layout through /proc/self/mem: %v; want its contents, as the kernel sees it", err)
	}
}

// kernelReserveHugePages sets vm.nr_hugepages to n for the test, restoring
// the old value at the end, and skips the test where it cannot.
func kernelReserveHugePages(t *testing.T, n int) {
	t.Helper()
	const file = "/proc/sys/vm/nr_hugepages"
	if HugePageSize() == 0 {
		t.Skip("this kernel has no huge page pool")
	}
	if os.Geteuid() != 0 {
		t.Skip("reserving huge pages (vm.nr_hugepages) needs root; run as root to test HugeTLB")
	}
	old, err := os.ReadFile(file)
	if err != nil {
		t.Skipf("cannot read %s: %v", file, err)
	}
	set := func(v string) error { return os.WriteFile(file, []byte(v), 0o644) }
	t.Cleanup(func() {
		if err := set(strings.TrimSpace(string(old))); err != nil {
			t.Errorf("restore %s to %s: %v", file, old, err)
		}
	})
	if err := set(strconv.Itoa(n)); err != nil {
		t.Skipf("cannot write %s: %v", file, err)
	}
	got, _ := os.ReadFile(file)
	if strings.TrimSpace(string(got)) != strconv.Itoa(n) {
		t.Skipf("the kernel reserved %s huge pages of the %d asked (memory too fragmented)", strings.TrimSpace(string(got)), n)
	}
}

// TestHugeTLBTakesPagesFromThePool checks that a HugeTLB region is made of
// huge pages from the pool (KernelPageSize in smaps), and that Map fails
// with ENOMEM when the pool is empty.
func TestHugeTLBTakesPagesFromThePool(t *testing.T) {
	kernelReserveHugePages(t, 4)
	hs := HugePageSize()
	if emulated() {
		// qemu-user refuses MAP_HUGETLB: Map must say so.
		r, err := NewAnon(hs, Read|Write, Private|HugeTLB)
		if err == nil {
			if err = r.Map(); err == nil {
				r.Unmap()
			}
		}
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Map with HugeTLB under the emulator: %v, want success or errors.ErrUnsupported", err)
		}
		skipUnderEmulator(t, "smaps shows the host's mappings, not qemu-user's")
	}
	needSmaps(t)
	for _, tc := range []struct {
		name string
		new  func() (*Region, error)
	}{
		{"private", func() (*Region, error) { return NewAnon(hs, Read|Write, Private|HugeTLB) }},
		{"shared", func() (*Region, error) { return NewAnon(hs, Read|Write, Shared|HugeTLB) }},
		{"guard-populate", func() (*Region, error) { return NewAnon(hs, Read|Write, Private|HugeTLB|Guard|Populate) }},
		{"shared-memory", func() (*Region, error) { return NewSharedMemoryFlags("huge", hs, HugeTLB) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.new()
			r = mapRegion(t, r, err)
			if _, err := r.WriteAt(pattern(hs, 3), 0); err != nil {
				t.Fatal(err)
			}
			checkContents(t, r, pattern(hs, 3))
			m := smapsAt(t, regionAddr(r))
			if got := m.counters["KernelPageSize"]; got != int64(hs) {
				t.Errorf("KernelPageSize %d, want the huge page size %d", got, hs)
			}
			if uintptr(regionAddr(r))%uintptr(hs) != 0 {
				t.Errorf("address %p is not aligned to %d", regionAddr(r), hs)
			}
			if r.Flags()&Guard != 0 {
				checkGuardPages(t, r)
			}
		})
	}

	if _, err := NewAnon(hs+pageSize, Read|Write, Private|HugeTLB); !errors.Is(err, ErrUnaligned) {
		t.Errorf("NewAnon of HugeTLB with a length not a multiple of %d: %v, want ErrUnaligned", hs, err)
	}
	f, _ := tempFile(t, make([]byte, hs), os.O_RDWR)
	if _, err := NewFile(f, 0, hs, Read|Write, Shared|HugeTLB); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewFile with HugeTLB: %v, want fs.ErrInvalid", err)
	}

	// An empty pool (the test restores the old size at its end).
	if err := os.WriteFile("/proc/sys/vm/nr_hugepages", []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range []Flag{Private, Shared} {
		r, err := NewAnon(hs, Read|Write, flags|HugeTLB)
		if err != nil {
			t.Fatal(err)
		}
		err = r.Map()
		var pe *fs.PathError
		if !errors.Is(err, syscall.ENOMEM) || !errors.As(err, &pe) || pe.Op != "mmap" {
			t.Errorf("Map of %v with the pool empty: %v, want an *fs.PathError of mmap with ENOMEM", flags|HugeTLB, err)
		}
		if err == nil {
			r.Unmap()
		}
	}
}
