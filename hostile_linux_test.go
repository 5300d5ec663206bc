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
	"unsafe"

	"golang.org/x/sys/unix"
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
	f, _ := tempFile(t, pattern(2*ps, 1), os.O_RDWR)
	r, err := NewFile(f, 0, ps, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Unmap() })
	// Close the descriptor under the *os.File, which still believes it open.
	if err := syscall.Close(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	_, err = NewFile(f, 0, ps, Read, Shared)
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
			f, err := os.OpenFile("/dev/zero", os.O_RDWR, 0)
			if err != nil {
				t.Skipf("no /dev/zero: %v", err)
			}
			t.Cleanup(func() { f.Close() })
			r, err := NewFile(f, tt.off, ps, Read|Write, tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reserve > 0 {
				if err := r.Reserve(tt.reserve); err != nil {
					t.Fatal(err)
				}
			}
			r = mapRegion(t, r, nil)
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
	if err == nil {
		err = r.Map()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "map a Secret region:", err)
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
