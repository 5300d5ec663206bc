package mmap

// The helpers that the tests share: files, regions mapped for the length
// of a test, error checks, memory faults, the kernel's account of mappings
// in /proc/self/smaps, and the emulators the scripts run the tests under.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// sink receives bytes read from mapped memory in tests, so that the compiler
// cannot remove the reads.
var sink byte

// Files.

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

// patternFile creates a file of size bytes of pattern(size, seed) and
// opens it with flag.
func patternFile(t testing.TB, size int64, seed byte, flag int) (*os.File, string) {
	t.Helper()
	return tempFile(t, pattern(int(size), seed), flag)
}

// sparseFile returns a sparse file of the given size, opened for
// reading and writing, in the temporary directory or in /dev/shm, or
// skips the test if no file system at hand holds such a file.
func sparseFile(t *testing.T, size int64) *os.File {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("extending a file on NTFS allocates it: no sparse files of this size")
	}
	dirs := []string{tempDir(t)}
	if d, err := os.MkdirTemp("/dev/shm", "mmaptest"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		f, err := os.Create(filepath.Join(dir, "sparse"))
		if err != nil {
			continue
		}
		if err := f.Truncate(size); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	t.Skipf("no file system here holds a sparse file of %d bytes", size)
	return nil
}

// readFile returns the contents of the named file.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// removeFile unmaps the regions of a file, closes the file f and removes it
// by name, which must succeed on every system once every region of the file
// is unmapped: on Windows this fails if a handle to the file or to a mapping
// of it was left open.
func removeFile(t testing.TB, f *os.File, name string, regions ...*Region) {
	t.Helper()
	for _, r := range regions {
		mustUnmap(t, r)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatalf("removing the file after its regions were unmapped: %v", err)
	}
}

// Bytes.

// pattern returns n bytes of a deterministic pattern seeded by seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// diff explains how got differs from want; call it only once the
// bytes are known to differ.
func diff(got, want []byte) string {
	return cmp.Diff(want, got)
}

// firstDiff returns the index of the first byte where a and b differ, or
// the length of the shorter one if it is a prefix of the other.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// resized returns b cut or extended with zeros to n bytes: what a region
// that held b holds after Resize(n).
func resized(b []byte, n int) []byte {
	if n <= len(b) {
		return b[:n]
	}
	return append(b, make([]byte, n-len(b))...)
}

// firstNonZero returns the index of the first byte of b that is not
// zero, or -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// Regions.

// mapRegion maps r, which a constructor returned with err, and closes it at
// the end of the test. It fails the test if err is
// not nil, but skips it where the system refuses what was asked as the
// package documents (never on Linux).
func mapRegion(t testing.TB, r *Region, err error) *Region {
	t.Helper()
	skipUnsupported(t, err)
	if err != nil {
		t.Fatalf("building the region: %v", err)
	}
	if err := r.Map(); err != nil {
		t.Fatalf("Map(%v, %v): %v", r.Prot(), r.Flags(), err)
	}
	// Close, not only Unmap: a region from NewSharedMemory keeps its
	// memory (huge pages of the pool, for HugeTLB) until its file is closed.
	t.Cleanup(func() { r.Close() })
	return r
}

// mapAnon returns a mapped anonymous region of length bytes, unmapped at the
// end of the test.
func mapAnon(t testing.TB, length int, prot Prot, flags Flag) *Region {
	t.Helper()
	r, err := NewAnon(length, prot, flags)
	return mapRegion(t, r, err)
}

// mapFile writes data to a new file, opens it with flag and returns a
// mapped region of length bytes at off, unmapped at the end of the test,
// with the file and its name.
func mapFile(t testing.TB, data []byte, flag int, off int64, length int, prot Prot, flags Flag) (*Region, *os.File, string) {
	t.Helper()
	f, name := tempFile(t, data, flag)
	r, err := NewFile(f, off, length, prot, flags)
	return mapRegion(t, r, err), f, name
}

// mapReserved reserves room for reserve bytes for r, which a constructor
// returned with err, unless reserve is 0, and maps it as mapRegion does.
func mapReserved(t testing.TB, r *Region, err error, reserve int) *Region {
	t.Helper()
	if err == nil && reserve > 0 {
		err = r.Reserve(reserve)
	}
	return mapRegion(t, r, err)
}

// unmappedRegion returns a region that was mapped and is unmapped again.
func unmappedRegion(t *testing.T) *Region {
	t.Helper()
	data := pattern(2*PageSize(), 5)
	r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	mustUnmap(t, r)
	return r
}

// mustUnmap unmaps r, failing the test on error.
func mustUnmap(t testing.TB, r *Region) {
	t.Helper()
	if err := r.Unmap(); err != nil {
		t.Fatalf("Unmap: %v", err)
	}
}

// mapAgain unmaps r and maps it again, failing the test on error.
func mapAgain(t testing.TB, r *Region) {
	t.Helper()
	mustUnmap(t, r)
	if err := r.Map(); err != nil {
		t.Fatalf("Map again: %v", err)
	}
}

// regionAddr returns the start of a mapped region's memory.
func regionAddr(r *Region) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r.Bytes())) }

// readAll reads the whole region through ReadAt.
func readAll(t testing.TB, r *Region) []byte {
	t.Helper()
	got := make([]byte, r.Len())
	if n, err := r.ReadAt(got, 0); n != len(got) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt of %d bytes = %d, %v", len(got), n, err)
	}
	return got
}

// checkContents checks that the region is len(want) bytes long, through
// Len and Bytes, and holds want, through ReadAt.
func checkContents(t testing.TB, r *Region, want []byte) {
	t.Helper()
	if r.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d", r.Len(), len(want))
	}
	if got := readAll(t, r); !bytes.Equal(got, want) {
		i := firstDiff(got, want)
		t.Fatalf("contents differ first at byte %d: got %#x, want %#x", i, got[i], want[i])
	}
	if b := r.Bytes(); len(b) != len(want) {
		t.Fatalf("len(Bytes()) = %d, want %d", len(b), len(want))
	}
}

// checkN reports an error if a ReadAt or WriteAt returned n bytes
// rather than want.
func checkN(t testing.TB, n, want int) {
	t.Helper()
	if n != want {
		t.Errorf("n = %d, want %d", n, want)
	}
}

// Errors.

// checkErr reports an error unless err matches every error in want
// and, if op is set, is an *fs.PathError with that Op. A message the package
// writes itself must start with "mmap: ".
func checkErr(t testing.TB, what string, err error, op string, want ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want an error matching %v", what, want)
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("%s: got error %q (%T), want an error matching %q", what, err, err, w)
		}
	}
	var pe *fs.PathError
	isPath := errors.As(err, &pe)
	if op != "" && (!isPath || pe.Op != op) {
		t.Errorf("%s: got error %q (%T), want an *fs.PathError with Op %q", what, err, err, op)
	}
	if !isPath && err != io.EOF && !strings.HasPrefix(err.Error(), "mmap: ") {
		t.Errorf("%s: error %q does not start with \"mmap: \"", what, err)
	}
}

// classified reports whether err belongs to one of the classes that
// API.md documents.
func classified(err error) bool {
	for _, class := range []error{fs.ErrInvalid, ErrUnaligned, ErrPastEOF, ErrNotMapped, ErrMapped, ErrFault,
		fs.ErrClosed, fs.ErrPermission, errors.ErrUnsupported, io.EOF, io.ErrShortWrite} {
		if errors.Is(err, class) {
			return true
		}
	}
	var pe *fs.PathError
	return errors.As(err, &pe) && hasErrno(pe.Err)
}

// checkClassified fails unless err belongs to a documented class and, when
// the package wrote the message itself, starts with "mmap: ".
func checkClassified(t testing.TB, what string, err error) {
	t.Helper()
	if !classified(err) {
		t.Fatalf("%s: unclassified error %q (%T)", what, err, err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) && !strings.HasPrefix(err.Error(), "mmap: ") {
		t.Fatalf("%s: error %q does not start with \"mmap: \"", what, err)
	}
}

// unsupportedHere reports whether err says that this system cannot honour
// what was asked, as the package documents for systems other than Linux
// and for emulators that accept advice and ignore it. On Linux, natively,
// it always reports false, so that the tests check everything there.
func unsupportedHere(err error) bool {
	return (runtime.GOOS != "linux" || emulated()) && errors.Is(err, errors.ErrUnsupported)
}

// skipUnsupported skips the test if unsupportedHere(err).
func skipUnsupported(t testing.TB, err error) {
	t.Helper()
	if unsupportedHere(err) {
		t.Skipf("not supported on %s: %v", runtime.GOOS, err)
	}
}

// opName returns the Op of an error of the operating system: the unix
// system call, or on Windows the function the package called instead.
func opName(unix, windows string) string {
	if runtime.GOOS == "windows" {
		return windows
	}
	return unix
}

// Faults.

// faultAddress runs fn with memory faults turned into panics, and returns
// the faulting address, or 0 if fn did not fault.
func faultAddress(fn func()) (addr uintptr) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		e := recover()
		if e == nil {
			return
		}
		f, ok := e.(interface{ Addr() uintptr })
		if !ok {
			panic(e)
		}
		addr = f.Addr()
	}()
	fn()
	return 0
}

// faultAt reads or writes the byte at p with faults turned into panics, and
// returns the faulting address, or 0 if the access did not fault.
func faultAt(p unsafe.Pointer, write bool) uintptr {
	return faultAddress(func() {
		if write {
			*(*byte)(p) = 1
		} else {
			sink = *(*byte)(p)
		}
	})
}

// The kernel's account of mappings (Linux).

// smapsEntry is one entry of /proc/self/smaps: an address range, its
// permissions, its counters in bytes (Rss, AnonHugePages, Locked...) and its
// VmFlags.
type smapsEntry struct {
	start, end uintptr
	perms      string
	counters   map[string]int64
	flags      map[string]bool
}

// needSmaps skips the test where /proc/self/smaps does not exist or does
// not describe this process's mappings.
func needSmaps(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("/proc/self/smaps is Linux only; this is %s", runtime.GOOS)
	}
	if _, err := os.Stat("/proc/self/smaps"); err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	if smapsUntrusted() {
		skipUnderEmulator(t, whySmapsUntrusted)
	}
}

// parseSmaps parses the text of /proc/self/smaps.
func parseSmaps(data []byte) ([]smapsEntry, error) {
	var maps []smapsEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		// A header line starts with "start-end", which has no colon.
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && !strings.HasSuffix(fields[0], ":") {
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || len(fields) < 2 {
				return nil, errors.New("bad smaps header: " + line)
			}
			maps = append(maps, smapsEntry{start: uintptr(start), end: uintptr(end), perms: fields[1],
				counters: map[string]int64{}, flags: map[string]bool{}})
			continue
		}
		if len(maps) == 0 {
			return nil, errors.New("smaps field before any header: " + line)
		}
		m := &maps[len(maps)-1]
		key := strings.TrimSuffix(fields[0], ":")
		if key == "VmFlags" {
			for _, f := range fields[1:] {
				m.flags[f] = true
			}
			continue
		}
		if len(fields) >= 2 {
			n, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				continue // a field that is not a counter (THPeligible is, ProtectionKey is)
			}
			if len(fields) == 3 && fields[2] == "kB" {
				n *= 1024
			}
			m.counters[key] = n
		}
	}
	return maps, sc.Err()
}

// findSmaps returns the smaps entry whose range holds addr, or ok false if
// none does. It skips the test where /proc/self/smaps does not exist.
func findSmaps(t testing.TB, addr uintptr) (m smapsEntry, ok bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps on %s: %v", runtime.GOOS, err)
	}
	maps, err := parseSmaps(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.start <= addr && addr < m.end {
			return m, true
		}
	}
	return smapsEntry{}, false
}

// smapsAt returns the smaps entry whose range holds addr.
func smapsAt(t testing.TB, addr unsafe.Pointer) smapsEntry {
	t.Helper()
	m, ok := findSmaps(t, uintptr(addr))
	if !ok {
		t.Fatalf("no smaps entry holds address %#x", addr)
	}
	return m
}

// checkSmapsFlags checks that the smaps entry holding r's memory covers all
// of it and has, or has not, each VmFlag in flags ("lo", "!lo"). The entry
// may be larger than the region: the kernel merges a mapping with its
// neighbours when their flags are the same.
func checkSmapsFlags(t testing.TB, r *Region, flags ...string) smapsEntry {
	t.Helper()
	addr := regionAddr(r)
	m := smapsAt(t, addr)
	if end := uintptr(addr) + r.mappedLen(); m.end < end {
		t.Errorf("smaps entry %#x-%#x does not cover the region %#x-%#x", m.start, m.end, uintptr(addr), end)
	}
	for _, f := range flags {
		want := !strings.HasPrefix(f, "!")
		f = strings.TrimPrefix(f, "!")
		if m.flags[f] != want {
			t.Errorf("VmFlags %q: has %q = %v, want %v", vmFlagList(m), f, m.flags[f], want)
		}
	}
	return m
}

// isolatedSmaps returns the smaps entry of r's memory alone, so that its
// counters (Rss...) count r's pages only. A private anonymous mapping merges
// with neighbouring ones; advice that no neighbour has (MADV_RANDOM, which
// faults nothing in) splits it off again.
func isolatedSmaps(t testing.TB, r *Region) smapsEntry {
	t.Helper()
	if err := r.Advise(Random); err != nil {
		t.Fatal(err)
	}
	addr := regionAddr(r)
	m := smapsAt(t, addr)
	if end := uintptr(addr) + r.mappedLen(); m.start != uintptr(addr) || m.end != end {
		t.Fatalf("smaps entry %#x-%#x %s [%s], want exactly the region %#x-%#x",
			m.start, m.end, m.perms, vmFlagList(m), uintptr(addr), end)
	}
	return m
}

// vmFlagList returns the VmFlags of m separated by spaces.
func vmFlagList(m smapsEntry) string {
	var fs []string
	for f := range m.flags {
		fs = append(fs, f)
	}
	return strings.Join(fs, " ")
}

// procStatus returns a counter of /proc/self/status in bytes.
func procStatus(t testing.TB, key string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			return n * 1024
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// kernelAtLeast reports whether this is Linux of at least the version
// major.minor.
func kernelAtLeast(major, minor int) bool {
	if runtime.GOOS != "linux" {
		return false
	}
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	var kmaj, kmin int
	if _, err := fmt.Sscanf(string(b), "%d.%d", &kmaj, &kmin); err != nil {
		return false
	}
	return kmaj > major || kmaj == major && kmin >= minor
}

// setForTest sets the package variable at p to v until the end of the
// test, for the variables that force a fallback path (testNoSecretMemory,
// testNoPopulateAdvice...). Tests that use it must not run in parallel.
func setForTest[T any](t testing.TB, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

// withAndWithout runs f as two subtests, name=false and name=true: the
// second with the fallback path that the variable at force selects.
func withAndWithout(t *testing.T, name string, force *bool, f func(t *testing.T, forced bool)) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprintf("%s=%v", name, forced), func(t *testing.T) {
			setForTest(t, force, forced)
			f(t, forced)
		})
	}
}

// Emulators.

// emulated reports whether the test binary runs under an emulator
// (scripts/test-qemu.sh, scripts/test-386.sh), for checks that the
// emulator cannot reproduce while the rest of a test still runs; use
// skipUnderEmulator to skip a whole test or subtest.
func emulated() bool { return os.Getenv(emulatorEnv) != "" }

// skipUnderEmulator skips t when the test binary runs under an emulator
// that does not reproduce what the test checks; why says what the emulator
// does differently, such as "qemu-user ignores madvise".
func skipUnderEmulator(t testing.TB, why string) {
	t.Helper()
	if emu := os.Getenv(emulatorEnv); emu != "" {
		t.Skipf("under %s: %s", emu, why)
	}
}

// largePagesEmulated reports whether the test binary runs under an
// emulator whose guest pages are larger than the host's 4 KiB
// (scripts/test-qemu.sh runs 16 and 64 KiB pages on a host of 4 KiB pages):
// qemu-user then maps a file's pages with host pages and cannot give the
// part of the guest's last page beyond the file's end, nor map a device, as
// the guest's kernel would.
func largePagesEmulated() bool { return emulated() && PageSize() > 4096 }

// skipUnderLargePages skips t if largePagesEmulated.
func skipUnderLargePages(t testing.TB, why string) {
	t.Helper()
	if largePagesEmulated() {
		skipUnderEmulator(t, why)
	}
}

// smapsUntrusted reports whether /proc/self/smaps does not describe the
// guest's mappings: under qemu-user with a 32-bit guest (scripts/test-386.sh
// where the kernel runs no 32-bit programs). A 64-bit guest on a 64-bit host
// sees the host's own smaps, which hold the guest's mappings but not what
// qemu leaves out (madvise).
func smapsUntrusted() bool {
	return emulated() && unsafe.Sizeof(uintptr(0)) == 4
}

// whySmapsUntrusted is why /proc/self/smaps cannot be checked under
// qemu-user running a 32-bit guest.
const whySmapsUntrusted = "qemu-user runs a 32-bit guest in a reservation of the host's address space and writes " +
	"/proc/self/smaps itself, without the guest's protections, locks and flags"
