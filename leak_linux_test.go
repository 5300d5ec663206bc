package mmap

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The tests that memory a region no longer maps is given back to the
// system, not kept until Unmap.

// leakHeldBytes returns the bytes of memory held by the objects behind the
// mappings of the mapped region r: the allocated blocks of each distinct
// file (for shared anonymous memory, its shmem object) that a mapping of
// r's pages leads to, found through /proc/self/map_files. Pages that a
// shrink cut off count as long as their object stays mapped by the rest of
// the region. It skips the test where map_files cannot be read.
func leakHeldBytes(t *testing.T, r *Region) int64 {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	start := uint64(uintptr(regionAddr(r)))
	end := start + uint64(r.mappedLen())
	seen := map[uint64]bool{}
	var held int64
	for line := range strings.Lines(string(maps)) {
		span := strings.Fields(line)[0]
		lo, hi, _ := strings.Cut(span, "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		z, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad maps line %q", line)
		}
		if z <= start || a >= end {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/self/map_files/"+span, &st); err != nil {
			if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
				t.Skipf("/proc/self/map_files: %v", err)
			}
			t.Fatalf("stat of the mapping %s: %v", span, err)
		}
		if !seen[st.Ino] {
			seen[st.Ino] = true
			held += st.Blocks * 512
		}
	}
	return held
}

// TestShrinkFreesSharedAnonMemory checks that Resize releases the pages it
// cuts off shared anonymous memory (and a Shared mapping of /dev/zero): the
// memory object behind such a region is shared, and unmapping part of it
// does not free those pages, which stayed held, invisible in VmRSS, until
// Unmap. Inside a reservation every grow after a shrink made a new object,
// so that shrinking and growing again kept a region's full length more
// each time.
func TestShrinkFreesSharedAnonMemory(t *testing.T) {
	skipUnderEmulator(t, "the emulator's /proc/self/map_files shows the host's mappings, and it may accept advice (MADV_REMOVE) and ignore it")
	const size = 16 << 20
	zero := func(flags Flag) func() (*Region, error) {
		return func() (*Region, error) {
			f, err := os.OpenFile("/dev/zero", os.O_RDWR, 0)
			if err != nil {
				t.Skipf("no /dev/zero: %v", err)
			}
			t.Cleanup(func() { f.Close() })
			return NewFile(f, 0, pageSize, Read|Write, flags)
		}
	}
	for _, tc := range []struct {
		name    string
		reserve int
		new     func() (*Region, error)
	}{
		{"shared", 0, func() (*Region, error) { return NewAnon(pageSize, Read|Write, Shared) }},
		{"shared-reserved", size, func() (*Region, error) { return NewAnon(pageSize, Read|Write, Shared) }},
		{"shared-guard", 0, func() (*Region, error) { return NewAnon(pageSize, Read|Write, Shared|Guard) }},
		{"shared-locked-reserved", size, func() (*Region, error) { return NewAnon(pageSize, Read|Write, Shared|Locked) }},
		{"dev-zero-reserved", size, zero(Shared)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.new()
			r = mapReserved(t, r, err, tc.reserve)
			for i := 1; i <= 4; i++ {
				if err := r.Resize(size); err != nil {
					t.Fatal(err)
				}
				if _, err := r.WriteAt(pattern(size, byte(i)), 0); err != nil {
					t.Fatal(err)
				}
				if err := r.Resize((i + 1) * pageSize); err != nil {
					t.Fatal(err)
				}
				checkContents(t, r, pattern(size, byte(i))[:(i+1)*pageSize])
				if held := leakHeldBytes(t, r); held > size/4 {
					t.Fatalf("after %d shrinks from %d bytes to %d, the region's memory objects hold %d bytes",
						i, size, r.Len(), held)
				}
			}
		})
	}
}

// TestShrinkFreesSharedHugeTLBPages checks that Resize gives the huge pages
// it cuts off shared anonymous HugeTLB memory back to the pool: kept by the
// object behind the region, they made the next grow fail with ENOMEM.
func TestShrinkFreesSharedHugeTLBPages(t *testing.T) {
	kernelReserveHugePages(t, 4)
	skipUnderEmulator(t, "qemu-user refuses MAP_HUGETLB")
	hs := HugePageSize()
	r := mapAnon(t, hs, Read|Write, Shared|HugeTLB)
	for i := range 3 {
		if err := r.Resize(3 * hs); err != nil {
			t.Fatalf("grow %d to 3 huge pages with 4 in the pool: %v", i+1, err)
		}
		if _, err := r.WriteAt(pattern(3*hs, byte(i)), 0); err != nil {
			t.Fatal(err)
		}
		if err := r.Resize(hs); err != nil {
			t.Fatal(err)
		}
		checkContents(t, r, pattern(hs, byte(i)))
	}
}
