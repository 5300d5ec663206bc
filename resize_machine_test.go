package mmap

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// resizeMachine is a region under test, with a plain model of its contents
// and, for a file region, of the file's.
type resizeMachine struct {
	r       *Region
	f       *os.File // nil for anonymous memory
	off     int      // the region's offset in the file
	shared  bool
	reserve int
	base    *byte  // address of the region since the last Map, if reserved
	model   []byte // the region's contents
	file    []byte // the file's contents
}

const machineMaxPages = 24

// wantResize returns the error Resize(n) should give, applying the package's
// rules to the model: nil, ErrUnaligned, ErrPastEOF or fs.ErrInvalid.
func (m *resizeMachine) wantResize(n int) error {
	mapN := AlignLength(n)
	if m.f == nil {
		if n != mapN {
			return ErrUnaligned
		}
	} else {
		if n != mapN && m.off+n != len(m.file) {
			return ErrUnaligned
		}
		if m.off+mapN > AlignLength(len(m.file)) {
			return ErrPastEOF
		}
	}
	if m.reserve > 0 && mapN > m.reserve {
		return fs.ErrInvalid
	}
	return nil
}

// resized returns the model of the region after a successful resize to n
// bytes: the old contents, then zeros or the file's contents.
func (m *resizeMachine) resized(n int) []byte {
	if n <= len(m.model) {
		return m.model[:n]
	}
	grown := append(m.model, make([]byte, n-len(m.model))...)
	if m.f != nil {
		from := m.off + len(m.model)
		if from < len(m.file) {
			copy(grown[len(m.model):], m.file[from:min(len(m.file), m.off+n)])
		}
	}
	return grown
}

func (m *resizeMachine) drawLen(t *rapid.T) int {
	ps := PageSize()
	if m.f != nil && rapid.IntRange(0, 4).Draw(t, "toFileEnd") == 0 {
		if n := len(m.file) - m.off; n > 0 {
			return n // unaligned lengths that end at the file's end
		}
	}
	if rapid.IntRange(0, 9).Draw(t, "unaligned") == 0 {
		return rapid.IntRange(1, machineMaxPages*ps).Draw(t, "bytes")
	}
	return rapid.IntRange(1, machineMaxPages).Draw(t, "pages") * ps
}

func (m *resizeMachine) Resize(t *rapid.T) {
	n := m.drawLen(t)
	want := m.wantResize(n)
	err := m.r.Resize(n)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Resize(%d) = %v, want %v", n, err, want)
	}
	if err == nil {
		m.model = m.resized(n)
	}
}

func (m *resizeMachine) Grow(t *rapid.T) {
	n := len(m.model) + m.drawLen(t)%(8*PageSize())
	if largePagesEmulated() {
		n -= n % PageSize() // the file keeps ending at a page boundary
	}
	var want error
	mapN := AlignLength(n)
	switch {
	case m.reserve > 0 && mapN > m.reserve:
		want = fs.ErrInvalid
	case m.f == nil && n != mapN:
		want = ErrUnaligned
	case m.f != nil && n != mapN && len(m.file) > m.off+n:
		want = ErrUnaligned
	}
	err := m.r.Grow(n)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Grow(%d) = %v, want %v (length %d, file %d)", n, err, want, len(m.model), len(m.file))
	}
	if err != nil {
		return
	}
	if m.f != nil && len(m.file) < m.off+n {
		m.file = append(m.file, make([]byte, m.off+n-len(m.file))...)
	}
	m.model = m.resized(n)
}

// AppendFile grows the file from outside the region, as another writer
// would.
func (m *resizeMachine) AppendFile(t *rapid.T) {
	if m.f == nil {
		t.Skip("anonymous memory has no file")
	}
	mapEnd := m.off + AlignLength(len(m.model))
	if !m.shared && mapEnd > len(m.file) {
		// Whether the private page that holds the file's end shows the
		// new bytes depends on whether it was copied on write yet.
		t.Skip("private region holds the file's last page")
	}
	n := rapid.IntRange(1, 2*PageSize()).Draw(t, "n")
	if largePagesEmulated() {
		n = AlignLength(n) // the file keeps ending at a page boundary
	}
	p := pattern(n, rapid.Byte().Draw(t, "seed"))
	if _, err := m.f.WriteAt(p, int64(len(m.file))); err != nil {
		t.Fatal(err)
	}
	// A shared region shows the new bytes in its last page at once.
	for i, b := range p {
		if at := len(m.file) + i - m.off; at >= 0 && at < len(m.model) {
			m.model[at] = b
		}
	}
	m.file = append(m.file, p...)
}

func (m *resizeMachine) WriteAt(t *rapid.T) {
	limit := len(m.model)
	if m.f != nil && m.shared {
		// Bytes of the last page beyond the file's end never reach the
		// file: keep writes before it so that the file model holds.
		limit = min(limit, len(m.file)-m.off)
	}
	off := rapid.IntRange(0, limit).Draw(t, "off")
	p := pattern(rapid.IntRange(0, 2*PageSize()).Draw(t, "n"), rapid.Byte().Draw(t, "seed"))
	if off+len(p) > limit && limit < len(m.model) {
		p = p[:limit-off]
	}
	n, err := m.r.WriteAt(p, int64(off))
	wantN := min(len(p), len(m.model)-off)
	if n != wantN || (wantN < len(p)) != errors.Is(err, io.ErrShortWrite) || (wantN == len(p) && err != nil) {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v; want %d (length %d)", len(p), off, n, err, wantN, len(m.model))
	}
	copy(m.model[off:], p[:n])
	if m.f != nil && m.shared {
		copy(m.file[m.off+off:], p[:n])
	}
}

func (m *resizeMachine) ReadAt(t *rapid.T) {
	off := rapid.IntRange(0, len(m.model)+PageSize()).Draw(t, "off")
	p := make([]byte, rapid.IntRange(0, 2*PageSize()).Draw(t, "n"))
	n, err := m.r.ReadAt(p, int64(off))
	want := m.model[min(off, len(m.model)):min(off+len(p), len(m.model))]
	if n != len(want) || (n < len(p)) != (err == io.EOF) || (n == len(p) && err != nil) {
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d (length %d)", len(p), off, n, err, len(want), len(m.model))
	}
	if !bytes.Equal(p[:n], want) {
		t.Fatalf("ReadAt at %d differs from the model:\n%s", off, cmp.Diff(want, p[:n]))
	}
}

func (m *resizeMachine) Flush(t *rapid.T) {
	if err := m.r.Flush(); err != nil {
		t.Fatal(err)
	}
	if m.f == nil {
		return
	}
	got, err := os.ReadFile(m.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, m.file) {
		t.Fatalf("file after Flush differs from the model (%d and %d bytes):\n%s", len(got), len(m.file), cmp.Diff(m.file, got))
	}
}

func (m *resizeMachine) Remap(t *rapid.T) {
	if err := m.r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := m.r.Map(); err != nil {
		t.Fatal(err)
	}
	m.model = m.resized(0)
	m.model = m.resized(m.r.Len()) // fresh zeros, or the file's contents
	m.base = unsafe.SliceData(m.r.Bytes())
}

// check compares the region with the model after every step.
func (m *resizeMachine) check(t *rapid.T) {
	if m.r.Len() != len(m.model) {
		t.Fatalf("Len() = %d, model %d", m.r.Len(), len(m.model))
	}
	b := m.r.Bytes()
	if !bytes.Equal(b, m.model) {
		t.Fatalf("region differs from the model:\n%s", cmp.Diff(m.model, b))
	}
	if m.reserve > 0 && unsafe.SliceData(b) != m.base {
		t.Fatalf("region moved inside its reservation from %p to %p", m.base, unsafe.SliceData(b))
	}
}

func TestStorResizeMachine(t *testing.T) { checkResizeMachine(t) }

// FuzzStorResizeMachine runs the state machine from fuzzed input.
func FuzzStorResizeMachine(f *testing.F) {
	dir := tempDir(f)
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) { runResizeMachine(t, dir) }))
}

func checkResizeMachine(t *testing.T) {
	dir := tempDir(t)
	rapid.Check(t, func(t *rapid.T) { runResizeMachine(t, dir) })
}

// runResizeMachine builds a region, anonymous or of a file in dir, and runs
// the state machine on it.
//
// Under qemu-user with pages larger than the host's (largePagesEmulated)
// the file always ends at a page boundary: qemu maps a file with host pages
// and cannot map the part of the guest's last page beyond the file's end
// (a shared writable mmap there fails, mremap leaves pages that raise
// SIGBUS), nor show bytes appended to the file later in that part.
func runResizeMachine(t *rapid.T, dir string) {
	ps := PageSize()
	m := &resizeMachine{}
	flags := rapid.SampledFrom([]Flag{Shared, Private}).Draw(t, "sharing")
	flags |= rapid.SampledFrom([]Flag{0, Guard, Populate}).Draw(t, "flag")
	m.shared = flags&Shared != 0
	pages := rapid.IntRange(1, 4).Draw(t, "pages")
	var (
		r   *Region
		err error
	)
	if rapid.Bool().Draw(t, "file") {
		m.off = rapid.IntRange(0, 1).Draw(t, "offPages") * Granularity()
		size := m.off + rapid.IntRange(pages, 6).Draw(t, "filePages")*ps
		if !largePagesEmulated() {
			size += rapid.IntRange(0, ps-1).Draw(t, "extra")
		}
		m.file = pattern(size, byte(size))
		name := filepath.Join(dir, "machine")
		if err := os.WriteFile(name, m.file, 0o644); err != nil {
			t.Fatal(err)
		}
		m.f, err = os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.f.Close(); os.Remove(name) })
		r, err = NewFile(m.f, int64(m.off), pages*ps, Read|Write, flags)
	} else {
		r, err = NewAnon(pages*ps, Read|Write, flags)
	}
	if unsupportedHere(err) {
		return // a flag this system refuses for this kind of region
	}
	if err != nil {
		t.Fatal(err)
	}
	if rapid.Bool().Draw(t, "reserve") {
		m.reserve = 32 * ps
		if err := r.Reserve(m.reserve); unsupportedHere(err) {
			m.reserve = 0 // Windows: file regions move as they grow
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
	m.r = r
	m.model = m.resized(0)
	m.model = m.resized(pages * ps)
	m.base = unsafe.SliceData(r.Bytes())
	t.Repeat(map[string]func(*rapid.T){
		"Resize":  m.Resize,
		"Grow":    m.Grow,
		"WriteAt": m.WriteAt,
		"ReadAt":  m.ReadAt,
		"Flush":   m.Flush,
		"Remap":   m.Remap,
		"Append":  m.AppendFile,
		"":        m.check,
	})
}
