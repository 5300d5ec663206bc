package mmap

import (
	"bytes"
	"os"
	"testing"
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
