package bench

import (
	"io"
	"os"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/mmapkit/mmap"
	expmmap "golang.org/x/exp/mmap"
	"golang.org/x/sys/unix"
)

// rwFileSize is the size of the file that ReadAt and WriteAt work on.
const rwFileSize = 4 << 20

// rawMap maps size bytes of f with unix.MmapPtr and unmaps them at the end
// of the benchmark.
func rawMap(b *testing.B, f *os.File, size int, prot int) []byte {
	b.Helper()
	p, err := unix.MmapPtr(int(f.Fd()), 0, nil, uintptr(size), prot, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.MunmapPtr(p, uintptr(size)) })
	return unsafe.Slice((*byte)(p), size)
}

// mapShared maps size bytes of f with this package and unmaps them at the end
// of the benchmark.
func mapShared(b *testing.B, f *os.File, size int, prot mmap.Prot) *mmap.Region {
	b.Helper()
	r, err := mmap.NewFile(f, 0, size, prot, mmap.Shared)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Map(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Unmap() })
	return r
}

// The loops below are written out for each implementation, with direct
// calls, so that the cost of a call through a func value or an interface
// does not dilute the differences at 64 bytes.

// readAt compares ReadAt of each size from a file resident in the page
// cache: this package (and its Access with a callback that copies),
// golang.org/x/exp/mmap, a plain copy from memory
// mapped with unix.MmapPtr (the floor) and os.File.ReadAt (pread).
func readAt(b *testing.B, parallel bool) {
	for _, sz := range sizes {
		n := sz.n
		b.Run(sz.name, func(b *testing.B) {
			path := fixture(b, rwFileSize)
			runImpls(b,
				impl{"mmapkit", func(b *testing.B) {
					r := mapShared(b, openFixture(b, rwFileSize, os.O_RDONLY), rwFileSize, mmap.Read)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if _, err := r.ReadAt(buf, 0); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if _, err := r.ReadAt(buf, 0); err != nil {
								panic(err)
							}
						}
					})
				}},
				impl{"mmapkit-access", func(b *testing.B) {
					// Access with a callback that copies the bytes out: the
					// fixed cost of zero-copy access next to ReadAt's.
					r := mapShared(b, openFixture(b, rwFileSize, os.O_RDONLY), rwFileSize, mmap.Read)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if err := r.Access(0, n, func(m []byte) error { copy(buf, m); return nil }); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if err := r.Access(0, n, func(m []byte) error { copy(buf, m); return nil }); err != nil {
								panic(err)
							}
						}
					})
				}},
				impl{"exp", func(b *testing.B) {
					r, err := expmmap.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { r.Close() })
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if _, err := r.ReadAt(buf, 0); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if _, err := r.ReadAt(buf, 0); err != nil {
								panic(err)
							}
						}
					})
				}},
				impl{"copy", func(b *testing.B) {
					m := rawMap(b, openFixture(b, rwFileSize, os.O_RDONLY), rwFileSize, unix.PROT_READ)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if copy(buf, m[0:]) < len(buf) {
								b.Fatal(io.EOF)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if copy(buf, m[0:]) < len(buf) {
								panic(io.EOF)
							}
						}
					})
				}},
				impl{"safe-floor", func(b *testing.B) {
					// The least a read made fault-safe with panic-on-fault
					// costs: floorCopy (floor_test.go).
					m := rawMap(b, openFixture(b, rwFileSize, os.O_RDONLY), rwFileSize, unix.PROT_READ)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if floorCopy(buf, m[0:]) < len(buf) {
								b.Fatal(io.EOF)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if floorCopy(buf, m[0:]) < len(buf) {
								panic(io.EOF)
							}
						}
					})
				}},
				impl{"safe-floor-access", func(b *testing.B) {
					// The least a fault-safe, counted call of a callback costs:
					// floorAccess (floor_test.go), with the callback of
					// mmapkit-access.
					m := rawMap(b, openFixture(b, rwFileSize, os.O_RDONLY), rwFileSize, unix.PROT_READ)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						var c floorCounter
						buf := make([]byte, n)
						for b.Loop() {
							if err := floorAccess(&c, m[:n], func(m []byte) error { copy(buf, m); return nil }); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					cs := make([]floorCounter, 64)
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						c := &cs[next.Add(1)%int64(len(cs))]
						buf := make([]byte, n)
						for pb.Next() {
							if err := floorAccess(c, m[:n], func(m []byte) error { copy(buf, m); return nil }); err != nil {
								panic(err)
							}
						}
					})
				}},
				impl{"pread", func(b *testing.B) {
					f := openFixture(b, rwFileSize, os.O_RDONLY)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					if !parallel {
						buf := make([]byte, n)
						for b.Loop() {
							if _, err := f.ReadAt(buf, 0); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						buf := make([]byte, n)
						for pb.Next() {
							if _, err := f.ReadAt(buf, 0); err != nil {
								panic(err)
							}
						}
					})
				}},
			)
		})
	}
}

// BenchmarkReadAt reads from one goroutine.
func BenchmarkReadAt(b *testing.B) { readAt(b, false) }

// BenchmarkReadAtParallel reads from every goroutine of RunParallel
// (GOMAXPROCS of them) at once, from one shared mapping.
func BenchmarkReadAtParallel(b *testing.B) { readAt(b, true) }

// BenchmarkWriteAt writes each size into a shared mapping of a file: this
// package, a plain copy into memory mapped with unix.MmapPtr (the floor) and
// os.File.WriteAt (pwrite). golang.org/x/exp/mmap cannot write.
func BenchmarkWriteAt(b *testing.B) {
	for _, sz := range sizes {
		n := sz.n
		b.Run(sz.name, func(b *testing.B) {
			runImpls(b,
				impl{"mmapkit", func(b *testing.B) {
					r := mapShared(b, openFixture(b, rwFileSize, os.O_RDWR), rwFileSize, mmap.Read|mmap.Write)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					buf := make([]byte, n)
					for b.Loop() {
						if _, err := r.WriteAt(buf, 0); err != nil {
							b.Fatal(err)
						}
					}
				}},
				impl{"copy", func(b *testing.B) {
					m := rawMap(b, openFixture(b, rwFileSize, os.O_RDWR), rwFileSize, unix.PROT_READ|unix.PROT_WRITE)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					buf := make([]byte, n)
					for b.Loop() {
						if copy(m[0:], buf) < len(buf) {
							b.Fatal(io.ErrShortWrite)
						}
					}
				}},
				impl{"safe-floor", func(b *testing.B) {
					// The least a write made fault-safe with panic-on-fault,
					// that Unmap waits for, costs: floorCountedCopy
					// (floor_test.go).
					m := rawMap(b, openFixture(b, rwFileSize, os.O_RDWR), rwFileSize, unix.PROT_READ|unix.PROT_WRITE)
					var c floorCounter
					b.ReportAllocs()
					b.SetBytes(int64(n))
					buf := make([]byte, n)
					for b.Loop() {
						if floorCountedCopy(&c, m[0:], buf) < len(buf) {
							b.Fatal(io.ErrShortWrite)
						}
					}
				}},
				impl{"pwrite", func(b *testing.B) {
					f := openFixture(b, rwFileSize, os.O_RDWR)
					b.ReportAllocs()
					b.SetBytes(int64(n))
					buf := make([]byte, n)
					for b.Loop() {
						if _, err := f.WriteAt(buf, 0); err != nil {
							b.Fatal(err)
						}
					}
				}},
			)
		})
	}
}
