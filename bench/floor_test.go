package bench

import (
	"os"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSafetyCost builds, step by step, the fixed cost of a 64-byte
// copy made fault-safe with debug.SetPanicOnFault, and Unmap-safe: the floor
// of Access (whose fn is the caller's code), and of ReadAt and WriteAt where
// the package does not catch its own copy's faults (everywhere but
// linux/amd64):
//
//   - copy: the plain copy from mapped memory;
//   - panic-on-fault: debug.SetPanicOnFault around it (a fault must not
//     crash the program);
//   - recover: the copy in a function of its own with a deferred recover
//     (the fault panics out of the copy);
//   - count: two atomic adds to a counter of calls in flight, which the
//     package's WriteAt and Access need (Unmap waits for them); its ReadAt
//     counts nothing on linux/amd64 (see lock.go in the package).
func BenchmarkSafetyCost(b *testing.B) {
	const n = 64
	f := openFixture(b, rwFileSize, os.O_RDONLY)
	m := rawMap(b, f, rwFileSize, unix.PROT_READ)
	buf := make([]byte, n)
	b.Run("64B", func(b *testing.B) {
		runImpls(b,
			impl{"copy", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(n)
				for b.Loop() {
					copy(buf, m)
				}
			}},
			impl{"panic-on-fault", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(n)
				for b.Loop() {
					old := debug.SetPanicOnFault(true)
					copy(buf, m)
					debug.SetPanicOnFault(old)
				}
			}},
			impl{"recover", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(n)
				for b.Loop() {
					floorCopy(buf, m)
				}
			}},
			impl{"count", func(b *testing.B) {
				var c struct {
					n atomic.Int64
					_ [56]byte
				}
				b.ReportAllocs()
				b.SetBytes(n)
				for b.Loop() {
					c.n.Add(1)
					floorCopy(buf, m)
					c.n.Add(-1)
				}
			}},
		)
	})
}

// floorCopy copies src to dst with panic-on-fault set, recovering from a
// fault, as ReadAt does.
//
//go:noinline
func floorCopy(dst, src []byte) (n int) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		if n < 0 {
			debug.SetPanicOnFault(old)
			recover()
		}
	}()
	n = -1
	n = copy(dst, src)
	debug.SetPanicOnFault(old)
	return n
}

// floorCounter is a counter of calls in flight on a cache line of its own,
// as the package's are.
type floorCounter struct {
	n atomic.Int64
	_ [56]byte
}

// floorCountedCopy is floorCopy counted in c, as the package's WriteAt
// counts a write so that Unmap waits for it: the least a write made
// fault-safe with panic-on-fault, and Unmap-safe, costs.
//
//go:noinline
func floorCountedCopy(c *floorCounter, dst, src []byte) (n int) {
	c.n.Add(1)
	old := debug.SetPanicOnFault(true)
	defer func() {
		if n < 0 {
			debug.SetPanicOnFault(old)
			recover()
			c.n.Add(-1)
		}
	}()
	n = -1
	n = copy(dst, src)
	debug.SetPanicOnFault(old)
	c.n.Add(-1)
	return n
}

// floorAccess calls fn with b, counted in c and with panic-on-fault set,
// recovering from a fault: the least a fault-safe, Unmap-safe Access costs
// (fn is the caller's code, whose faults only panic-on-fault catches).
//
//go:noinline
func floorAccess(c *floorCounter, b []byte, fn func([]byte) error) (err error) {
	c.n.Add(1)
	old := debug.SetPanicOnFault(true)
	running := true
	defer func() {
		if running {
			debug.SetPanicOnFault(old)
			recover()
			c.n.Add(-1)
		}
	}()
	err = fn(b)
	running = false
	debug.SetPanicOnFault(old)
	c.n.Add(-1)
	return err
}
