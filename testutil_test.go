package mmap

import (
	"os"
	"path/filepath"
	"testing"
)

// sink receives bytes read from mapped memory in tests, so that the compiler
// cannot remove the reads.
var sink byte

// tempDir returns a new temporary directory removed at the end of the test.
// It uses os.MkdirTemp and os.RemoveAll rather than t.TempDir, whose cleanup
// fails under Wine.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mmaptest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// tempFile creates a file of the given contents in a new temporary
// directory and opens it with flag (os.O_RDWR, os.O_RDONLY...). The file is
// closed at the end of the test; close regions before that (t.Cleanup runs
// in reverse order, so register the region's cleanup after this call).
func tempFile(t testing.TB, data []byte, flag int) (*os.File, string) {
	t.Helper()
	name := filepath.Join(tempDir(t), "data")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, name
}

// pattern returns n bytes of a deterministic pattern seeded by seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}
