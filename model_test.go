// This file holds the property tests: random operations on regions, checked
// after every step against a plain []byte model.

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

// optionalAnonFlags returns the optional flags that anonymous regions can be
// mapped with on this system: flags that the system refuses (with
// ErrUnsupported, or an error of the operating system such as the mlock
// limit) are left out.
func optionalAnonFlags(t *testing.T) []Flag {
	flags := []Flag{Populate, Guard}
	for _, f := range []Flag{NoReserve, Locked, HugePages, Secret} {
		r, err := NewAnon(PageSize(), Read|Write, Private|f)
		if err == nil {
			err = r.Map()
			r.Unmap()
		}
		var pe *fs.PathError
		switch {
		case err == nil:
			flags = append(flags, f)
		case errors.Is(err, errors.ErrUnsupported) || errors.As(err, &pe):
			t.Logf("leaving out %v: %v", f, err)
		default:
			t.Fatalf("probing %v: unclassified error %v", f, err)
		}
	}
	return flags
}

// TestAnonZeroProperty maps anonymous regions of random sizes, protections
// and flags: each is page-aligned and entirely zero, also when mapped again
// after it was written to and unmapped.
func TestAnonZeroProperty(t *testing.T) {
	ps := PageSize()
	optional := optionalAnonFlags(t)
	rapid.Check(t, func(rt *rapid.T) {
		pages := rapid.IntRange(1, 64).Draw(rt, "pages")
		prot := rapid.SampledFrom([]Prot{0, Read, Write, Read | Write, Read | Exec}).Draw(rt, "prot")
		flags := rapid.SampledFrom([]Flag{Shared, Private}).Draw(rt, "sharing")
		for _, f := range optional {
			if (f == Secret && flags&Shared != 0) || (f&(Locked|Secret) != 0 && prot == 0) {
				continue
			}
			if rapid.Bool().Draw(rt, f.String()) {
				flags |= f
			}
		}
		r, err := NewAnon(pages*ps, prot, flags)
		if errors.Is(err, errors.ErrUnsupported) && flags&HugePages != 0 {
			// Huge pages may be disabled for one kind of memory (shared
			// memory here); NewAnon says so rather than ignoring the flag.
			return
		}
		if err != nil {
			rt.Fatalf("NewAnon(%d, %v, %v): %v", pages*ps, prot, flags, err)
		}
		for round := range 3 {
			if err := r.Map(); err != nil {
				rt.Fatalf("round %d: Map: %v", round, err)
			}
			if got := r.Prot(); got != prot {
				rt.Errorf("round %d: Prot() = %v after Map, want %v", round, got, prot)
			}
			b := r.Bytes()
			if len(b) != pages*ps || r.Len() != pages*ps {
				rt.Fatalf("round %d: len(Bytes()) = %d, Len() = %d, want %d", round, len(b), r.Len(), pages*ps)
			}
			align := ps
			if flags&HugePages != 0 {
				align = hugePageSize()
			}
			if addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))); addr%uintptr(align) != 0 {
				rt.Errorf("round %d: Bytes() at %#x, not aligned to %d", round, addr, align)
			}
			if prot&(Read|Write) == 0 {
				if err := r.Protect(Read); err != nil {
					rt.Fatalf("Protect(Read): %v", err)
				}
			}
			if i := firstNonZero(b); i >= 0 {
				rt.Fatalf("round %d: byte %d is %#x, want 0", round, i, b[i])
			}
			// Dirty a random part before unmapping, so that the next
			// round shows Map gives fresh pages.
			if prot&Write == 0 {
				if err := r.Protect(Read | Write); err != nil {
					rt.Fatalf("Protect(Read|Write): %v", err)
				}
			}
			off := rapid.IntRange(0, pages*ps-1).Draw(rt, "dirty offset")
			data := pattern(ps, byte(round)|1)
			n, err := r.WriteAt(data, int64(off))
			if want := min(len(data), pages*ps-off); n != want {
				rt.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want %d", len(data), off, n, err, want)
			}
			if err := r.Unmap(); err != nil {
				rt.Fatalf("round %d: Unmap: %v", round, err)
			}
		}
	})
}

// sharedFileModel drives a shared file region with random operations and checks
// it against a plain copy of what the region holds.
type sharedFileModel struct {
	r      *Region
	f      *os.File
	off    int64  // region offset in the file
	model  []byte // what the region holds
	file   []byte // the file's original bytes; those outside the region never change
	ps     int
	length int
}

// checkFile checks that the file holds the model's bytes in [from, to) of
// the region, and its original bytes outside the region. The rest of the
// region may or may not have reached the file yet.
func (m *sharedFileModel) checkFile(t *rapid.T, from, to int) {
	got := make([]byte, len(m.file))
	if n, err := m.f.ReadAt(got, 0); n != len(got) {
		t.Fatalf("reading the file: %d bytes, %v", n, err)
	}
	start, end := int(m.off), int(m.off)+m.length
	if !bytes.Equal(got[:start], m.file[:start]) || !bytes.Equal(got[end:], m.file[end:]) {
		t.Fatalf("file bytes outside the region changed (-want +got):\n%s", diff(got, m.file))
	}
	if g, w := got[start+from:start+to], m.model[from:to]; !bytes.Equal(g, w) {
		t.Fatalf("file bytes [%d, %d) of the region differ from the model after flushing them (-want +got):\n%s", from, to, diff(g, w))
	}
}

func (m *sharedFileModel) offset(t *rapid.T, label string) int64 {
	return int64(rapid.IntRange(-2, m.length+2).Draw(t, label))
}

func (m *sharedFileModel) writeAt(t *rapid.T) {
	off := m.offset(t, "write offset")
	data := pattern(rapid.IntRange(0, 2*m.ps+1).Draw(t, "write length"), rapid.Byte().Draw(t, "write seed"))
	n, err := m.r.WriteAt(data, off)
	switch {
	case off < 0:
		if n != 0 || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want 0, fs.ErrInvalid", len(data), off, n, err)
		}
	case len(data) == 0:
		if n != 0 || err != nil {
			t.Fatalf("WriteAt(0 bytes, %d) = %d, %v; want 0, nil", off, n, err)
		}
	default:
		want := 0
		if off < int64(m.length) {
			want = copy(m.model[off:], data)
		}
		if n != want {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want %d", len(data), off, n, err, want)
		}
		if (want < len(data)) != errors.Is(err, io.ErrShortWrite) || (want == len(data) && err != nil) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want io.ErrShortWrite exactly when short", len(data), off, n, err)
		}
	}
}

func (m *sharedFileModel) readAt(t *rapid.T) {
	off := m.offset(t, "read offset")
	buf := make([]byte, rapid.IntRange(0, 2*m.ps+1).Draw(t, "read length"))
	n, err := m.r.ReadAt(buf, off)
	if off < 0 {
		if n != 0 || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want 0, fs.ErrInvalid", len(buf), off, n, err)
		}
		return
	}
	var want []byte
	if off < int64(m.length) {
		want = m.model[off:min(int(off)+len(buf), m.length)]
	}
	wantErr := error(nil)
	if len(want) < len(buf) {
		wantErr = io.EOF
	}
	if n != len(want) || err != wantErr {
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d, %v", len(buf), off, n, err, len(want), wantErr)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("ReadAt(%d bytes, %d) differs from the model (-want +got):\n%s", len(buf), off, diff(buf[:n], want))
	}
}

func (m *sharedFileModel) flush(t *rapid.T) {
	if err := m.r.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	m.checkFile(t, 0, m.length)
}

func (m *sharedFileModel) flushRange(t *rapid.T) {
	off := rapid.IntRange(0, m.length).Draw(t, "flush offset")
	n := rapid.IntRange(0, m.length-off).Draw(t, "flush length")
	if err := m.r.FlushRange(off, n); err != nil {
		t.Fatalf("FlushRange(%d, %d): %v", off, n, err)
	}
	m.checkFile(t, off, off+n)
}

func (m *sharedFileModel) remap(t *rapid.T) {
	if err := m.r.Unmap(); err != nil {
		t.Fatalf("Unmap: %v", err)
	}
	if err := m.r.Map(); err != nil {
		t.Fatalf("Map: %v", err)
	}
	// Unmapping writes nothing back by itself, but the file and the
	// mapping share the page cache: what was written is what Map finds.
}

func (m *sharedFileModel) check(t *rapid.T) {
	if got := m.r.Bytes(); !bytes.Equal(got, m.model) {
		t.Fatalf("Bytes() differs from the model (-want +got):\n%s", diff(got, m.model))
	}
	got := make([]byte, m.length)
	if n, err := m.r.ReadAt(got, 0); n != m.length || err != nil {
		t.Fatalf("ReadAt of the whole region = %d, %v; want %d, nil", n, err, m.length)
	}
	if !bytes.Equal(got, m.model) {
		t.Fatalf("ReadAt of the whole region differs from the model (-want +got):\n%s", diff(got, m.model))
	}
}

// TestSharedFileModel is a state machine: a shared file region at a random
// offset, of a random length (a page multiple, or ending at the end of the
// file), driven with WriteAt, ReadAt, Flush, FlushRange, Unmap and Map, and
// checked after every step against a []byte model and the file's bytes.
func TestSharedFileModel(t *testing.T) {
	ps, g := PageSize(), Granularity()
	dir := tempDir(t)
	rapid.Check(t, func(rt *rapid.T) {
		off := int64(rapid.IntRange(0, 2).Draw(rt, "offset granules") * g)
		length := rapid.IntRange(1, 4*ps).Draw(rt, "length")
		size := off + int64(length)
		if length%ps == 0 {
			size += int64(rapid.IntRange(0, 2*ps).Draw(rt, "bytes after the region"))
		}
		content := pattern(int(size), rapid.Byte().Draw(rt, "seed"))
		f, err := os.CreateTemp(dir, "model")
		if err != nil {
			rt.Fatal(err)
		}
		rt.Cleanup(func() {
			f.Close()
			os.Remove(f.Name())
		})
		if _, err := f.Write(content); err != nil {
			rt.Fatal(err)
		}
		r, err := NewFile(f, off, length, Read|Write, Shared)
		if err != nil {
			rt.Fatalf("NewFile(%d, %d) of a %d-byte file: %v", off, length, size, err)
		}
		if err := r.Map(); err != nil {
			rt.Fatalf("Map: %v", err)
		}
		rt.Cleanup(func() { r.Unmap() })
		m := &sharedFileModel{r: r, f: f, off: off, ps: ps, length: length,
			model: bytes.Clone(content[off : off+int64(length)]), file: content}
		rt.Repeat(map[string]func(*rapid.T){
			"WriteAt":    m.writeAt,
			"ReadAt":     m.readAt,
			"Flush":      m.flush,
			"FlushRange": m.flushRange,
			"Remap":      m.remap,
			"":           m.check,
		})
		m.flush(rt)
	})
}

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
// would. It is an action only of file regions. It does nothing while a
// private region holds the file's last page: whether that page shows the
// new bytes depends on whether it was copied on write yet. (A skip would
// do the same, but rapid gives up on a run whose actions all skip.)
func (m *resizeMachine) AppendFile(t *rapid.T) {
	mapEnd := m.off + AlignLength(len(m.model))
	if !m.shared && mapEnd > len(m.file) {
		return
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

func TestResizeModel(t *testing.T) { checkResizeMachine(t) }

// FuzzResizeModel runs the state machine from fuzzed input.
func FuzzResizeModel(f *testing.F) {
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
	actions := map[string]func(*rapid.T){
		"Resize":  m.Resize,
		"Grow":    m.Grow,
		"WriteAt": m.WriteAt,
		"ReadAt":  m.ReadAt,
		"Flush":   m.Flush,
		"Remap":   m.Remap,
		"":        m.check,
	}
	if m.f != nil {
		actions["Append"] = m.AppendFile
	}
	t.Repeat(actions)
}
