package mmap

import (
	"bytes"
	"os"
	"testing"
	"unsafe"
)

// TestQfxGrowPastFileEnd grows a region that already reaches past its
// file's end (Resize allows the rest of the file's last page, which is a
// whole page of 16 or 64 KiB on some systems): Grow must extend the file to
// the region's end even when the region itself grows little or not at all.
func TestQfxGrowPastFileEnd(t *testing.T) {
	ps := PageSize()
	data := pattern(6*ps+1, 3)
	f, name := tempFile(t, data, os.O_RDWR)
	r, err := NewFile(f, 0, ps, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
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
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:6*ps], data[:6*ps]) || !bytes.Equal(got[6*ps:], want) {
		t.Fatal("file after Grow and WriteAt differs from what was written")
	}
}

// qfxEmulated reports whether the test binary runs under an emulator
// (scripts/test-qemu.sh, scripts/test-386.sh), for checks that the
// emulator cannot reproduce while the rest of a test still runs; use
// platSkipEmulated to skip a whole test or subtest.
func qfxEmulated() bool { return os.Getenv(emulatorEnv) != "" }

// qfxDeviceWhy is why devices cannot be mapped under qemu-user with pages
// larger than the host's.
const qfxDeviceWhy = "qemu-user with pages larger than the host's cuts a file mapping at the file's size, " +
	"which fstat gives as 0 for a device, and fails the mmap with EINVAL"

// qfxSkipLargePages skips t when it runs under an emulator whose guest
// pages are larger than the host's (scripts/test-qemu.sh runs 16 and 64 KiB
// pages on a host of 4 KiB pages): qemu-user then maps a file's pages with
// host pages and cannot give the part of the guest's last page beyond the
// file's end, nor map a device, as the guest's kernel would.
func qfxSkipLargePages(t testing.TB, why string) {
	t.Helper()
	if qfxLargePagesEmulated() {
		platSkipEmulated(t, why)
	}
}

// qfxLargePagesEmulated reports whether the test binary runs under an
// emulator whose guest pages are larger than the host's 4 KiB (see
// qfxSkipLargePages).
func qfxLargePagesEmulated() bool { return qfxEmulated() && PageSize() > 4096 }

// qfxSmapsWhy is why /proc/self/smaps cannot be checked under qemu-user
// running a 32-bit guest.
const qfxSmapsWhy = "qemu-user runs a 32-bit guest in a reservation of the host's address space and writes " +
	"/proc/self/smaps itself, without the guest's protections, locks and flags"

// qfxSmapsUntrusted reports whether /proc/self/smaps does not describe the
// guest's mappings: under qemu-user with a 32-bit guest (scripts/test-386.sh
// where the kernel runs no 32-bit programs). A 64-bit guest on a 64-bit host
// sees the host's own smaps, which hold the guest's mappings but not what
// qemu leaves out (madvise).
func qfxSmapsUntrusted() bool {
	return qfxEmulated() && unsafe.Sizeof(uintptr(0)) == 4
}
