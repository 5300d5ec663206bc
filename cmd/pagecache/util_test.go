//go:build linux

// The tests in this file use Linux: posix_fadvise, /proc, pseudo-terminals,
// FIFOs and mount points, fincore and vmtouch.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pcSink keeps loads in tests from being removed.
var pcSink byte

// pcDiskDir returns a new empty directory on a disk-backed file system,
// removed when the test ends. The page cache of tmpfs and ramfs is the file
// itself, so eviction does nothing there: such tests are skipped if neither
// os.TempDir nor the package directory is on a disk-backed file system.
func pcDiskDir(t *testing.T) string {
	t.Helper()
	for _, base := range []string{os.TempDir(), "."} {
		var st unix.Statfs_t
		if err := unix.Statfs(base, &st); err != nil {
			continue
		}
		switch int64(st.Type) {
		case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
			continue
		}
		dir, err := os.MkdirTemp(base, "pagecache-test-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	pcSkip(t, "no disk-backed file system for test files: os.TempDir() and the package directory are tmpfs or ramfs, where the page cache cannot be evicted")
	return ""
}

// pcSkip skips the test, or fails it when PAGECACHE_REQUIRE_TOOLS=1 (set
// by scripts/test-pagecache.sh, which must run the comparison tests).
func pcSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("PAGECACHE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("PAGECACHE_REQUIRE_TOOLS=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// pcWriteFile writes size bytes of a pattern to a new file in dir, synced
// so that its pages are clean and can be evicted. With sparse, the file is
// a hole with a few bytes at its end.
func pcWriteFile(t *testing.T, dir, name string, size int64, sparse bool) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sparse {
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			if _, err := f.WriteAt([]byte{1}, size-1); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i*7 + 3)
		}
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			if _, err := f.Write(buf[:n]); err != nil {
				t.Fatal(err)
			}
			left -= n
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pcEvict drops the file's pages from the page cache.
func pcEvict(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// pcReadPages reads the given pages of the file with read-ahead turned off,
// so that mostly those pages become resident.
func pcReadPages(t *testing.T, path string, pages ...int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	for _, p := range pages {
		if _, err := f.ReadAt(b, p*pageSize); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		pcSink += b[0]
	}
}

// pcRun runs the tool and returns its exit status, standard output and
// standard error.
func pcRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// pcCounts is what the tool reports about one file.
type pcCounts struct{ size, pages, resident int64 }

// pcJSON runs the tool with -json and returns the counts of each file by
// path, and the total record.
func pcJSON(t *testing.T, args ...string) (map[string]pcCounts, jsonTotal) {
	t.Helper()
	code, out, errs := pcRun(t, append([]string{"-json"}, args...)...)
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache -json %q: exit %d, stderr %q", args, code, errs)
	}
	files, total := pcParseJSON(t, out)
	return files, total
}

// pcParseJSON parses the JSON lines of -json output, checking that every
// file record comes before the total and has exactly the documented fields.
func pcParseJSON(t *testing.T, out string) (map[string]pcCounts, jsonTotal) {
	t.Helper()
	files := make(map[string]pcCounts)
	var total jsonTotal
	seenTotal := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if seenTotal {
			t.Fatalf("record after the total: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if m["total"] == true {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&total); err != nil {
				t.Fatalf("total %q: %v", line, err)
			}
			seenTotal = true
			continue
		}
		var f jsonFile
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil || f.Resident == nil {
			t.Fatalf("file record %q: want path, size, pages, resident as documented, resident measured (%v)", line, err)
		}
		files[f.Path] = pcCounts{f.Size, f.Pages, *f.Resident}
	}
	if !seenTotal {
		t.Fatalf("no total record in %q", out)
	}
	return files, total
}

// pcCount returns the tool's counts for one file.
func pcCount(t *testing.T, path string) pcCounts {
	t.Helper()
	files, _ := pcJSON(t, path)
	c, ok := files[path]
	if !ok || len(files) != 1 {
		t.Fatalf("pagecache -json %s: got records %v", path, files)
	}
	return c
}

func (c pcCounts) String() string {
	return fmt.Sprintf("size %d, pages %d, resident %d", c.size, c.pages, c.resident)
}
