// Package bench compares github.com/mmapkit/mmap with the alternatives, path
// by path, in one test binary. It is a module of its own so that users of
// the library never download the peers it is measured against.
//
// Benchmarks are named Benchmark<Path>/<case>/<implementation>, so that the
// implementations of one path line up: cmd/benchrun runs them interleaved,
// several rounds, and prints medians and ratios. The order in which the
// implementations of a path run is shuffled by the environment variable
// BENCH_SEED (unset: the order of the source).
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"unsafe"
)

var (
	pageSize = os.Getpagesize()

	// sink receives every value read from mapped memory, so that the
	// compiler cannot remove the reads.
	sink uint64

	// keep holds the last slice from make, so that the allocation is not
	// optimised away.
	keep []byte

	// fixtureDir holds the files the benchmarks read; see TestMain.
	fixtureDir string
)

// TestMain makes the fixture directory: $BENCH_DIR if set (the files in it
// are reused across runs and left there), else a temporary directory
// removed at the end.
func TestMain(m *testing.M) {
	dir := os.Getenv("BENCH_DIR")
	remove := false
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "mmapbench"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		remove = true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	if remove {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

var fixtureMu sync.Mutex

// fixture returns the path of a file of size bytes of a fixed pattern,
// written (and synced, so that writeback does not disturb the measurements)
// the first time it is asked for, and read once so that it is resident in
// the page cache.
func fixture(b *testing.B, size int) string {
	b.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	path := filepath.Join(fixtureDir, "data-"+strconv.Itoa(size))
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(size) {
		if err := writeFixture(path, size); err != nil {
			b.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < int64(size); off += int64(len(buf)) {
		if _, err := f.ReadAt(buf, off); err != nil && off+int64(len(buf)) < int64(size) {
			b.Fatal(err)
		}
	}
	return path
}

func writeFixture(path string, size int) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	for left := size; left > 0; left -= len(buf) {
		if _, err := f.Write(buf[:min(left, len(buf))]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// openFixture opens a fixture of size bytes with flag (os.O_RDONLY or
// os.O_RDWR) and closes it at the end of the benchmark.
func openFixture(b *testing.B, size, flag int) *os.File {
	b.Helper()
	f, err := os.OpenFile(fixture(b, size), flag, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// impl is one implementation of a path.
type impl struct {
	name string
	fn   func(b *testing.B)
}

// runImpls runs each implementation as a sub-benchmark, in an order
// shuffled by $BENCH_SEED.
func runImpls(b *testing.B, impls ...impl) {
	if s := os.Getenv("BENCH_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			b.Fatalf("BENCH_SEED: %v", err)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(len(b.Name()))))
		rng.Shuffle(len(impls), func(i, j int) { impls[i], impls[j] = impls[j], impls[i] })
	}
	for _, im := range impls {
		b.Run(im.name, im.fn)
	}
}

// sizes are the sizes of ReadAt and WriteAt.
var sizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}, {"1MiB", 1 << 20}}

// xorWords returns the xor of the 8-byte words of p, whose length is a
// multiple of 8.
func xorWords(p []byte) uint64 {
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(p))), len(p)/8)
	var a, b, c, d uint64
	i := 0
	for ; i+4 <= len(w); i += 4 {
		a ^= w[i]
		b ^= w[i+1]
		c ^= w[i+2]
		d ^= w[i+3]
	}
	for ; i < len(w); i++ {
		a ^= w[i]
	}
	return a ^ b ^ c ^ d
}
