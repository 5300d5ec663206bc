// This file tests shared memory: regions shared with a child process,
// seals, and the lifetime of the memory.

package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Seeds of the patterns that parent and child write to shared memory.
const (
	parentSeed    = 11
	childSeed     = 97
	sharedSizeEnv = "MMAP_TEST_MEM_SIZE"
)

func init() {
	childFuncs["sharedMemoryReadWrite"] = childSharedReadWrite
	childFuncs["sharedMemorySealed"] = childSharedSealed
}

// mapSharedMemory returns a new shared memory region, closed at the end of the
// test; it skips the test where the system has no shared memory files.
func mapSharedMemory(t *testing.T, name string, length int) *Region {
	t.Helper()
	r, err := NewSharedMemory(name, length)
	if errors.Is(err, errors.ErrUnsupported) && runtime.GOOS != "linux" {
		t.Skipf("no shared memory on %s: %v", runtime.GOOS, err)
	}
	if err != nil {
		t.Fatalf("NewSharedMemory(%q, %d): %v", name, length, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// childSharedMemory returns the shared memory file a child received as
// descriptor 3, and the size its parent announced.
func childSharedMemory() (*os.File, int, error) {
	f := os.NewFile(3, "shared")
	size, err := strconv.Atoi(os.Getenv(sharedSizeEnv))
	if err != nil {
		return nil, 0, err
	}
	return f, size, nil
}

// childSharedReadWrite maps the shared memory it received, checks that it holds
// what the parent wrote, and overwrites it with a pattern of its own.
func childSharedReadWrite() int {
	if err := sharedReadWrite(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func sharedReadWrite() error {
	f, size, err := childSharedMemory()
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != int64(size) {
		return fmt.Errorf("file size %d, want %d", fi.Size(), size)
	}
	r, err := NewFile(f, 0, size, Read|Write, Shared)
	if err != nil {
		return err
	}
	if err := r.Map(); err != nil {
		return err
	}
	defer r.Unmap()
	if !bytes.Equal(r.Bytes(), pattern(size, parentSeed)) {
		return errors.New("the memory does not hold what the parent wrote")
	}
	copy(r.Bytes(), pattern(size, childSeed))
	return r.Unmap()
}

// childSharedSealed checks that the shared memory it received is sealed
// against growing, shrinking and writing, that every attempt to do so fails
// with EPERM, and that it can still map it read-only.
func childSharedSealed() int {
	if errs := sharedSealed(); len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, "child:", err)
		}
		return 1
	}
	return 0
}

func sharedSealed() (errs []error) {
	f, size, err := childSharedMemory()
	if err != nil {
		return []error{err}
	}
	seals, err := Seals(f)
	if err != nil {
		return []error{err}
	}
	if want := SealShrink | SealGrow | SealWrite; seals&want != want {
		errs = append(errs, fmt.Errorf("seals %v, want at least %v", seals, want))
	}
	wantEPERM := func(what string, err error) {
		if !errors.Is(err, syscall.EPERM) {
			errs = append(errs, fmt.Errorf("%s: %v, want EPERM", what, err))
		}
	}
	wantEPERM("grow", f.Truncate(int64(size+pageSize)))
	wantEPERM("shrink", f.Truncate(int64(size/2)))
	_, err = f.WriteAt([]byte("x"), 0)
	wantEPERM("write", err)
	if rw, err := NewFile(f, 0, size, Read|Write, Shared); err != nil {
		errs = append(errs, err)
	} else {
		err := rw.Map()
		wantEPERM("writable shared Map", err)
		if err == nil {
			rw.Unmap()
		}
	}

	ro, err := NewFile(f, 0, size, Read, Shared)
	if err != nil {
		return append(errs, err)
	}
	if err := ro.Map(); err != nil {
		return append(errs, err)
	}
	defer ro.Unmap()
	if !bytes.Equal(ro.Bytes(), pattern(size, parentSeed)) {
		errs = append(errs, errors.New("the read-only mapping does not hold what the parent wrote"))
	}
	if err := ro.Protect(Read | Write); !errors.Is(err, fs.ErrPermission) {
		errs = append(errs, fmt.Errorf("Protect(Read|Write) of a write-sealed mapping: %v, want EPERM or EACCES", err))
	}
	return errs
}

// runSharedMemoryChild runs the child function name with r's file as descriptor 3.
func runSharedMemoryChild(t *testing.T, name string, r *Region) {
	t.Helper()
	cmd := childCommand(t, name, []*os.File{r.File()}, sharedSizeEnv+"="+strconv.Itoa(r.Len()))
	if err := cmd.Run(); err != nil {
		t.Fatalf("child %s: %v", name, err)
	}
}

func TestSharedMemoryInChild(t *testing.T) {
	t.Parallel()             // the child's start is slow under the race detector
	size := 3*pageSize + 100 // not a whole number of pages
	r := mapSharedMemory(t, "mem-child", size)
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	if got := len(r.Bytes()); got != size {
		t.Fatalf("len(Bytes()) = %d, want %d", got, size)
	}
	copy(r.Bytes(), pattern(size, parentSeed))

	// The memory is in no file system: its file has no name left.
	if runtime.GOOS == "linux" {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", r.File().Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(link, "/memfd:mem-child") || !strings.HasSuffix(link, "(deleted)") {
			t.Errorf("descriptor links to %q, want an unlinked memfd", link)
		}
	}

	runSharedMemoryChild(t, "sharedMemoryReadWrite", r)
	// No Flush: the child's writes are in the same pages.
	if got, want := r.Bytes(), pattern(size, childSeed); !bytes.Equal(got, want) {
		t.Errorf("after the child wrote: memory holds %x..., want %x...", got[:16], want[:16])
	}
	buf := make([]byte, 100)
	if _, err := r.ReadAt(buf, int64(size-100)); err != nil || !bytes.Equal(buf, pattern(size, childSeed)[size-100:]) {
		t.Errorf("ReadAt of the last 100 bytes: %v, %x", err, buf)
	}
}

func TestSealedSharedMemoryInChild(t *testing.T) {
	if !emulated() {
		// qemu-user starts children with a real fork, whose copy of a
		// writable mapping, until exec, makes F_SEAL_WRITE fail (EBUSY):
		// there the test runs alone, while no other test starts a child.
		t.Parallel() // the child's start is slow under the race detector
	}
	size := 2 * pageSize
	r := mapSharedMemory(t, "mem-sealed", size)
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	copy(r.Bytes(), pattern(size, parentSeed))
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := r.Seal(SealShrink | SealGrow | SealWrite); err != nil {
		t.Fatal(err)
	}
	runSharedMemoryChild(t, "sharedMemorySealed", r)

	// The creator is bound by the seals as well.
	if err := r.Map(); !errors.Is(err, syscall.EPERM) {
		t.Errorf("Map of a write-sealed Read|Write region: %v, want EPERM", err)
	}
}

func TestSharedMemoryLifetime(t *testing.T) {
	r := mapSharedMemory(t, "mem-life", pageSize)
	if r.Flags() != Shared || r.Prot() != Read|Write || r.Mapped() {
		t.Fatalf("new region: flags %v, prot %v, mapped %v; want Shared, rw-, false", r.Flags(), r.Prot(), r.Mapped())
	}
	f := r.File()
	if f == nil {
		t.Fatal("File() is nil")
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	copy(r.Bytes(), "kept")
	// Unmap keeps the file, and its contents, for the next Map.
	mapAgain(t, r)
	if got := string(r.Bytes()[:4]); got != "kept" {
		t.Errorf("after Unmap and Map: %q, want %q", got, "kept")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Mapped() || r.File() != nil {
		t.Errorf("after Close: mapped %v, File %v; want false, nil", r.Mapped(), r.File())
	}
	if _, err := f.Stat(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("the file after Close: %v, want fs.ErrClosed", err)
	}
	if err := r.Map(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Map after Close: %v, want fs.ErrClosed", err)
	}
	if err := r.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v, want fs.ErrClosed", err)
	}
	if err := r.Seal(SealGrow); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Seal after Close: %v, want fs.ErrClosed", err)
	}

	// Close of a region never mapped closes the file too.
	r2 := mapSharedMemory(t, "mem-life2", pageSize)
	f2 := r2.File()
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Stat(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("file of an unmapped region after Close: %v, want fs.ErrClosed", err)
	}
}

func TestSharedMemoryInvalid(t *testing.T) {
	for _, n := range []int{0, -1} {
		if r, err := NewSharedMemory("mem-bad", n); r != nil || !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("NewSharedMemory(%d): %v, %v; want nil and fs.ErrInvalid", n, r, err)
		}
	}
	if runtime.GOOS != "linux" {
		if _, err := NewSharedMemory("mem", pageSize); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NewSharedMemory on %s: %v, want errors.ErrUnsupported", runtime.GOOS, err)
		}
		if _, err := Seals(os.Stdin); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Seals on %s: %v, want errors.ErrUnsupported", runtime.GOOS, err)
		}
		return
	}
	for _, name := range []string{"nul\x00byte", strings.Repeat("n", 250)} {
		if r, err := NewSharedMemory(name, pageSize); r != nil || !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("NewSharedMemory(%.20q...): %v, %v; want nil and fs.ErrInvalid", name, r, err)
		}
	}
	anon, err := NewAnon(pageSize, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Seal(SealGrow); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Seal of an anonymous region: %v, want fs.ErrInvalid", err)
	}
	if _, err := Seals(nil); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Seals(nil): %v, want fs.ErrInvalid", err)
	}
	f, _ := tempFile(t, make([]byte, pageSize), os.O_RDWR)
	_, err = Seals(f)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrInvalid) || !errors.As(err, &pe) || pe.Op != "fcntl" {
		t.Errorf("Seals of a file on disk: %v, want an *fs.PathError (fcntl) matching fs.ErrInvalid", err)
	}
	r := mapSharedMemory(t, "mem-invalid", pageSize)
	if err := r.Seal(1 << 7); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Seal of unknown bits: %v, want fs.ErrInvalid", err)
	}
}

func TestSeal(t *testing.T) {
	size := 4 * pageSize
	r := mapSharedMemory(t, "mem-seal", size)
	seals, err := Seals(r.File())
	if err != nil {
		t.Fatal(err)
	}
	if seals&^SealExec != 0 {
		t.Errorf("seals of new shared memory: %v, want none (or Exec)", seals)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}

	// SealWrite needs every writable shared mapping gone.
	err = r.Seal(SealWrite)
	var pe *fs.PathError
	if !errors.Is(err, syscall.EBUSY) || !errors.As(err, &pe) || pe.Op != "fcntl" || pe.Path != "memfd:mem-seal" {
		t.Errorf("SealWrite while mapped writable: %v, want an *fs.PathError (fcntl, memfd:mem-seal) with EBUSY", err)
	}

	if err := r.Seal(SealShrink | SealGrow); err != nil {
		t.Fatal(err)
	}
	if err := r.File().Truncate(int64(size / 2)); !errors.Is(err, syscall.EPERM) {
		t.Errorf("shrink after SealShrink: %v, want EPERM", err)
	}
	if err := r.File().Truncate(int64(2 * size)); !errors.Is(err, syscall.EPERM) {
		t.Errorf("grow after SealGrow: %v, want EPERM", err)
	}

	// SealFutureWrite: this mapping keeps writing, new ones cannot.
	if err := r.Seal(SealFutureWrite); err != nil {
		t.Fatal(err)
	}
	copy(r.Bytes(), "still writable")
	f := r.File()
	rw, err := NewFile(f, 0, size, Read|Write, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Map(); !errors.Is(err, syscall.EPERM) {
		t.Errorf("new writable mapping after SealFutureWrite: %v, want EPERM", err)
		if err == nil {
			rw.Unmap()
		}
	}
	ro, err := NewFile(f, 0, size, Read, Shared)
	mapRegion(t, ro, err)
	copy(r.Bytes()[pageSize:], "seen by readers")
	if got := string(ro.Bytes()[pageSize : pageSize+15]); got != "seen by readers" {
		t.Errorf("reader sees %q, want %q", got, "seen by readers")
	}

	if err := r.Seal(SealSeal); err != nil {
		t.Fatal(err)
	}
	if err := r.Seal(SealExec); !errors.Is(err, syscall.EPERM) {
		t.Errorf("Seal after SealSeal: %v, want EPERM", err)
	}
	seals, err = Seals(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := SealShrink | SealGrow | SealFutureWrite | SealSeal; seals&^SealExec != want {
		t.Errorf("Seals = %v, want %v (and maybe Exec)", seals, want)
	}
}

func TestSealOfClosedFile(t *testing.T) {
	// A file the caller closed is reported closed, not as a bad argument.
	r := mapSharedMemory(t, "mem-closed", pageSize)
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(r.File().Fd())))
	if err != nil {
		t.Skip(err)
	}
	nf, err := NewFile(f, 0, pageSize, Read, Shared)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = nf.Seal(SealShrink)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrClosed) || !errors.As(err, &pe) {
		t.Errorf("Seal of a closed file: %v, want an *fs.PathError matching fs.ErrClosed", err)
	}
	if _, err := Seals(f); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Seals of a closed file: %v, want fs.ErrClosed", err)
	}
}

func TestSealString(t *testing.T) {
	for _, tt := range []struct {
		s    Seal
		want string
	}{
		{0, "0"},
		{SealShrink | SealGrow, "Shrink|Grow"},
		{SealWrite | SealSeal | 1<<7, "Write|Seal|0x80"},
		{SealFutureWrite | SealExec, "FutureWrite|Exec"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Seal(%#x).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
}

// TestSharedMemoryConcurrent runs the methods that read or release the
// file of shared memory from several goroutines at once, for the race
// detector to check.
func TestSharedMemoryConcurrent(t *testing.T) {
	r := mapSharedMemory(t, "mem-race", pageSize)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				switch i {
				case 0:
					if err := r.Map(); err == nil {
						r.WriteAt([]byte{1}, 0)
						r.Unmap()
					}
				case 1:
					r.File() // using the file while Close closes it would be the caller's race
				case 2:
					r.Seal(SealGrow)
				case 3:
					r.ReadAt(make([]byte, 1), 0)
				}
			}
		})
	}
	wg.Go(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	wg.Wait()
	if r.Mapped() || r.File() != nil {
		t.Errorf("after Close: mapped %v, File %v", r.Mapped(), r.File())
	}
}

// TestSharedMemoryCacheStatDuringClose runs CacheStat while Close closes
// the file: each call counts the pages of the region's own file or returns
// an error matching fs.ErrClosed, and never uses the descriptor Close
// releases (the race detector sees it if it does).
func TestSharedMemoryCacheStatDuringClose(t *testing.T) {
	for range 20 {
		r := mapSharedMemory(t, "mem-cachestat", pageSize)
		started, done := make(chan struct{}), make(chan error)
		go func() {
			for i := 0; ; i++ {
				if i == 1 {
					close(started) // Close runs while calls go on
				}
				_, err := r.CacheStat()
				if errors.Is(err, errors.ErrUnsupported) {
					err = fs.ErrClosed // no cachestat here: only the race detector checks
				}
				if err != nil {
					if i == 0 {
						close(started)
					}
					done <- err
					return
				}
			}
		}()
		<-started
		if err := r.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-done; !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("CacheStat during Close = %v, want an error matching fs.ErrClosed", err)
		}
	}
}
