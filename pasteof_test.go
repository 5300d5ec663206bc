package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// These tests map a file ahead of its end with PastEOF, as bbolt and LMDB
// do, and check that the pages past the end fault safely until the file
// reaches them, and show the file as soon as it does.

func init() {
	childFuncs["pastEOFTouch"] = childPastEOFTouch
}

// whyNoPastEOF is why a file cannot be mapped past its end under qemu-user
// with pages larger than the host's.
const whyNoPastEOF = "qemu-user with pages larger than the host's maps anonymous memory past a file's end"

// whyNoAccessFault is why Access cannot catch a SIGBUS under qemu-user.
const whyNoAccessFault = "qemu-user gives no fault address for SIGBUS, which Access needs"

// pastEOFRegion maps a region of pages pages with PastEOF over a new file of
// one page of pattern(PageSize(), 1), opened for reading and writing.
func pastEOFRegion(t *testing.T, pages int, flags Flag) (*Region, *os.File, string) {
	t.Helper()
	skipUnderLargePages(t, whyNoPastEOF)
	ps := PageSize()
	return mapFile(t, pattern(ps, 1), os.O_RDWR, 0, pages*ps, Read|Write, Shared|PastEOF|flags)
}

// checkPastEOFFault checks that err is the fault of an access past the end of
// the file at offset off of the region.
func checkPastEOFFault(t *testing.T, what string, err error, off int64) {
	t.Helper()
	var fe *FaultError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFault) || !errors.Is(err, ErrPastEOF) {
		t.Errorf("%s = %v (%T), want a *FaultError matching ErrFault and ErrPastEOF", what, err, err)
		return
	}
	if errors.Is(err, fs.ErrInvalid) {
		t.Errorf("%s = %v matches fs.ErrInvalid; a fault is not an invalid argument", what, err)
	}
	if fe.Offset != off {
		t.Errorf("%s: FaultError.Offset = %d, want %d", what, fe.Offset, off)
	}
}

func TestPastEOFNeedsTheFlag(t *testing.T) {
	ps := PageSize()
	f, _ := tempFile(t, pattern(ps, 1), os.O_RDWR)
	if _, err := NewFile(f, 0, 64*ps, Read, Shared); !errors.Is(err, ErrPastEOF) {
		t.Errorf("NewFile of 64 pages over a 1-page file without PastEOF = %v, want ErrPastEOF", err)
	}
	if _, err := NewAnon(ps, Read|Write, Private|PastEOF); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewAnon with PastEOF = %v, want fs.ErrInvalid", err)
	}
	_, err := NewFile(f, 64*int64(Granularity()), ps, Read, Shared|PastEOF)
	if runtime.GOOS == "windows" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("NewFile with PastEOF on Windows = %v, want errors.ErrUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Errorf("NewFile of a page wholly past the end with PastEOF = %v, want nil", err)
	}
}

func TestPastEOFAccessFaultsUntilFileGrows(t *testing.T) {
	ps := PageSize()
	r, f, name := pastEOFRegion(t, 64, 0)
	if r.Len() != 64*ps {
		t.Fatalf("Len = %d, want %d", r.Len(), 64*ps)
	}
	buf := make([]byte, 100)
	checkAccess := !emulated()
	if !checkAccess {
		t.Logf("faults in Access not checked: %s", whyNoAccessFault)
	}

	// Inside the file: fine. Past it: a classified fault, never a crash.
	if n, err := r.ReadAt(buf, 10); n != len(buf) || err != nil || !bytes.Equal(buf, pattern(ps, 1)[10:110]) {
		t.Fatalf("ReadAt inside the file = %d, %v, %x", n, err, buf)
	}
	_, err := r.ReadAt(buf, int64(5*ps))
	checkPastEOFFault(t, "ReadAt past the end", err, int64(5*ps))
	_, err = r.WriteAt(buf, int64(63*ps+1))
	checkPastEOFFault(t, "WriteAt past the end", err, int64(63*ps+1))
	n, err := r.ReadAt(buf, int64(ps-40))
	checkPastEOFFault(t, "ReadAt across the end", err, int64(ps))
	if n != 40 {
		t.Errorf("ReadAt across the end copied %d bytes, want the 40 before the end", n)
	}
	if checkAccess {
		err = r.Access(ps-40, 100, func(b []byte) error {
			sink = b[39]
			sink = b[60] // faults
			return nil
		})
		checkPastEOFFault(t, "Access across the end", err, int64(ps+20))
		err = r.Access(3*ps, ps, func(b []byte) error {
			b[7] = 1 // faults
			return nil
		})
		checkPastEOFFault(t, "Access (write) past the end", err, int64(3*ps+7))
	}

	// Another *os.File grows the file to 8 pages: the region shows them at
	// once, with no Resize.
	other, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Truncate(int64(8 * ps)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.WriteAt(pattern(ps, 5), int64(5*ps)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ReadAt(buf, int64(5*ps)); n != len(buf) || err != nil || !bytes.Equal(buf, pattern(ps, 5)[:100]) {
		t.Errorf("ReadAt of a page the file grew into = %d, %v; want the file's bytes", n, err)
	}
	err = r.Access(5*ps, ps, func(b []byte) error {
		if !bytes.Equal(b, pattern(ps, 5)) {
			t.Errorf("Access of a page the file grew into: %s", diff(b, pattern(ps, 5)))
		}
		return nil
	})
	if err != nil {
		t.Errorf("Access of a page the file grew into: %v", err)
	}
	if n, err := r.WriteAt(pattern(100, 6), int64(7*ps)); n != 100 || err != nil {
		t.Errorf("WriteAt of a page the file grew into = %d, %v", n, err)
	}
	got := make([]byte, 100)
	if _, err := other.ReadAt(got, int64(7*ps)); err != nil || !bytes.Equal(got, pattern(100, 6)) {
		t.Errorf("the file after WriteAt through the region = %x, %v; want %x", got, err, pattern(100, 6))
	}
	_, err = r.ReadAt(buf, int64(8*ps))
	checkPastEOFFault(t, "ReadAt past the grown end", err, int64(8*ps))

	// Grow(Len) allocates the file up to the region's end.
	if err := r.Grow(r.Len()); err != nil {
		t.Fatalf("Grow(Len): %v", err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != int64(64*ps) {
		t.Fatalf("file after Grow(Len) = %v, %v; want %d bytes", fi, err, 64*ps)
	}
	whole := make([]byte, r.Len())
	if n, err := r.ReadAt(whole, 0); n != len(whole) || err != nil {
		t.Fatalf("ReadAt of the whole region after Grow = %d, %v", n, err)
	}
	file := make([]byte, r.Len())
	if _, err := other.ReadAt(file, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole, file) {
		t.Errorf("region and file differ after Grow: %s", diff(whole, file))
	}

	// Shrinking the file makes the pages fault again.
	if err := other.Truncate(int64(ps)); err != nil {
		t.Fatal(err)
	}
	_, err = r.ReadAt(buf, int64(5*ps))
	checkPastEOFFault(t, "ReadAt after the file shrank", err, int64(5*ps))
	_, err = r.WriteAt(buf, int64(40*ps))
	checkPastEOFFault(t, "WriteAt after the file shrank", err, int64(40*ps))
	if checkAccess {
		err = r.Access(63*ps, ps, func(b []byte) error {
			sink = b[ps-1] // faults
			return nil
		})
		checkPastEOFFault(t, "Access after the file shrank", err, int64(64*ps-1))
	}
}

func TestPastEOFResizeAndReserve(t *testing.T) {
	skipUnderLargePages(t, whyNoPastEOF)
	ps := PageSize()
	f, name := tempFile(t, pattern(ps, 2), os.O_RDWR)
	r, err := NewFile(f, 0, 4*ps, Read|Write, Shared|PastEOF)
	skipUnsupported(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reserve(64 * ps); err != nil {
		t.Fatal(err)
	}
	mapRegion(t, r, nil)
	before := &r.Bytes()[0]
	if err := r.Resize(32 * ps); err != nil {
		t.Fatalf("Resize past the end with PastEOF: %v", err)
	}
	if &r.Bytes()[0] != before {
		t.Errorf("Resize inside the reservation moved the region")
	}
	if err := os.WriteFile(name, pattern(20*ps, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, ps)
	if n, err := r.ReadAt(buf, int64(19*ps)); n != ps || err != nil || !bytes.Equal(buf, pattern(20*ps, 3)[19*ps:]) {
		t.Errorf("ReadAt of page 19 after the file grew to 20 pages = %d, %v", n, err)
	}
	_, err = r.ReadAt(buf, int64(20*ps))
	checkPastEOFFault(t, "ReadAt of page 20", err, int64(20*ps))
	if err := r.Resize(ps + 1); !errors.Is(err, ErrUnaligned) {
		t.Errorf("Resize to a length that is not whole pages and not the file's end = %v, want ErrUnaligned", err)
	}
}

// childPastEOFTouch maps the file at descriptor 3 four pages long with
// PastEOF, checks that ReadAt past its end returns an error, and then reads
// the same page through Bytes, which must kill the process.
func childPastEOFTouch() int {
	f := os.NewFile(3, "pasteof")
	ps := PageSize()
	r, err := NewFile(f, 0, 4*ps, Read, Shared|PastEOF)
	if err != nil {
		return 4
	}
	if err := r.Map(); err != nil {
		return 5
	}
	if _, err := r.ReadAt(make([]byte, 1), int64(2*ps)); !errors.Is(err, ErrPastEOF) {
		return 6
	}
	sink = r.Bytes()[2*ps]
	return 0 // not reached: the load raises SIGBUS
}

func TestPastEOFBytesRaisesSIGBUS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("PastEOF is not supported on Windows")
	}
	skipUnderLargePages(t, whyNoPastEOF)
	f, _ := tempFile(t, pattern(PageSize(), 1), os.O_RDONLY)
	cmd := childCommand(t, "pastEOFTouch", []*os.File{f})
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child touching a page past the end through Bytes: %v, want it to die of SIGBUS", err)
	}
	if code := exit.ExitCode(); code >= 4 && code <= 6 {
		t.Fatalf("child failed before the touch with status %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "SIGBUS") {
		t.Errorf("child died with %v, want SIGBUS; its output:\n%s", err, stderr.String())
	}
}

func TestPastEOFLocksOnlyPagesInsideFile(t *testing.T) {
	needSmaps(t)
	ps := PageSize()
	// Locking a page past the end would fail (ENOMEM): Map locks and
	// populates only the file's page.
	r, _, _ := pastEOFRegion(t, 16, Locked|Populate)
	addr := regionAddr(r)
	in := smapsAt(t, addr)
	if !in.flags["lo"] || in.end != uintptr(addr)+uintptr(ps) || in.counters["Locked"] != int64(ps) {
		t.Errorf("file's page: smaps entry %#x-%#x flags %v Locked %d; want one locked page at %#x",
			in.start, in.end, vmFlagList(in), in.counters["Locked"], addr)
	}
	if past := smapsAt(t, unsafe.Add(addr, ps)); past.flags["lo"] || past.counters["Rss"] != 0 {
		t.Errorf("pages past the end: flags %v Rss %d; want neither locked nor resident", vmFlagList(past), past.counters["Rss"])
	}
	if err := r.LockRange(0, r.Len()); err == nil {
		t.Errorf("LockRange of pages past the end of the file = nil, want an error")
	}
	if err := r.Unmap(); err != nil {
		t.Errorf("Unmap: %v", err)
	}
}

// TestResizeCopyPastEOF grows a private region over a file that ends
// inside it, where Resize must copy the old memory (remap unavailable): the
// copy faults on the first page past the end of the file, and Resize says
// so, at that page's offset, and leaves the region as it was.
func TestResizeCopyPastEOF(t *testing.T) {
	old := remap
	remap = func(unsafe.Pointer, uintptr, unsafe.Pointer, uintptr) (unsafe.Pointer, error) {
		return nil, errors.ErrUnsupported
	}
	t.Cleanup(func() { remap = old })
	skipUnderLargePages(t, whyNoPastEOF)
	ps := PageSize()
	r, _, _ := mapFile(t, pattern(ps, 1), os.O_RDWR, 0, ps, Read|Write, Private|PastEOF)
	if err := r.Resize(4 * ps); err != nil { // grows in place: nothing to copy
		t.Logf("Resize(4 pages): %v", err)
	}
	if r.Len() != 4*ps {
		t.Skip("the region could not grow past the file's end here")
	}
	err := r.Resize(8 * ps)
	checkPastEOFFault(t, "Resize that copies past the end of the file", err, int64(ps))
	if r.Len() != 4*ps || !r.Mapped() {
		t.Errorf("after the failed Resize: Len %d, Mapped %v; want %d, true", r.Len(), r.Mapped(), 4*ps)
	}
}
