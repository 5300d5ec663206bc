package mmap

// Hostile tests that need Linux: procfs, /dev/zero, memory unmapped behind
// a region's back, and small or fallocate-less file systems mounted for the
// test.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"
)

func init() {
	childFuncs["hostileSecretHole"] = hostileChildSecretHole
	childFuncs["hostilePopulateFull"] = hostileChildPopulateFull
}

// TestOpenSizeZeroWithContents checks that Open refuses a file that
// reports a size of 0 but has contents (procfs), rather than returning an
// empty region, and still maps a really empty file.
func TestOpenSizeZeroWithContents(t *testing.T) {
	for _, name := range []string{"/proc/version", "/proc/self/status"} {
		if _, err := os.Stat(name); err != nil {
			t.Logf("skipping %s: %v", name, err)
			continue
		}
		r, err := Open(name)
		if err == nil {
			t.Errorf("Open(%s) = region of %d bytes, nil error; want an error matching errors.ErrUnsupported", name, r.Len())
			r.Close()
			continue
		}
		checkErr(t, "Open("+name+")", err, "", errors.ErrUnsupported)
	}
	_, name := tempFile(t, nil, os.O_RDONLY)
	r, err := Open(name)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	defer r.Close()
	if r.Len() != 0 || r.Bytes() == nil {
		t.Errorf("Open of an empty file: Len %d, Bytes nil %v; want 0, an empty slice", r.Len(), r.Bytes() == nil)
	}
}

// TestNewFileDescriptorClosedBehindFile checks that NewFile on an *os.File
// whose descriptor was closed behind its back returns an error matching
// fs.ErrInvalid and keeping EBADF, like Map, Resize and Grow.
func TestNewFileDescriptorClosedBehindFile(t *testing.T) {
	ps := PageSize()
	r, f, _ := mapFile(t, pattern(2*ps, 1), os.O_RDWR, 0, ps, Read|Write, Shared)
	// Close the descriptor under the *os.File, which still believes it open.
	if err := syscall.Close(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	_, err := NewFile(f, 0, ps, Read, Shared)
	checkErr(t, "NewFile of a descriptor closed behind the file", err, "fstat", fs.ErrInvalid, syscall.EBADF)
	checkErr(t, "Resize with the descriptor closed", r.Resize(2*ps), "", fs.ErrInvalid, syscall.EBADF)
	checkErr(t, "Grow with the descriptor closed", r.Grow(2*ps), "", fs.ErrInvalid, syscall.EBADF)
	if err := r.Unmap(); err != nil {
		t.Errorf("Unmap: %v", err)
	}
	checkErr(t, "Map with the descriptor closed", r.Map(), "", fs.ErrInvalid, syscall.EBADF)
}

// TestResizeSharedZeroDeviceKeepsPagesUsable checks that Resize and Grow of
// a Shared mapping of /dev/zero (shared anonymous memory in disguise) keep
// the contents and make every new page usable, with and without Guard and
// Reserve.
func TestResizeSharedZeroDeviceKeepsPagesUsable(t *testing.T) {
	ps := PageSize()
	for _, tt := range []struct {
		name    string
		flags   Flag
		reserve int
		off     int64
	}{
		{"Shared", Shared, 0, 0},
		{"Shared|Guard", Shared | Guard, 0, 0},
		{"Shared+Reserve", Shared, 16 * ps, 0},
		{"Private", Private, 0, 0},
		{"Shared at an offset", Shared, 0, 4 * int64(Granularity())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			skipUnderLargePages(t, whyNoDevice)
			f, err := os.OpenFile("/dev/zero", os.O_RDWR, 0)
			if err != nil {
				t.Skipf("no /dev/zero: %v", err)
			}
			t.Cleanup(func() { f.Close() })
			r, err := NewFile(f, tt.off, ps, Read|Write, tt.flags)
			r = mapReserved(t, r, err, tt.reserve)
			want := pattern(ps, 3)
			if _, err := r.WriteAt(want, 0); err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				op     string
				length int
				do     func(int) error
			}{
				{"Resize", 3 * ps, r.Resize},
				{"Grow", 5 * ps, r.Grow},
				{"Resize", 2 * ps, r.Resize},
				{"Grow", 8 * ps, r.Grow},
			} {
				if err := step.do(step.length); err != nil {
					t.Fatalf("%s(%d): %v", step.op, step.length, err)
				}
				want = want[:min(len(want), step.length)]
				got := make([]byte, step.length)
				n, err := r.ReadAt(got, 0)
				if err != nil || n != step.length {
					t.Fatalf("after %s(%d): ReadAt of the region = %d, %v; want %d, nil", step.op, step.length, n, err, step.length)
				}
				if !bytes.Equal(got[:len(want)], want) {
					t.Fatalf("after %s(%d): contents differ from what was written", step.op, step.length)
				}
				if i := firstNonZero(got[len(want):]); i >= 0 {
					t.Fatalf("after %s(%d): byte %d of the new pages is %#x, want 0", step.op, step.length, len(want)+i, got[len(want)+i])
				}
				// The new pages take writes; they are part of want from now on.
				more := pattern(step.length-len(want), byte(step.length))
				if _, err := r.WriteAt(more, int64(len(want))); err != nil {
					t.Fatalf("after %s(%d): WriteAt of the new pages: %v", step.op, step.length, err)
				}
				want = append(want, more...)
			}
		})
	}
}

// TestFillZerosAppendModeFile checks that the zeros that extend a file where
// fallocate is missing are written to a file opened with O_APPEND too, at
// its end, and that an error of the write is an *fs.PathError.
func TestFillZerosAppendModeFile(t *testing.T) {
	ps := PageSize()
	f, name := tempFile(t, pattern(ps, 5), os.O_RDWR|os.O_APPEND)
	if err := fillZeros(f, int64(ps), 3*int64(ps)); err != nil {
		t.Fatalf("fillZeros of a file opened with O_APPEND: %v", err)
	}
	got := readFile(t, name)
	want := append(pattern(ps, 5), make([]byte, 3*ps)...)
	if !bytes.Equal(got, want) {
		t.Errorf("file after fillZeros: %d bytes, want %d: %s", len(got), len(want), diff(got, want))
	}
	ro, _ := tempFile(t, nil, os.O_RDONLY)
	checkErr(t, "fillZeros of a read-only file", fillZeros(ro, 0, int64(ps)), "write", syscall.EBADF)
}

// TestGrowReadOnlyFile checks that Grow of a region whose file is open for
// reading only fails with an error matching fs.ErrInvalid and keeping EBADF,
// with the region as it was.
func TestGrowReadOnlyFile(t *testing.T) {
	ps := PageSize()
	r, _, _ := mapFile(t, pattern(ps, 2), os.O_RDONLY, 0, ps, Read, Shared)
	checkErr(t, "Grow of a read-only file", r.Grow(3*ps), "", fs.ErrInvalid, syscall.EBADF)
	if r.Len() != ps {
		t.Errorf("Len after a failed Grow = %d, want %d", r.Len(), ps)
	}
	checkContents(t, r, pattern(ps, 2))
}

// ramfsDir mounts a ramfs, a file system without fallocate, for the test
// and returns its directory, or skips the test where mounting is not
// allowed.
func ramfsDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a ramfs (a file system without fallocate) needs root")
	}
	dir := tempDir(t)
	if err := unix.Mount("ramfs", dir, "ramfs", 0, ""); err != nil {
		t.Skipf("cannot mount a ramfs here (%v): Grow without fallocate is not tested", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestGrowWithoutFallocate checks that Grow works on a file system without
// fallocate (ramfs), for a file opened for writing with and without
// O_APPEND, and for a region whose file ends inside its last page.
func TestGrowWithoutFallocate(t *testing.T) {
	dir := ramfsDir(t)
	ps := PageSize()
	for _, tt := range []struct {
		name string
		flag int
		size int
	}{
		{"O_RDWR", os.O_RDWR, ps},
		{"O_RDWR|O_APPEND", os.O_RDWR | os.O_APPEND, ps},
		{"O_RDWR|O_APPEND partial page", os.O_RDWR | os.O_APPEND, ps + 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(dir, fmt.Sprintf("grow%d", tt.flag+tt.size))
			if err := os.WriteFile(name, pattern(tt.size, 7), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(name, tt.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			r, err := NewFile(f, 0, tt.size, Read|Write, Shared)
			r = mapRegion(t, r, err)
			if err := r.Grow(4 * ps); err != nil {
				t.Fatalf("Grow(%d) on ramfs: %v (%T)", 4*ps, err, err)
			}
			if _, err := r.WriteAt(pattern(4*ps-tt.size, 9), int64(tt.size)); err != nil {
				t.Fatalf("WriteAt in the grown part: %v", err)
			}
			fi, err := f.Stat()
			if err != nil || fi.Size() != int64(4*ps) {
				t.Fatalf("file size after Grow = %v, %v; want %d", fi.Size(), err, 4*ps)
			}
			if err := r.Flush(); err != nil {
				t.Fatal(err)
			}
			want := append(pattern(tt.size, 7), pattern(4*ps-tt.size, 9)...)
			if got := readFile(t, name); !bytes.Equal(got, want) {
				t.Errorf("file after Grow and WriteAt: %s", diff(got, want))
			}
		})
	}
}

// hostileChildSecretHole unmaps a page in the middle of a Secret region
// behind its back, then shrinks the region over the hole and unmaps it: the
// wipe of the hole faults, which must come back as an error, not a crash.
func hostileChildSecretHole() int {
	ps := PageSize()
	r, err := NewAnon(4*ps, Read|Write, Private|Secret)
	if errors.Is(err, errors.ErrUnsupported) {
		fmt.Println("skip: Secret is not supported here:", err)
		return 0
	}
	if r = childMap("map a Secret region", r, err); r == nil {
		return 1
	}
	b := r.Bytes()
	if _, err := r.WriteAt(pattern(4*ps, 1), 0); err != nil {
		fmt.Fprintln(os.Stderr, "WriteAt:", err)
		return 1
	}
	if err := unix.MunmapPtr(unsafe.Pointer(&b[2*ps]), uintptr(ps)); err != nil {
		fmt.Fprintln(os.Stderr, "munmap behind the region's back:", err)
		return 1
	}
	status := 0
	err = r.Resize(ps)
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Op != "wipe" || fe.Offset != int64(2*ps) {
		fmt.Fprintf(os.Stderr, "Resize over a hole = %v; want a *FaultError of wipe at offset %d\n", err, 2*ps)
		status = 1
	}
	if r.Len() != 4*ps || !r.Mapped() {
		fmt.Fprintf(os.Stderr, "after a failed Resize: Len %d, Mapped %v; want %d, true\n", r.Len(), r.Mapped(), 4*ps)
		status = 1
	}
	err = r.Unmap()
	if !errors.As(err, &fe) || fe.Op != "wipe" || fe.Offset != int64(2*ps) {
		fmt.Fprintf(os.Stderr, "Unmap over a hole = %v; want a *FaultError of wipe at offset %d\n", err, 2*ps)
		status = 1
	}
	if r.Mapped() {
		fmt.Fprintln(os.Stderr, "the region is still mapped after Unmap")
		status = 1
	}
	return status
}

// TestSecretWipeOfHoleReturnsFault checks that the wipe of a Secret region
// at shrink and at Unmap turns a fault (a page unmapped behind the region's
// back) into a *FaultError: Resize leaves the region as it was, Unmap
// unmaps it all the same.
func TestSecretWipeOfHoleReturnsFault(t *testing.T) {
	runChild(t, "hostileSecretHole", nil)
}

// fillFS fills the file system of dir until a write fails with ENOSPC.
func fillFS(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	// What is left is less than a chunk: fill it page by page.
	for {
		if _, err := f.Write(chunk[:PageSize()]); err != nil {
			return
		}
	}
}

// hostileChildPopulateFull grows Populate regions of the file at descriptor
// 3, a sparse file on a full tmpfs, over pages that cannot be allocated: the
// prefault of the new pages must fail with an error, not raise SIGBUS.
func hostileChildPopulateFull() int {
	f := os.NewFile(3, "sparse")
	ps := PageSize()
	status := 0
	for _, flags := range []Flag{Shared | Populate, Private | Populate} {
		r, err := NewFile(f, 0, ps, Read, flags)
		if err == nil {
			err = r.Map()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "map %v: %v\n", flags, err)
			status = 1
			continue
		}
		err = r.Resize(16 * ps)
		if err == nil || !classified(err) {
			fmt.Fprintf(os.Stderr, "%v: Resize over pages a full tmpfs cannot give = %v; want a classified error\n", flags, err)
			status = 1
		} else if r.Len() != ps {
			fmt.Fprintf(os.Stderr, "%v: Len after a failed Resize = %d, want %d\n", flags, r.Len(), ps)
			status = 1
		}
		if _, err := r.ReadAt(make([]byte, 1), 0); err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(os.Stderr, "%v: ReadAt after a failed Resize: %v\n", flags, err)
			status = 1
		}
		if err := r.Unmap(); err != nil {
			fmt.Fprintf(os.Stderr, "%v: Unmap: %v\n", flags, err)
			status = 1
		}
	}
	return status
}

// TestResizePopulateOnFullTmpfs checks that Resize of a Populate file
// region over pages that a full tmpfs cannot provide returns an error and
// leaves the region as it was, instead of raising SIGBUS in the prefault.
func TestResizePopulateOnFullTmpfs(t *testing.T) {
	dir := smallFS(t)
	ps := PageSize()
	f, err := os.OpenFile(filepath.Join(dir, "sparse"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(pattern(ps, 1)); err != nil {
		t.Fatal(err)
	}
	fillFS(t, dir)
	if err := f.Truncate(16 * int64(ps)); err != nil { // a hole: no blocks
		t.Fatal(err)
	}
	runChild(t, "hostilePopulateFull", []*os.File{f})
}

// machineEnv, set in a child process, holds the directory in which the
// hostile machine of the test named by machineTestEnv runs.
const (
	machineEnv     = "MMAP_TEST_HOSTILE_DIR"
	machineFullEnv = "MMAP_TEST_HOSTILE_FULL" // "1": the directory is a small tmpfs to fill
)

// hostileMachine is a Shared file region attacked from every side: the file
// truncated and extended through another descriptor, the disk filled,
// Protect changes, buffers from another region. It checks that no call
// crashes or hangs, that every error is classified, and that the bytes a
// WriteAt reports as written are in the file.
type hostileMachine struct {
	dir      string
	full     bool     // dir is a small tmpfs that fill can fill
	f, other *os.File // the region's file, and another descriptor of it
	filler   *os.File // fills the file system
	r        *Region
	buf      *Region // anonymous memory that buffers may come from
	overlap  bool    // buffers may also come from the region itself
}

const hostileMaxPages = 8

// stepDeadline is how long one step may take before the machine counts it
// as hung.
const stepDeadline = 10 * time.Second

// within runs fn and returns when it does; if it does not return within
// stepDeadline, the process reports the step as hung and exits, since the
// goroutine cannot be stopped (the parent process reports the failure).
func within(what string, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(stepDeadline)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		fmt.Fprintf(os.Stderr, "hostile machine: %s did not return within %v\n", what, stepDeadline)
		os.Exit(3)
	}
}

// classifiedOrNil fails the test if err is neither nil nor classified.
func (m *hostileMachine) classifiedOrNil(t *rapid.T, what string, err error) {
	if err != nil && !classified(err) {
		t.Fatalf("%s: error %q (%T) is not classified", what, err, err)
	}
}

func (m *hostileMachine) init(t *rapid.T, populate bool) {
	ps := PageSize()
	name := filepath.Join(m.dir, "data")
	pages := rapid.IntRange(1, hostileMaxPages).Draw(t, "pages")
	if err := os.WriteFile(name, pattern(pages*ps, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if m.f, err = os.OpenFile(name, os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	if m.other, err = os.OpenFile(name, os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	flags := Shared
	if populate && rapid.Bool().Draw(t, "populate") {
		flags |= Populate
	}
	if m.r, err = NewFile(m.f, 0, pages*ps, Read|Write, flags); err != nil {
		t.Fatal(err)
	}
	if err := m.r.Map(); err != nil {
		t.Fatal(err)
	}
	if m.buf, err = NewAnon(2*hostileMaxPages*ps, Read|Write, Private); err != nil {
		t.Fatal(err)
	}
	if err := m.buf.Map(); err != nil {
		t.Fatal(err)
	}
	if m.full {
		if m.filler, err = os.Create(filepath.Join(m.dir, "filler")); err != nil {
			t.Fatal(err)
		}
	}
}

func (m *hostileMachine) cleanup() {
	for _, r := range []*Region{m.r, m.buf} {
		if r != nil {
			within("Unmap at cleanup", func() { r.Unmap() })
		}
	}
	for _, f := range []*os.File{m.f, m.other, m.filler} {
		if f != nil {
			f.Close()
		}
	}
	os.Remove(filepath.Join(m.dir, "data"))
	os.Remove(filepath.Join(m.dir, "filler"))
}

// buffer returns a buffer of n bytes: fresh memory, memory of the other
// region (whose protection may have been changed), or, if m.overlap, the
// region's own memory.
func (m *hostileMachine) buffer(t *rapid.T, n int) (p []byte, kind string) {
	kinds := []string{"fresh", "other region"}
	if m.overlap {
		kinds = append(kinds, "the region")
	}
	switch kind = rapid.SampledFrom(kinds).Draw(t, "buffer"); kind {
	case "other region":
		b := m.buf.Bytes()
		at := rapid.IntRange(0, len(b)-n).Draw(t, "buffer offset")
		return b[at : at+n], kind
	case "the region":
		b := m.r.Bytes()
		if len(b) >= n {
			at := rapid.IntRange(0, len(b)-n).Draw(t, "buffer offset")
			return b[at : at+n], kind
		}
	}
	return pattern(n, byte(n)), "fresh"
}

// fileBytes returns the file's bytes at off, up to n of them.
func (m *hostileMachine) fileBytes(t *rapid.T, off int64, n int) []byte {
	b := make([]byte, n)
	k, err := m.other.ReadAt(b, off)
	if err != nil && err != io.EOF {
		t.Fatalf("reading the file: %v", err)
	}
	return b[:k]
}

func (m *hostileMachine) WriteAt(t *rapid.T) {
	ps := PageSize()
	n := rapid.IntRange(0, 3*ps).Draw(t, "n")
	off := int64(rapid.IntRange(-1, (hostileMaxPages+1)*ps).Draw(t, "off"))
	p, kind := m.buffer(t, n)
	// What p holds: for a fresh buffer its bytes; for mapped memory what
	// can be read of it now (a buffer that faults is not compared).
	var want []byte
	switch kind {
	case "fresh":
		want = bytes.Clone(p)
	default:
		want = make([]byte, n)
		src := m.buf
		if kind == "the region" {
			src = m.r
		}
		at := int64(uintptr(unsafe.Pointer(unsafe.SliceData(p))) - uintptr(unsafe.Pointer(unsafe.SliceData(src.Bytes()))))
		var k int
		within("ReadAt of the buffer", func() { k, _ = src.ReadAt(want, at) })
		want = want[:k]
	}
	written, err := m.transfer(t, "WriteAt", fmt.Sprintf("of %s", kind), n, off, func() (int, error) { return m.r.WriteAt(p, off) })
	if written == 0 {
		return
	}
	// Every byte reported written that lies inside the file is in it.
	got := m.fileBytes(t, off, min(written, len(want)))
	if !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("WriteAt(%d bytes of %s, %d) = %d, %v; the file differs: %s", n, kind, off, written, err, diff(got, want[:len(got)]))
	}
}

// transfer runs call, the ReadAt or WriteAt (op) of n bytes of the buffer
// (where says which) at off, and checks that it returns, with a count of at
// most n and an error that is nil or classified.
func (m *hostileMachine) transfer(t *rapid.T, op, where string, n int, off int64, call func() (int, error)) (int, error) {
	var (
		k   int
		err error
	)
	within(fmt.Sprintf("%s(%d bytes %s, %d)", op, n, where, off), func() { k, err = call() })
	m.classifiedOrNil(t, op, err)
	if k < 0 || k > n {
		t.Fatalf("%s(%d bytes, %d) = %d, %v", op, n, off, k, err)
	}
	return k, err
}

func (m *hostileMachine) ReadAt(t *rapid.T) {
	ps := PageSize()
	n := rapid.IntRange(0, 3*ps).Draw(t, "n")
	off := int64(rapid.IntRange(-1, (hostileMaxPages+1)*ps).Draw(t, "off"))
	p, kind := m.buffer(t, n)
	read, err := m.transfer(t, "ReadAt", fmt.Sprintf("into %s", kind), n, off, func() (int, error) { return m.r.ReadAt(p, off) })
	if kind != "fresh" || read == 0 {
		return
	}
	got := m.fileBytes(t, off, read)
	if !bytes.Equal(p[:len(got)], got) {
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; the bytes differ from the file's: %s", n, off, read, err, diff(p[:len(got)], got))
	}
}

func (m *hostileMachine) Access(t *rapid.T) {
	ps := PageSize()
	off := rapid.IntRange(-1, (hostileMaxPages+1)*ps).Draw(t, "off")
	n := rapid.IntRange(0, 2*ps).Draw(t, "n")
	write := rapid.Bool().Draw(t, "write")
	var err error
	within(fmt.Sprintf("Access(%d, %d)", off, n), func() {
		err = m.r.Access(off, n, func(b []byte) error {
			if write {
				clear(b)
			} else {
				sink = byte(bytes.IndexByte(b, 0xff))
			}
			return nil
		})
	})
	m.classifiedOrNil(t, "Access", err)
}

func (m *hostileMachine) Truncate(t *rapid.T) {
	size := rapid.IntRange(0, (hostileMaxPages+1)*PageSize()).Draw(t, "size")
	if err := m.other.Truncate(int64(size)); err != nil {
		t.Fatalf("truncate from outside: %v", err)
	}
}

func (m *hostileMachine) Extend(t *rapid.T) {
	n := rapid.IntRange(1, 2*PageSize()).Draw(t, "n")
	fi, err := m.other.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.other.WriteAt(pattern(n, 9), fi.Size()); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("extending the file from outside: %v", err)
	}
}

func (m *hostileMachine) Protect(t *rapid.T) {
	p := rapid.SampledFrom([]Prot{0, Read, Read | Write}).Draw(t, "prot")
	r := m.r
	if rapid.Bool().Draw(t, "the other region") {
		r = m.buf
	}
	var err error
	within(fmt.Sprintf("Protect(%v)", p), func() { err = r.Protect(p) })
	m.classifiedOrNil(t, "Protect", err)
}

func (m *hostileMachine) Resize(t *rapid.T) {
	n := rapid.IntRange(1, hostileMaxPages*PageSize()).Draw(t, "length")
	if rapid.Bool().Draw(t, "whole pages") {
		n = AlignLength(n)
	}
	var err error
	within(fmt.Sprintf("Resize(%d)", n), func() { err = m.r.Resize(n) })
	m.classifiedOrNil(t, "Resize", err)
}

func (m *hostileMachine) Grow(t *rapid.T) {
	n := rapid.IntRange(1, hostileMaxPages*PageSize()).Draw(t, "length")
	var err error
	within(fmt.Sprintf("Grow(%d)", n), func() { err = m.r.Grow(n) })
	m.classifiedOrNil(t, "Grow", err)
	if err == nil {
		fi, serr := m.other.Stat()
		if serr != nil || fi.Size() < int64(n) {
			t.Fatalf("Grow(%d) = nil, but the file has %d bytes (%v)", n, fi.Size(), serr)
		}
	}
}

func (m *hostileMachine) Remap(t *rapid.T) {
	var err error
	if m.r.Mapped() {
		within("Unmap", func() { err = m.r.Unmap() })
		m.classifiedOrNil(t, "Unmap", err)
	}
	within("Map", func() { err = m.r.Map() })
	m.classifiedOrNil(t, "Map", err)
}

func (m *hostileMachine) Flush(t *rapid.T) {
	var err error
	within("Flush", func() { err = m.r.Flush() })
	m.classifiedOrNil(t, "Flush", err)
}

// Check checks that the region's state is one of those documented: mapped
// with Bytes of Len bytes, or not mapped with Bytes nil.
func (m *hostileMachine) Check(t *rapid.T) {
	var (
		b      []byte
		n      int
		mapped bool
	)
	within("Bytes, Len and Mapped", func() { b, n, mapped = m.r.Bytes(), m.r.Len(), m.r.Mapped() })
	if mapped != (b != nil) || (mapped && len(b) != n) || n <= 0 {
		t.Fatalf("Mapped %v, Len %d, len(Bytes) %d (nil %v)", mapped, n, len(b), b == nil)
	}
}

func (m *hostileMachine) Fill(t *rapid.T) {
	if !m.full {
		t.Skip("no small file system to fill")
	}
	chunk := make([]byte, 16*PageSize())
	for {
		if _, err := m.filler.Write(chunk); err != nil {
			break
		}
	}
	for {
		if _, err := m.filler.Write(chunk[:PageSize()]); err != nil {
			break
		}
	}
}

func (m *hostileMachine) Free(t *rapid.T) {
	if !m.full {
		t.Skip("no small file system to fill")
	}
	if err := m.filler.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.filler.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
}

// runHostileMachine runs the machine in a child process (a step may crash
// it), in a small tmpfs if one can be mounted, else in a temporary
// directory. With overlap, buffers also come from the region itself, and
// Populate regions are among those drawn.
func runHostileMachine(t *testing.T, overlap bool) {
	skipUnderLargePages(t, "qemu-user with pages larger than the host's maps anonymous memory past a file's end, "+
		"so writes there succeed and never reach the file")
	if dir := os.Getenv(machineEnv); dir != "" {
		rapid.Check(t, func(t *rapid.T) {
			m := &hostileMachine{dir: dir, full: os.Getenv(machineFullEnv) == "1", overlap: overlap}
			defer m.cleanup()
			m.init(t, overlap)
			t.Repeat(rapid.StateMachineActions(m))
		})
		return
	}
	dir, full := tempDir(t), "0"
	switch {
	case os.Geteuid() != 0:
		t.Log("not root: no small tmpfs to fill, Resize and Grow on a full disk are not tested")
	default:
		if err := mountTmpfs(dir); err != nil {
			t.Logf("cannot mount a tmpfs (%v): Resize and Grow on a full disk are not tested", err)
			break
		}
		full = "1"
		t.Cleanup(func() {
			if err := unmount(dir); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		})
	}
	cmd := childCommand(t, "", nil, machineEnv+"="+dir, machineFullEnv+"="+full)
	// Run this test itself in the child: its rapid.Check runs the machine.
	cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "-test.run=^"+t.Name()+"$", "-test.count=1",
		"-rapid.checks=50", "-rapid.steps=40", "-rapid.nofailfile")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("hostile machine in a child process: %v\n%s", err, out.Bytes())
	}
}

// TestHostileSharedFileMachine runs the hostile machine with buffers that
// are fresh or from another region.
func TestHostileSharedFileMachine(t *testing.T) {
	runHostileMachine(t, false)
}

// TestHostileSharedFileMachineOverlap runs the hostile machine with buffers
// that may also be the region's own memory (faulting when the region is
// protected or its file truncated), and with Populate regions.
func TestHostileSharedFileMachineOverlap(t *testing.T) {
	runHostileMachine(t, true)
}
