//go:build linux

package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// cacheStat returns f's counts for the whole file, skipping the test where
// the kernel has no cachestat.
func cacheStat(t *testing.T, f *os.File) CacheStat {
	t.Helper()
	cs, err := FileCacheStat(f, 0, 0)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no cachestat here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// fadvise gives the kernel advice (unix.FADV_...) about all of f's pages.
func fadvise(t *testing.T, f *os.File, advice int) {
	t.Helper()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, advice); err != nil {
		t.Fatalf("fadvise: %v", err)
	}
}

// syncedFile returns a read-only file of the given number of pages, each
// page cached and none dirty.
func syncedFile(t *testing.T, pages int, seed byte) *os.File {
	t.Helper()
	f, _ := tempFile(t, pattern(pages*pageSize, seed), os.O_RDONLY)
	if err := unix.Fsync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCacheStatDirtyUntilFlush(t *testing.T) {
	const pages = 4
	r, f, _ := mapFile(t, make([]byte, pages*pageSize), os.O_RDWR, 0, pages*pageSize, Read|Write, Shared)
	if err := unix.Fsync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if cs := cacheStat(t, f); cs.Dirty != 0 {
		t.Fatalf("after fsync: %+v, want no dirty page", cs)
	}
	if _, err := r.WriteAt([]byte("dirty"), int64(pageSize)); err != nil {
		t.Fatal(err)
	}
	cs, err := r.CacheStat()
	if err != nil {
		t.Fatal(err)
	}
	if cs.Dirty+cs.Writeback < 1 || cs.Cached != pages {
		t.Errorf("after a write to one page: %+v, want 1 page dirty or under writeback, %d cached", cs, pages)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if cs := cacheStat(t, f); cs.Dirty != 0 || cs.Writeback != 0 || cs.Cached != pages {
		t.Errorf("after Flush and fdatasync: %+v, want no dirty page, none under writeback, %d cached", cs, pages)
	}
}

func TestCacheStatDropsAfterDontNeed(t *testing.T) {
	const pages = 16
	f := syncedFile(t, pages, 1)
	if _, err := f.ReadAt(make([]byte, pages*pageSize), 0); err != nil {
		t.Fatal(err)
	}
	if cs := cacheStat(t, f); cs.Cached != pages {
		t.Fatalf("after reading the file: %+v, want %d cached", cs, pages)
	}
	fadvise(t, f, unix.FADV_DONTNEED)
	// Pages dropped on request leave no shadow entry: they count as neither
	// cached nor evicted (Evicted counts reclaim under memory pressure).
	cs := cacheStat(t, f)
	if cs.Cached != 0 || cs.Dirty != 0 {
		t.Errorf("after POSIX_FADV_DONTNEED: %+v, want nothing cached", cs)
	}
	if cs.Evicted > pages || cs.RecentlyEvicted > cs.Evicted {
		t.Errorf("after POSIX_FADV_DONTNEED: %+v, want at most %d evicted, recently evicted a part of them", cs, pages)
	}
}

func TestCacheStatAgreesWithResident(t *testing.T) {
	const pages = 32
	f := syncedFile(t, pages, 2)
	fadvise(t, f, unix.FADV_DONTNEED)
	// Read pages 3, 10 and 11 without read-ahead.
	fadvise(t, f, unix.FADV_RANDOM)
	for _, p := range []int{3, 10, 11} {
		if _, err := f.ReadAt(make([]byte, 1), int64(p*pageSize)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewFile(f, int64(8*pageSize), 16*pageSize, Read, Shared)
	r = mapRegion(t, r, err)
	in, err := r.Resident()
	if err != nil {
		t.Fatal(err)
	}
	var resident int64
	for _, ok := range in {
		if ok {
			resident++
		}
	}
	cs, err := r.CacheStat()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no cachestat here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if cs.Cached != resident || resident == 0 {
		t.Errorf("pages 8-23: CacheStat %+v, Resident %d pages; want the same, at least 1", cs, resident)
	}
	whole := cacheStat(t, f)
	if whole.Cached < cs.Cached+1 {
		t.Errorf("whole file %+v, pages 8-23 %+v; want page 3 counted in the whole file only", whole, cs)
	}
}

func TestCacheStatInvalid(t *testing.T) {
	f, _ := tempFile(t, make([]byte, pageSize), os.O_RDONLY)
	for _, tc := range []struct {
		f      *os.File
		off, n int64
	}{{nil, 0, 0}, {f, -1, 0}, {f, 0, -1}} {
		if _, err := FileCacheStat(tc.f, tc.off, tc.n); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("FileCacheStat(%v, %d, %d): %v, want fs.ErrInvalid", tc.f, tc.off, tc.n, err)
		}
	}
	r := mapAnon(t, pageSize, Read, Private)
	if _, err := r.CacheStat(); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("CacheStat of anonymous memory: %v, want fs.ErrInvalid", err)
	}
}

func init() { childFuncs["cachestat-nobody"] = cacheStatChildNobody }

// cacheStatChildNobody runs without the rights to know what is cached of the
// file at descriptor 3, and checks how FileCacheStat refuses.
func cacheStatChildNobody() int {
	f := os.NewFile(3, "root-owned")
	_, err := FileCacheStat(f, 0, 0)
	var pe *fs.PathError
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return 2
	case !errors.Is(err, fs.ErrPermission) || !errors.Is(err, syscall.EPERM) || !errors.As(err, &pe) || pe.Op != "cachestat":
		fmt.Fprintf(os.Stderr, "FileCacheStat as uid %d: %v, want a cachestat *fs.PathError matching fs.ErrPermission and EPERM\n", os.Getuid(), err)
		return 1
	}
	return 0
}

func TestCacheStatPermissionDenied(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	f, _ := tempFile(t, make([]byte, 4*pageSize), os.O_RDONLY)
	// The child runs as nobody: give it a copy of the test binary it may run.
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := tempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyExe := filepath.Join(dir, "test.bin")
	if err := os.WriteFile(copyExe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := childCommand(t, "cachestat-nobody", []*os.File{f})
	if len(cmd.Args) > 0 && cmd.Path == exe {
		cmd.Path, cmd.Args[0] = copyExe, copyExe
	} else {
		t.Skip("child runs under an emulator")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 2:
		t.Skip("no cachestat here")
	case err != nil:
		t.Errorf("child as nobody: %v", err)
	}
}
