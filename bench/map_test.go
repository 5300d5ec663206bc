package bench

import (
	"os"
	"testing"
	"unsafe"

	edsrzf "github.com/edsrzf/mmap-go"
	"github.com/mmapkit/mmap"
	expmmap "golang.org/x/exp/mmap"
	"golang.org/x/sys/unix"
)

// BenchmarkMap measures mapping and unmapping one anonymous page and a
// 1 MiB region of a file. "mmapkit" builds a new Region each time
// (NewAnon/NewFile + Map + Unmap); "mmapkit-built" maps and unmaps one
// Region built beforehand; "xsys" is the floor: unix.MmapPtr and
// unix.MunmapPtr with nothing around them.
func BenchmarkMap(b *testing.B) {
	b.Run("anon-page", func(b *testing.B) {
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p, err := unix.MmapPtr(-1, 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
					if err != nil {
						b.Fatal(err)
					}
					if err := unix.MunmapPtr(p, uintptr(pageSize)); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"edsrzf", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m, err := edsrzf.MapRegion(nil, pageSize, edsrzf.RDWR, edsrzf.ANON, 0)
					if err != nil {
						b.Fatal(err)
					}
					if err := m.Unmap(); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"mmapkit", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r, err := mmap.NewAnon(pageSize, mmap.Read|mmap.Write, mmap.Private)
					if err != nil {
						b.Fatal(err)
					}
					mapUnmap(b, r)
				}
			}},
			impl{"mmapkit-built", func(b *testing.B) {
				r, err := mmap.NewAnon(pageSize, mmap.Read|mmap.Write, mmap.Private)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					mapUnmap(b, r)
				}
			}},
		)
	})
	b.Run("file-1MiB", func(b *testing.B) {
		const size = 1 << 20
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				b.ReportAllocs()
				for b.Loop() {
					p, err := unix.MmapPtr(int(f.Fd()), 0, nil, size, unix.PROT_READ, unix.MAP_SHARED)
					if err != nil {
						b.Fatal(err)
					}
					if err := unix.MunmapPtr(p, size); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"xsys-fstat", func(b *testing.B) {
				// The floor of a Map that finds ErrPastEOF: the file's
				// size (fstat), then mmap and munmap.
				f := openFixture(b, size, os.O_RDONLY)
				b.ReportAllocs()
				var st unix.Stat_t
				for b.Loop() {
					if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Size < size {
						b.Fatal(err)
					}
					p, err := unix.MmapPtr(int(f.Fd()), 0, nil, size, unix.PROT_READ, unix.MAP_SHARED)
					if err != nil {
						b.Fatal(err)
					}
					if err := unix.MunmapPtr(p, size); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"edsrzf", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				b.ReportAllocs()
				for b.Loop() {
					m, err := edsrzf.MapRegion(f, size, edsrzf.RDONLY, 0, 0)
					if err != nil {
						b.Fatal(err)
					}
					if err := m.Unmap(); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"mmapkit", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				b.ReportAllocs()
				for b.Loop() {
					r, err := mmap.NewFile(f, 0, size, mmap.Read, mmap.Shared)
					if err != nil {
						b.Fatal(err)
					}
					mapUnmap(b, r)
				}
			}},
			impl{"mmapkit-built", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				r, err := mmap.NewFile(f, 0, size, mmap.Read, mmap.Shared)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					mapUnmap(b, r)
				}
			}},
		)
	})
}

func mapUnmap(b *testing.B, r *mmap.Region) {
	if err := r.Map(); err != nil {
		b.Fatal(err)
	}
	if err := r.Unmap(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen measures opening, mapping and closing a whole 1 MiB file.
func BenchmarkOpen(b *testing.B) {
	const size = 1 << 20
	b.Run("file-1MiB", func(b *testing.B) {
		path := fixture(b, size)
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f, err := os.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					var st unix.Stat_t
					if err := unix.Fstat(int(f.Fd()), &st); err != nil {
						b.Fatal(err)
					}
					p, err := unix.MmapPtr(int(f.Fd()), 0, nil, uintptr(st.Size), unix.PROT_READ, unix.MAP_SHARED)
					if err != nil {
						b.Fatal(err)
					}
					f.Close()
					if err := unix.MunmapPtr(p, uintptr(st.Size)); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"exp", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r, err := expmmap.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					if err := r.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"edsrzf", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f, err := os.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					m, err := edsrzf.Map(f, edsrzf.RDONLY, 0)
					if err != nil {
						b.Fatal(err)
					}
					f.Close()
					if err := m.Unmap(); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"mmapkit", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r, err := mmap.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					if err := r.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}},
		)
	})
}

// BenchmarkMapParallel maps and unmaps, from every goroutine of
// RunParallel at once (GOMAXPROCS of them), a page of anonymous memory of
// its own. unix.Mmap, which edsrzf uses, records every mapping in a table
// under one global lock; unix.MmapPtr and this package do not.
func BenchmarkMapParallel(b *testing.B) {
	b.Run("anon-page", func(b *testing.B) {
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						p, err := unix.MmapPtr(-1, 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
						if err != nil {
							panic(err)
						}
						if err := unix.MunmapPtr(p, uintptr(pageSize)); err != nil {
							panic(err)
						}
					}
				})
			}},
			impl{"xsys-Mmap", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						m, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
						if err != nil {
							panic(err)
						}
						if err := unix.Munmap(m); err != nil {
							panic(err)
						}
					}
				})
			}},
			impl{"edsrzf", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						m, err := edsrzf.MapRegion(nil, pageSize, edsrzf.RDWR, edsrzf.ANON, 0)
						if err != nil {
							panic(err)
						}
						if err := m.Unmap(); err != nil {
							panic(err)
						}
					}
				})
			}},
			impl{"mmapkit", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					r, err := mmap.NewAnon(pageSize, mmap.Read|mmap.Write, mmap.Private)
					if err != nil {
						panic(err)
					}
					for pb.Next() {
						if err := r.Map(); err != nil {
							panic(err)
						}
						if err := r.Unmap(); err != nil {
							panic(err)
						}
					}
				})
			}},
		)
	})
}

// BenchmarkFirstTouch maps 64 MiB of anonymous memory, writes one byte in
// every page and unmaps it: the cost of faulting in fresh memory.
// "mmapkit-huge" asks for transparent huge pages (HugePages), "make" is
// Go's own allocation.
func BenchmarkFirstTouch(b *testing.B) {
	const size = 64 << 20
	touch := func(p unsafe.Pointer) {
		for off := 0; off < size; off += pageSize {
			*(*byte)(unsafe.Add(p, off)) = 1
		}
	}
	mk := func(flags mmap.Flag) func(b *testing.B) {
		return func(b *testing.B) {
			r, err := mmap.NewAnon(size, mmap.Read|mmap.Write, flags)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if err := r.Map(); err != nil {
					b.Fatal(err)
				}
				touch(unsafe.Pointer(unsafe.SliceData(r.Bytes())))
				if err := r.Unmap(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("64MiB", func(b *testing.B) {
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					p, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
					if err != nil {
						b.Fatal(err)
					}
					touch(p)
					if err := unix.MunmapPtr(p, size); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"edsrzf", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					m, err := edsrzf.MapRegion(nil, size, edsrzf.RDWR, edsrzf.ANON, 0)
					if err != nil {
						b.Fatal(err)
					}
					touch(unsafe.Pointer(unsafe.SliceData(m)))
					if err := m.Unmap(); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"make", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					p := make([]byte, size)
					touch(unsafe.Pointer(unsafe.SliceData(p)))
					keep = p
				}
				keep = nil
			}},
			impl{"mmapkit", mk(mmap.Private)},
			impl{"mmapkit-huge", mk(mmap.Private | mmap.HugePages)},
		)
	})
}

// BenchmarkFullRead reads a whole 256 MiB file resident in the page cache,
// xor-ing its 8-byte words: mapped, read through Bytes() and unmapped
// ("-populate" maps with Populate, "-willneed" advises WillNeed after Map),
// or read with pread into a 1 MiB buffer. "mmapkit-mapped" maps once,
// outside the loop, and only reads.
func BenchmarkFullRead(b *testing.B) {
	const size = 256 << 20
	mk := func(flags mmap.Flag, willNeed bool) func(b *testing.B) {
		return func(b *testing.B) {
			f := openFixture(b, size, os.O_RDONLY)
			r, err := mmap.NewFile(f, 0, size, mmap.Read, flags)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if err := r.Map(); err != nil {
					b.Fatal(err)
				}
				if willNeed {
					if err := r.Advise(mmap.WillNeed); err != nil {
						b.Fatal(err)
					}
				}
				sink ^= xorWords(r.Bytes())
				if err := r.Unmap(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("256MiB", func(b *testing.B) {
		runImpls(b,
			impl{"xsys", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					p, err := unix.MmapPtr(int(f.Fd()), 0, nil, size, unix.PROT_READ, unix.MAP_SHARED)
					if err != nil {
						b.Fatal(err)
					}
					sink ^= xorWords(unsafe.Slice((*byte)(p), size))
					if err := unix.MunmapPtr(p, size); err != nil {
						b.Fatal(err)
					}
				}
			}},
			impl{"pread", func(b *testing.B) {
				f := openFixture(b, size, os.O_RDONLY)
				buf := make([]byte, 1<<20)
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					for off := int64(0); off < size; off += int64(len(buf)) {
						if _, err := f.ReadAt(buf, off); err != nil {
							b.Fatal(err)
						}
						sink ^= xorWords(buf)
					}
				}
			}},
			impl{"mmapkit", mk(mmap.Shared, false)},
			impl{"mmapkit-populate", mk(mmap.Shared|mmap.Populate, false)},
			impl{"mmapkit-willneed", mk(mmap.Shared, true)},
			impl{"mmapkit-mapped", func(b *testing.B) {
				// Mapped once, read many times: no map, fault or unmap
				// in the loop.
				f := openFixture(b, size, os.O_RDONLY)
				r, err := mmap.NewFile(f, 0, size, mmap.Read, mmap.Shared|mmap.Populate)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Map(); err != nil {
					b.Fatal(err)
				}
				defer r.Unmap()
				sink ^= xorWords(r.Bytes())
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					sink ^= xorWords(r.Bytes())
				}
			}},
		)
	})
}
