//go:build !race

package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	childFuncs["fixupUnexpectedFault"] = fixupChildUnexpectedFault
	childFuncs["fixupSignalFromKill"] = fixupChildSignalFromKill
	childFuncs["fixupOff"] = fixupChildOff
	childFuncs["fixupReinstall"] = fixupChildReinstall
}

// fixupCopy calls copyFixed on slices.
func fixupCopy(dst, src []byte) bool {
	return copyFixed(unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(src)), uintptr(len(src)))
}

// TestCopyFixed checks copyFixed's bytes for every length to 600 and the
// lengths around each of its strategies' bounds, at several alignments of
// each side, with and without AVX2: every byte copied, none written outside
// dst.
func TestCopyFixed(t *testing.T) {
	needFaultHandler(t)
	t.Run("AVX2", func(t *testing.T) {
		if !fixupAVX2 {
			t.Skip("the processor has no AVX2")
		}
		testCopyFixed(t)
	})
	t.Run("SSE", func(t *testing.T) {
		defer func(avx2 bool) { fixupAVX2 = avx2 }(fixupAVX2)
		fixupAVX2 = false
		testCopyFixed(t)
	})
}

func testCopyFixed(t *testing.T) {
	lengths := []int{4095, 4096, 4097, 65535, 65536, 65537, 1<<20 - 1, 1 << 20, 1<<20 + 77, 3<<20 + 5}
	for n := 0; n <= 600; n++ {
		lengths = append(lengths, n)
	}
	const pad = 64
	src := pattern(3<<20+5+pad, 7)
	dst := make([]byte, len(src)+2*pad)
	for _, n := range lengths {
		for _, al := range [][2]int{{0, 0}, {1, 3}, {7, 0}, {31, 17}, {0, 33}} {
			w := dst[pad+al[0]-1 : pad+al[0]+n+1]
			for i := range w {
				w[i] = 0xa5
			}
			d := dst[pad+al[0] : pad+al[0]+n]
			s := src[al[1] : al[1]+n]
			if fixupCopy(d, s) {
				t.Fatalf("length %d, alignments %v: copyFixed reports a fault", n, al)
			}
			if i := firstDiff(d, s); i < n {
				t.Fatalf("length %d, alignments %v: byte %d is %#x, want %#x", n, al, i, d[i], s[i])
			}
			for _, i := range []int{pad + al[0] - 1, pad + al[0] + n} {
				if dst[i] != 0xa5 {
					t.Fatalf("length %d, alignments %v: copyFixed wrote byte %d outside dst", n, al, i-pad-al[0])
				}
			}
		}
	}
}

// TestCopyFixedFaults checks that copyFixed reports a fault, without
// crashing, when it reads a page that a truncation took from a file's
// mapping and when it writes to a read-only page, for lengths that take each
// of its strategies.
func TestCopyFixedFaults(t *testing.T) {
	if runInChild(t) {
		return
	}
	needFaultHandler(t)
	ps := PageSize()
	size := 2<<20 + 2*ps
	m := mustCutMapping(t, size, ps, 3)
	buf := make([]byte, size)
	defer func(avx2 bool) { fixupAVX2 = avx2 }(fixupAVX2)
	for _, avx2 := range []bool{fixupAVX2, false} {
		fixupAVX2 = avx2
		copyFixedFaults(t, m, buf)
	}
	// The page that is left still copies.
	if fixupCopy(buf[:ps], m[:ps]) {
		t.Error("reading the page that is left: a fault reported")
	}
	if want := pattern(size, 3)[:ps]; !bytes.Equal(buf[:ps], want) {
		t.Error("reading the page that is left: wrong bytes")
	}
}

// copyFixedFaults copies from the lost pages of m, a file mapping read-only
// whose file keeps one page, and into m, through buf.
func copyFixedFaults(t *testing.T, m, buf []byte) {
	ps := PageSize()
	for _, n := range []int{1, 3, 7, 8, 16, 17, 33, 64, 65, 200, 256, 4096, 65536, 1 << 20, 2 << 20} {
		// From the last bytes of the page that is left into the lost ones.
		start := ps - min(n/2, ps)
		if n == 1 {
			start = ps
		}
		if !fixupCopy(buf[:n], m[start:start+n]) {
			t.Errorf("AVX2 %v: reading %d bytes at offset %d of a file cut to %d: no fault reported", fixupAVX2, n, start, ps)
		}
		// Into a read-only page.
		if !fixupCopy(m[:n], buf[:n]) {
			t.Errorf("AVX2 %v: writing %d bytes into a read-only mapping: no fault reported", fixupAVX2, n)
		}
	}
}

// TestFixupHandlerForwards checks that, with the package's handler
// installed, the faults that are not copyFixed's behave as the Go runtime
// makes them: a nil dereference panics with a runtime error, and a fault
// with panic-on-fault set panics with its address.
func TestFixupHandlerForwards(t *testing.T) {
	if runInChild(t) {
		return
	}
	needFaultHandler(t)
	var nilPtr *int
	func() {
		defer func() {
			e := recover()
			if re, ok := e.(runtime.Error); !ok || !strings.Contains(re.Error(), "nil pointer") {
				t.Errorf("nil dereference: recovered %v, want a runtime error", e)
			}
		}()
		sinkInt = *nilPtr
	}()

	ps := PageSize()
	m := mustCutMapping(t, 2*ps, ps, 1)
	want := uintptr(unsafe.Pointer(&m[ps+5]))
	if got := faultAt(unsafe.Pointer(&m[ps+5]), false); got != want {
		t.Errorf("fault with panic-on-fault set: address %#x, want %#x", got, want)
	}
}

var sinkInt int

// TestFixupUnexpectedFaultCrashes checks, in a child, that a fault outside
// copyFixed and without panic-on-fault still ends the program as the Go
// runtime ends it: the handler passes it on.
func TestFixupUnexpectedFaultCrashes(t *testing.T) {
	needFaultHandler(t)
	fixupCheckCrash(t, "fixupUnexpectedFault")
}

// fixupCheckCrash runs the child function name and checks that it ends as
// the Go runtime ends a program on a SIGBUS nothing catches.
func fixupCheckCrash(t *testing.T, name string) {
	t.Helper()
	out, code := fixupRunChild(t, name)
	if code != 2 || !bytes.Contains(out, []byte("unexpected fault address")) || !bytes.Contains(out, []byte("SIGBUS")) {
		t.Fatalf("child exited with %d, want 2 and the runtime's report of an unexpected SIGBUS:\n%s", code, out)
	}
}

// fixupChildReady reports whether the fault handler is installed in a
// child, saying on standard error if it is not.
func fixupChildReady() bool {
	if !fastPathsAllowed() {
		fmt.Fprintln(os.Stderr, "the fault handler was not installed")
		return false
	}
	return true
}

// childFileRegion maps size bytes of a new temporary file that holds
// pattern(size, seed), shared, with prot, for a child function; it says on
// standard error what failed, and returns a nil region, if anything did. The
// file is removed at once (it lives on while open and mapped); the region is
// left mapped, as the child's process ends soon.
func childFileRegion(size int, seed byte, prot Prot) (*Region, *os.File) {
	f, err := os.CreateTemp("", "mmap-fixup")
	if err == nil {
		err = os.Remove(f.Name())
	}
	if err == nil {
		_, err = f.Write(pattern(size, seed))
	}
	var r *Region
	if err == nil {
		r, err = NewFile(f, 0, size, prot, Shared)
	}
	return childMap("file", r, err), f
}

func fixupChildUnexpectedFault() int {
	if !fixupChildReady() {
		return 4
	}
	ps := PageSize()
	m, err := cutMapping(2*ps, ps, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	sink = m[ps+1] // crashes
	return 0
}

// TestFixupSignalFromKill checks, in a child, that a SIGSEGV sent by a
// process (not a fault) is passed on and ends the program as the runtime
// ends it.
func TestFixupSignalFromKill(t *testing.T) {
	needFaultHandler(t)
	out, code := fixupRunChild(t, "fixupSignalFromKill")
	if code != 2 || !bytes.Contains(out, []byte("SIGSEGV")) {
		t.Fatalf("child exited with %d, want 2 and the runtime's report of a SIGSEGV:\n%s", code, out)
	}
}

func fixupChildSignalFromKill() int {
	if !fixupChildReady() {
		return 4
	}
	runtime.LockOSThread()
	if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSEGV); err != nil {
		fmt.Fprintln(os.Stderr, "tgkill:", err)
		return 4
	}
	return 0
}

// TestFixupOff checks, in a child with MMAPKIT_FAULT_HANDLER=off, that the
// handler is not installed and that ReadAt and WriteAt still read, write
// and report faults, on their counted paths.
func TestFixupOff(t *testing.T) {
	out, code := fixupRunChild(t, "fixupOff", "MMAPKIT_FAULT_HANDLER=off")
	if code != 0 {
		t.Fatalf("child exited with %d:\n%s", code, out)
	}
}

func fixupChildOff() int {
	if fastPathsAllowed() {
		fmt.Fprintln(os.Stderr, "the fault handler was installed")
		return 1
	}
	ps := PageSize()
	r, f := childFileRegion(2*ps, 9, Read|Write)
	if r == nil {
		return 4
	}
	if r.readable != nil || r.writable != nil {
		fmt.Fprintln(os.Stderr, "the fast paths are set without the handler")
		return 1
	}
	p := make([]byte, 64)
	if n, err := r.ReadAt(p, int64(ps)); n != 64 || err != nil || !bytes.Equal(p, pattern(2*ps, 9)[ps:ps+64]) {
		fmt.Fprintf(os.Stderr, "ReadAt: %d, %v\n", n, err)
		return 1
	}
	if n, err := r.WriteAt(p, 0); n != 64 || err != nil {
		fmt.Fprintf(os.Stderr, "WriteAt: %d, %v\n", n, err)
		return 1
	}
	if err := f.Truncate(int64(ps)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	if _, err := r.ReadAt(p, int64(ps)); !errors.Is(err, ErrFault) {
		fmt.Fprintf(os.Stderr, "ReadAt of a lost page: %v, want ErrFault\n", err)
		return 1
	}
	return 0
}

// TestWithoutFaultHandler runs the tests of ReadAt, WriteAt, their faults
// and the fault handler again in a child with MMAPKIT_FAULT_HANDLER=off,
// which keeps ReadAt and WriteAt on their counted paths: the suite must
// pass in that setting too, the handler's own tests skipped.
func TestWithoutFaultHandler(t *testing.T) {
	if reason := os.Getenv(noChildEnv); reason != "" {
		t.Skipf("no child processes here: %s", reason)
	}
	args, err := selfArgs("-test.run=ReadAt|WriteAt|Access|Fault|FastPaths|Fixup|CopyFixed",
		"-test.skip=^(TestWithoutFaultHandler|TestResizeDuringReadAt)$", "-test.short")
	if err != nil {
		t.Skipf("cannot find the test binary to run a child: %v", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "MMAPKIT_FAULT_HANDLER=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("with MMAPKIT_FAULT_HANDLER=off: %v\n%s", err, out)
	}
}

// needFaultHandler skips t where the package's fault handler was kept out
// on purpose (MMAPKIT_FAULT_HANDLER=off, as when the whole suite runs on the
// counted paths), and fails it where it should be installed and is not.
func needFaultHandler(t *testing.T) {
	t.Helper()
	if os.Getenv("MMAPKIT_FAULT_HANDLER") == "off" {
		t.Skip("MMAPKIT_FAULT_HANDLER=off: the fault handler is kept out")
	}
	if !fastPathsAllowed() {
		t.Fatal("the fault handler was not installed")
	}
}

// fixupRunChild runs the child function name with env and returns its
// output and exit status. The child crashes with the runtime's default
// traceback setting whatever the test's environment says: GOTRACEBACK=crash
// would end it with SIGABRT (and a core dump) instead of exit status 2.
func fixupRunChild(t *testing.T, name string, env ...string) ([]byte, int) {
	t.Helper()
	cmd := childCommand(t, name, nil, append([]string{"GOTRACEBACK=single"}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return out.Bytes(), 128 + int(ws.Signal())
	}
	return out.Bytes(), cmd.ProcessState.ExitCode()
}

// TestFixupReinstalled checks, in a child, what a program that uses cgo
// does when the runtime puts its own handler back in place of the
// package's (runtime.raisebadsignal): the next change to a mapping
// installs the package's handler again, for each signal whose handler is
// the runtime's, and leaves alone a handler installed after the package's.
// The child acts out the runtime's step with sigaction, and the cgo
// program's recheck with fixupRecheck.
func TestFixupReinstalled(t *testing.T) {
	needFaultHandler(t)
	out, code := fixupRunChild(t, "fixupReinstall")
	if code != 0 {
		t.Fatalf("child exited with %d:\n%s", code, out)
	}
}

func fixupChildReinstall() int {
	if !fixupChildReady() {
		return 4
	}
	fixupRecheck = true
	ours, _, _ := fixupPCs()
	handlerOf := func(sig unix.Signal) uintptr {
		var cur kernelSigaction
		if err := sigaction(sig, nil, &cur); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		return cur.handler
	}
	setHandler := func(sig unix.Signal, h uintptr) {
		var cur kernelSigaction
		err := sigaction(sig, nil, &cur)
		if err == nil {
			cur.handler = h
			err = sigaction(sig, &cur, nil)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
	}
	// The runtime's handler back for SIGBUS; for SIGSEGV, for the time of
	// one Map, a disposition that is neither the package's nor the one it
	// replaced (SIG_IGN), as a handler installed later would be.
	setHandler(unix.SIGBUS, fixupPrevBus)
	const other = 1 // SIG_IGN
	setHandler(unix.SIGSEGV, other)
	r, err := NewAnon(PageSize(), Read|Write, Private)
	if r = childMap("anon", r, err); r == nil {
		return 4
	}
	defer r.Unmap()
	if got := handlerOf(unix.SIGBUS); got != ours {
		fmt.Fprintf(os.Stderr, "SIGBUS handler %#x after Map, want the package's %#x\n", got, ours)
		return 1
	}
	got := handlerOf(unix.SIGSEGV)
	setHandler(unix.SIGSEGV, ours)
	if got != other {
		fmt.Fprintf(os.Stderr, "SIGSEGV handler %#x after Map, want the other one %#x left in place\n", got, other)
		return 1
	}
	// A copy's SIGBUS is caught again.
	ps := PageSize()
	m, err := cutMapping(2*ps, ps, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	if !fixupCopy(make([]byte, 64), m[ps:ps+64]) {
		fmt.Fprintln(os.Stderr, "a copy from a lost page reported no fault")
		return 1
	}
	return 0
}

// cutMapping maps size bytes of a new temporary file that holds
// pattern(size, seed), read-only and shared, then cuts the file to keep
// bytes: a read of the mapping past the page that holds keep raises
// SIGBUS. The file is gone when it returns; the caller unmaps m with
// unix.Munmap.
func cutMapping(size, keep int, seed byte) (m []byte, err error) {
	f, err := os.CreateTemp("", "mmap-fixup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return nil, err
	}
	if _, err := f.Write(pattern(size, seed)); err != nil {
		return nil, err
	}
	if m, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return nil, err
	}
	if err := f.Truncate(int64(keep)); err != nil {
		unix.Munmap(m)
		return nil, err
	}
	return m, nil
}

// mustCutMapping is cutMapping for a test, which unmaps m when it ends.
func mustCutMapping(t *testing.T, size, keep int, seed byte) []byte {
	t.Helper()
	m, err := cutMapping(size, keep, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}
