package mmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"pgregory.net/rapid"
)

// badInput is one bad input: run makes the call and returns its error,
// which must match every error in want with errors.Is, and, when op is set,
// be an *fs.PathError with that Op.
type badInput struct {
	name string
	run  func(t *testing.T) error
	want []error
	op   string
}

// systemBadInputs holds bad inputs that only some systems have (named
// pipes, /dev/null); files with build constraints add to it from init.
var systemBadInputs []badInput

// newFileCase is one set of NewFile arguments, with the size of the file
// and whether it is opened read-only. want is nil for valid arguments. The
// fuzz target FuzzNewFile is seeded from the same table.
type newFileCase struct {
	name   string
	off    int64
	length int
	prot   Prot
	flags  Flag
	size   int64
	rdonly bool
	want   []error
}

// newFileCases returns NewFile arguments, mostly bad ones, in units of
// the page size and granularity of this machine.
func newFileCases() []newFileCase {
	ps, g := PageSize(), int64(Granularity())
	p64 := int64(ps)
	inv := []error{fs.ErrInvalid}
	unal := []error{ErrUnaligned, fs.ErrInvalid}
	past := []error{ErrPastEOF, fs.ErrInvalid}
	return []newFileCase{
		{"negative offset", -g, ps, Read, Shared, 2 * p64, false, inv},
		{"unaligned offset 1", 1, ps, Read, Shared, 2 * p64, false, unal},
		{"unaligned offset half granularity", g / 2, ps, Read, Shared, 2*g + 2*p64, false, unal},
		{"zero length", 0, 0, Read, Shared, p64, false, inv},
		{"negative length", 0, -ps, Read, Shared, p64, false, inv},
		{"huge length", 0, math.MaxInt, Read, Shared, p64, false, inv},
		{"huge aligned length", 0, math.MaxInt &^ (ps - 1), Read, Shared, p64, false, past},
		{"offset plus length overflows", AlignOffset(math.MaxInt64), ps, Read, Shared, p64, false, inv},
		{"unaligned length not at end of file", 0, ps + 1, Read, Shared, 2 * p64, false, unal},
		{"unaligned length past end of file", 0, ps + 20, Read, Shared, p64 + 10, false, unal},
		{"whole page past end of file", 0, 2 * ps, Read, Shared, p64, false, past},
		{"offset past end of file", 2 * g, ps, Read, Shared, p64, false, past},
		{"empty file", 0, ps, Read, Shared, 0, false, past},
		{"neither Shared nor Private", 0, ps, Read, Populate, p64, false, inv},
		{"both Shared and Private", 0, ps, Read, Shared | Private, p64, false, inv},
		{"unknown prot bits", 0, ps, Prot(0x80), Shared, p64, false, inv},
		{"unknown flag bits", 0, ps, Read, Shared | Flag(1<<31), p64, false, inv},
		{"HugePages on a file", 0, ps, Read, Private | HugePages, p64, false, inv},
		{"Secret on a file", 0, ps, Read | Write, Private | Secret, p64, false, inv},
		{"Write Shared on a read-only descriptor", 0, ps, Read | Write, Shared, p64, true, inv},
		// Valid arguments, to seed the fuzz target with successes too.
		{"whole file", 0, ps + 10, Read, Shared, p64 + 10, true, nil},
		{"second page", g, ps, Read | Write, Shared | Populate, g + p64, false, nil},
		{"private write on read-only descriptor", 0, ps, Read | Write, Private, p64, true, nil},
		{"partial last page", 0, 2 * ps, Read, Private | Guard, p64 + 1, false, nil},
	}
}

// newAnonCase is one set of NewAnon arguments; want is nil for valid ones.
type newAnonCase struct {
	name   string
	length int
	prot   Prot
	flags  Flag
	want   []error
}

func newAnonCases() []newAnonCase {
	ps := PageSize()
	inv := []error{fs.ErrInvalid}
	unal := []error{ErrUnaligned, fs.ErrInvalid}
	return []newAnonCase{
		{"zero length", 0, Read | Write, Private, inv},
		{"negative length", -ps, Read | Write, Private, inv},
		{"min int length", math.MinInt, Read | Write, Private, inv},
		{"unaligned length", ps + 1, Read | Write, Private, unal},
		{"huge unaligned length", math.MaxInt, Read | Write, Private, unal},
		{"neither Shared nor Private", ps, Read | Write, 0, inv},
		{"both Shared and Private", ps, Read | Write, Shared | Private, inv},
		{"unknown prot bits", ps, Prot(0xf0), Private, inv},
		{"unknown flag bits", ps, Read, Private | Flag(1<<20), inv},
		{"Secret Shared", ps, Read | Write, Shared | Secret, inv},
		{"Locked without access", ps, 0, Private | Locked, inv},
		{"Secret without access", ps, 0, Private | Secret, inv},
		// Valid arguments, to seed the fuzz target with successes too.
		{"one page", ps, Read | Write, Private, nil},
		{"guarded", 2 * ps, Read, Shared | Guard | Populate, nil},
	}
}

func badInputs() []badInput {
	ps := PageSize()
	var cases []badInput
	for _, c := range newAnonCases() {
		if c.want == nil {
			continue
		}
		cases = append(cases, badInput{name: "NewAnon/" + c.name, want: c.want, run: func(t *testing.T) error {
			r, err := NewAnon(c.length, c.prot, c.flags)
			if r != nil {
				t.Errorf("NewAnon returned a region with error %v", err)
			}
			return err
		}})
	}
	for _, c := range newFileCases() {
		if c.want == nil {
			continue
		}
		cases = append(cases, badInput{name: "NewFile/" + c.name, want: c.want, run: func(t *testing.T) error {
			flag := os.O_RDWR
			if c.rdonly {
				flag = os.O_RDONLY
			}
			f, _ := patternFile(t, c.size, 1, flag)
			r, err := NewFile(f, c.off, c.length, c.prot, c.flags)
			if r != nil {
				t.Errorf("NewFile returned a region with error %v", err)
			}
			return err
		}})
	}
	newFile := func(f *os.File) error {
		_, err := NewFile(f, 0, ps, Read, Shared)
		return err
	}
	cases = append(cases,
		badInput{name: "NewFile/nil file", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return newFile(nil)
		}},
		badInput{name: "NewFile/closed file", want: []error{fs.ErrInvalid, fs.ErrClosed}, run: func(t *testing.T) error {
			f, _ := patternFile(t, int64(ps), 1, os.O_RDWR)
			f.Close()
			return newFile(f)
		}},
		badInput{name: "NewFile/write-only file", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			f, _ := patternFile(t, int64(ps), 1, os.O_WRONLY)
			return newFile(f)
		}},
		badInput{name: "NewFile/directory", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			d, err := os.Open(tempDir(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			return newFile(d)
		}},
		badInput{name: "NewFile/pipe", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			defer pw.Close()
			return newFile(pr)
		}},
		badInput{name: "Open/directory", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			_, err := Open(tempDir(t))
			return err
		}},
		badInput{name: "Open/missing file", want: []error{fs.ErrNotExist}, run: func(t *testing.T) error {
			_, err := Open(tempDir(t) + "/missing")
			return err
		}},
		badInput{name: "Open/Map after Unmap", want: []error{fs.ErrClosed}, run: func(t *testing.T) error {
			_, name := patternFile(t, int64(ps)+3, 1, os.O_RDONLY)
			r, err := Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Unmap(); err != nil {
				t.Fatal(err)
			}
			return r.Map()
		}},
		badInput{name: "Map/twice", want: []error{ErrMapped}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Private).Map()
		}},
		badInput{name: "Map/file closed", want: []error{fs.ErrClosed}, run: func(t *testing.T) error {
			r := unmappedRegion(t)
			r.File().Close()
			return r.Map()
		}},
		badInput{name: "Map/file truncated", want: []error{ErrPastEOF, fs.ErrInvalid}, run: func(t *testing.T) error {
			r := unmappedRegion(t)
			if err := r.File().Truncate(int64(ps)); err != nil {
				t.Fatal(err)
			}
			return r.Map()
		}},
		badInput{name: "Protect/unknown bits", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Private).Protect(Prot(0x10))
		}},
		badInput{name: "Protect/Write on read-only descriptor", want: []error{fs.ErrPermission}, op: opName("mprotect", "VirtualProtect"), run: func(t *testing.T) error {
			data := pattern(ps, 1)
			r, _, _ := mapFile(t, data, os.O_RDONLY, 0, ps, Read, Shared)
			return r.Protect(Read | Write)
		}},
		badInput{name: "Advise/unknown advice", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Private).Advise(Advice(-1))
		}},
		badInput{name: "Advise/advice past the last", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Private).Advise(Free + 1)
		}},
		badInput{name: "ReadAt/negative offset", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).ReadAt(make([]byte, 1), -1)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "ReadAt/min offset", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).ReadAt(make([]byte, 1), math.MinInt64)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "ReadAt/at end", want: []error{io.EOF}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).ReadAt(make([]byte, 1), int64(ps))
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "ReadAt/far past end", want: []error{io.EOF}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).ReadAt(make([]byte, 1), math.MaxInt64)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "ReadAt/across end", want: []error{io.EOF}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).ReadAt(make([]byte, 10), int64(ps-4))
			checkN(t, n, 4)
			return err
		}},
		badInput{name: "WriteAt/negative offset", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read|Write, Private).WriteAt(make([]byte, 1), -1)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "WriteAt/at end", want: []error{io.ErrShortWrite}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read|Write, Private).WriteAt(make([]byte, 1), int64(ps))
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "WriteAt/far past end", want: []error{io.ErrShortWrite}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read|Write, Private).WriteAt(make([]byte, 1), math.MaxInt64)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "WriteAt/across end", want: []error{io.ErrShortWrite}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read|Write, Private).WriteAt(make([]byte, 10), int64(ps-4))
			checkN(t, n, 4)
			return err
		}},
		badInput{name: "WriteAt/read-only region", want: []error{ErrFault, fs.ErrPermission}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), Read, Private).WriteAt(make([]byte, 1), 0)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "ReadAt/inaccessible region", want: []error{ErrFault, fs.ErrPermission}, run: func(t *testing.T) error {
			n, err := mapAnon(t, PageSize(), 0, Private).ReadAt(make([]byte, 1), 0)
			checkN(t, n, 0)
			return err
		}},
		badInput{name: "FlushRange/negative offset", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Shared).FlushRange(-1, 1)
		}},
		badInput{name: "FlushRange/negative length", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Shared).FlushRange(0, -1)
		}},
		badInput{name: "FlushRange/past end", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Shared).FlushRange(1, ps)
		}},
		badInput{name: "FlushRange/overflow", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			return mapAnon(t, PageSize(), Read, Shared).FlushRange(1, math.MaxInt)
		}},
	)
	if strconv.IntSize == 64 {
		// On 32-bit systems half the address space may well be free, so
		// the mapping could succeed there.
		// Windows refuses a size beyond the user address space either as
		// out of memory or as an invalid parameter (Wine does the latter):
		// either is fine there, checked in run.
		want := []error{errNoMemory}
		if runtime.GOOS == "windows" {
			want = nil
		}
		cases = append(cases, badInput{name: "Map/larger than the address space", want: want, op: opName("mmap", "VirtualAlloc"),
			run: func(t *testing.T) error {
				r, err := NewAnon(math.MaxInt&^(ps-1), Read|Write, Private|NoReserve)
				if unsupportedHere(err) {
					// Windows has no NoReserve for anonymous memory; the
					// commit fails just as well.
					r, err = NewAnon(math.MaxInt&^(ps-1), Read|Write, Private)
				}
				if err != nil {
					t.Fatal(err)
				}
				err = r.Map()
				if err == nil {
					r.Unmap()
				}
				if runtime.GOOS == "windows" && !errors.Is(err, errNoMemory) && !errors.Is(err, fs.ErrInvalid) {
					t.Errorf("Map of %d bytes: %v, want an error matching ENOMEM or fs.ErrInvalid", r.Len(), err)
				}
				return err
			}})
	}
	// Every method that needs the mapping, after Unmap.
	afterUnmap := []struct {
		name string
		call func(r *Region) error
	}{
		{"Unmap", (*Region).Unmap},
		{"Close", (*Region).Close},
		{"Flush", (*Region).Flush},
		{"FlushAsync", (*Region).FlushAsync},
		{"FlushRange", func(r *Region) error { return r.FlushRange(0, 1) }},
		{"Advise", func(r *Region) error { return r.Advise(WillNeed) }},
		{"Lock", (*Region).Lock},
		{"Unlock", (*Region).Unlock},
		{"Protect", func(r *Region) error { return r.Protect(Read) }},
		{"Resident", func(r *Region) error {
			res, err := r.Resident()
			if res != nil {
				return fmt.Errorf("Resident returned %d entries with error %w", len(res), err)
			}
			return err
		}},
		{"ReadAt", func(r *Region) error {
			n, err := r.ReadAt(make([]byte, 1), 0)
			if n != 0 {
				return fmt.Errorf("ReadAt returned n = %d with error %w", n, err)
			}
			return err
		}},
		{"WriteAt", func(r *Region) error {
			n, err := r.WriteAt(make([]byte, 1), 0)
			if n != 0 {
				return fmt.Errorf("WriteAt returned n = %d with error %w", n, err)
			}
			return err
		}},
	}
	for _, m := range afterUnmap {
		cases = append(cases, badInput{name: "after Unmap/" + m.name, want: []error{ErrNotMapped}, run: func(t *testing.T) error {
			r := unmappedRegion(t)
			err := m.call(r)
			if b := r.Bytes(); b != nil {
				t.Errorf("Bytes after Unmap and %s: got %d bytes, want nil", m.name, len(b))
			}
			if r.Mapped() {
				t.Errorf("Mapped after Unmap and %s: got true", m.name)
			}
			return err
		}})
	}
	return append(cases, systemBadInputs...)
}

func TestBadInputs(t *testing.T) {
	cases := badInputs()
	if len(cases) < 25 {
		t.Fatalf("only %d bad inputs in the table", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if e := recover(); e != nil {
						t.Fatalf("panicked: %v", e)
					}
				}()
				err = c.run(t)
			}()
			checkErr(t, c.name, err, c.op, c.want...)
			if !classified(err) {
				t.Errorf("%s: error %q matches none of the documented classes", c.name, err)
			}
		})
	}
}

func TestAlign(t *testing.T) {
	ps, g := PageSize(), int64(Granularity())
	if ps <= 0 || ps&(ps-1) != 0 {
		t.Fatalf("PageSize() = %d, want a positive power of two", ps)
	}
	if g < int64(ps) || g%int64(ps) != 0 {
		t.Fatalf("Granularity() = %d, want a multiple of PageSize() = %d", g, ps)
	}
	for _, c := range []struct{ in, want int64 }{
		{0, 0}, {1, 0}, {g - 1, 0}, {g, g}, {g + 1, g}, {-1, -g}, {-g, -g}, {math.MaxInt64, math.MaxInt64 - (g - 1)},
	} {
		if got := AlignOffset(c.in); got != c.want {
			t.Errorf("AlignOffset(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want int }{
		{0, 0}, {1, ps}, {ps, ps}, {ps + 1, 2 * ps}, {math.MaxInt &^ (ps - 1), math.MaxInt &^ (ps - 1)},
	} {
		if got := AlignLength(c.in); got != c.want {
			t.Errorf("AlignLength(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, n := range []int{-1, math.MinInt, math.MaxInt, math.MaxInt - ps + 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AlignLength(%d) did not panic", n)
				}
			}()
			AlignLength(n)
		}()
	}
}

// optionalAnonFlags returns the optional flags that anonymous regions can be
// mapped with on this system: flags that the system refuses (with
// ErrUnsupported, or an error of the operating system such as the mlock
// limit) are left out.
func optionalAnonFlags(t *testing.T) []Flag {
	flags := []Flag{Populate, Guard}
	for _, f := range []Flag{NoReserve, Locked, HugePages, Secret} {
		r, err := NewAnon(PageSize(), Read|Write, Private|f)
		if err == nil {
			err = r.Map()
			r.Unmap()
		}
		var pe *fs.PathError
		switch {
		case err == nil:
			flags = append(flags, f)
		case errors.Is(err, errors.ErrUnsupported) || errors.As(err, &pe):
			t.Logf("leaving out %v: %v", f, err)
		default:
			t.Fatalf("probing %v: unclassified error %v", f, err)
		}
	}
	return flags
}

// TestAnonZeroProperty maps anonymous regions of random sizes, protections
// and flags: each is page-aligned and entirely zero, also when mapped again
// after it was written to and unmapped.
func TestAnonZeroProperty(t *testing.T) {
	ps := PageSize()
	optional := optionalAnonFlags(t)
	rapid.Check(t, func(rt *rapid.T) {
		pages := rapid.IntRange(1, 64).Draw(rt, "pages")
		prot := rapid.SampledFrom([]Prot{0, Read, Write, Read | Write, Read | Exec}).Draw(rt, "prot")
		flags := rapid.SampledFrom([]Flag{Shared, Private}).Draw(rt, "sharing")
		for _, f := range optional {
			if (f == Secret && flags&Shared != 0) || (f&(Locked|Secret) != 0 && prot == 0) {
				continue
			}
			if rapid.Bool().Draw(rt, f.String()) {
				flags |= f
			}
		}
		r, err := NewAnon(pages*ps, prot, flags)
		if errors.Is(err, errors.ErrUnsupported) && flags&HugePages != 0 {
			// Huge pages may be disabled for one kind of memory (shared
			// memory here); NewAnon says so rather than ignoring the flag.
			return
		}
		if err != nil {
			rt.Fatalf("NewAnon(%d, %v, %v): %v", pages*ps, prot, flags, err)
		}
		for round := range 3 {
			if err := r.Map(); err != nil {
				rt.Fatalf("round %d: Map: %v", round, err)
			}
			if got := r.Prot(); got != prot {
				rt.Errorf("round %d: Prot() = %v after Map, want %v", round, got, prot)
			}
			b := r.Bytes()
			if len(b) != pages*ps || r.Len() != pages*ps {
				rt.Fatalf("round %d: len(Bytes()) = %d, Len() = %d, want %d", round, len(b), r.Len(), pages*ps)
			}
			align := ps
			if flags&HugePages != 0 {
				align = hugePageSize()
			}
			if addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))); addr%uintptr(align) != 0 {
				rt.Errorf("round %d: Bytes() at %#x, not aligned to %d", round, addr, align)
			}
			if prot&(Read|Write) == 0 {
				if err := r.Protect(Read); err != nil {
					rt.Fatalf("Protect(Read): %v", err)
				}
			}
			if i := firstNonZero(b); i >= 0 {
				rt.Fatalf("round %d: byte %d is %#x, want 0", round, i, b[i])
			}
			// Dirty a random part before unmapping, so that the next
			// round shows Map gives fresh pages.
			if prot&Write == 0 {
				if err := r.Protect(Read | Write); err != nil {
					rt.Fatalf("Protect(Read|Write): %v", err)
				}
			}
			off := rapid.IntRange(0, pages*ps-1).Draw(rt, "dirty offset")
			data := pattern(ps, byte(round)|1)
			n, err := r.WriteAt(data, int64(off))
			if want := min(len(data), pages*ps-off); n != want {
				rt.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want %d", len(data), off, n, err, want)
			}
			if err := r.Unmap(); err != nil {
				rt.Fatalf("round %d: Unmap: %v", round, err)
			}
		}
	})
}

// sharedFileModel drives a shared file region with random operations and checks
// it against a plain copy of what the region holds.
type sharedFileModel struct {
	r      *Region
	f      *os.File
	off    int64  // region offset in the file
	model  []byte // what the region holds
	file   []byte // the file's original bytes; those outside the region never change
	ps     int
	length int
}

// checkFile checks that the file holds the model's bytes in [from, to) of
// the region, and its original bytes outside the region. The rest of the
// region may or may not have reached the file yet.
func (m *sharedFileModel) checkFile(t *rapid.T, from, to int) {
	got := make([]byte, len(m.file))
	if n, err := m.f.ReadAt(got, 0); n != len(got) {
		t.Fatalf("reading the file: %d bytes, %v", n, err)
	}
	start, end := int(m.off), int(m.off)+m.length
	if !bytes.Equal(got[:start], m.file[:start]) || !bytes.Equal(got[end:], m.file[end:]) {
		t.Fatalf("file bytes outside the region changed (-want +got):\n%s", diff(got, m.file))
	}
	if g, w := got[start+from:start+to], m.model[from:to]; !bytes.Equal(g, w) {
		t.Fatalf("file bytes [%d, %d) of the region differ from the model after flushing them (-want +got):\n%s", from, to, diff(g, w))
	}
}

func (m *sharedFileModel) offset(t *rapid.T, label string) int64 {
	return int64(rapid.IntRange(-2, m.length+2).Draw(t, label))
}

func (m *sharedFileModel) writeAt(t *rapid.T) {
	off := m.offset(t, "write offset")
	data := pattern(rapid.IntRange(0, 2*m.ps+1).Draw(t, "write length"), rapid.Byte().Draw(t, "write seed"))
	n, err := m.r.WriteAt(data, off)
	switch {
	case off < 0:
		if n != 0 || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want 0, fs.ErrInvalid", len(data), off, n, err)
		}
	case len(data) == 0:
		if n != 0 || err != nil {
			t.Fatalf("WriteAt(0 bytes, %d) = %d, %v; want 0, nil", off, n, err)
		}
	default:
		want := 0
		if off < int64(m.length) {
			want = copy(m.model[off:], data)
		}
		if n != want {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want %d", len(data), off, n, err, want)
		}
		if (want < len(data)) != errors.Is(err, io.ErrShortWrite) || (want == len(data) && err != nil) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v; want io.ErrShortWrite exactly when short", len(data), off, n, err)
		}
	}
}

func (m *sharedFileModel) readAt(t *rapid.T) {
	off := m.offset(t, "read offset")
	buf := make([]byte, rapid.IntRange(0, 2*m.ps+1).Draw(t, "read length"))
	n, err := m.r.ReadAt(buf, off)
	if off < 0 {
		if n != 0 || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want 0, fs.ErrInvalid", len(buf), off, n, err)
		}
		return
	}
	var want []byte
	if off < int64(m.length) {
		want = m.model[off:min(int(off)+len(buf), m.length)]
	}
	wantErr := error(nil)
	if len(want) < len(buf) {
		wantErr = io.EOF
	}
	if n != len(want) || err != wantErr {
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; want %d, %v", len(buf), off, n, err, len(want), wantErr)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("ReadAt(%d bytes, %d) differs from the model (-want +got):\n%s", len(buf), off, diff(buf[:n], want))
	}
}

func (m *sharedFileModel) flush(t *rapid.T) {
	if err := m.r.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	m.checkFile(t, 0, m.length)
}

func (m *sharedFileModel) flushRange(t *rapid.T) {
	off := rapid.IntRange(0, m.length).Draw(t, "flush offset")
	n := rapid.IntRange(0, m.length-off).Draw(t, "flush length")
	if err := m.r.FlushRange(off, n); err != nil {
		t.Fatalf("FlushRange(%d, %d): %v", off, n, err)
	}
	m.checkFile(t, off, off+n)
}

func (m *sharedFileModel) remap(t *rapid.T) {
	if err := m.r.Unmap(); err != nil {
		t.Fatalf("Unmap: %v", err)
	}
	if err := m.r.Map(); err != nil {
		t.Fatalf("Map: %v", err)
	}
	// Unmapping writes nothing back by itself, but the file and the
	// mapping share the page cache: what was written is what Map finds.
}

func (m *sharedFileModel) check(t *rapid.T) {
	if got := m.r.Bytes(); !bytes.Equal(got, m.model) {
		t.Fatalf("Bytes() differs from the model (-want +got):\n%s", diff(got, m.model))
	}
	got := make([]byte, m.length)
	if n, err := m.r.ReadAt(got, 0); n != m.length || err != nil {
		t.Fatalf("ReadAt of the whole region = %d, %v; want %d, nil", n, err, m.length)
	}
	if !bytes.Equal(got, m.model) {
		t.Fatalf("ReadAt of the whole region differs from the model (-want +got):\n%s", diff(got, m.model))
	}
}

// TestSharedFileModel is a state machine: a shared file region at a random
// offset, of a random length (a page multiple, or ending at the end of the
// file), driven with WriteAt, ReadAt, Flush, FlushRange, Unmap and Map, and
// checked after every step against a []byte model and the file's bytes.
func TestSharedFileModel(t *testing.T) {
	ps, g := PageSize(), Granularity()
	dir := tempDir(t)
	rapid.Check(t, func(rt *rapid.T) {
		off := int64(rapid.IntRange(0, 2).Draw(rt, "offset granules") * g)
		length := rapid.IntRange(1, 4*ps).Draw(rt, "length")
		size := off + int64(length)
		if length%ps == 0 {
			size += int64(rapid.IntRange(0, 2*ps).Draw(rt, "bytes after the region"))
		}
		content := pattern(int(size), rapid.Byte().Draw(rt, "seed"))
		f, err := os.CreateTemp(dir, "model")
		if err != nil {
			rt.Fatal(err)
		}
		rt.Cleanup(func() {
			f.Close()
			os.Remove(f.Name())
		})
		if _, err := f.Write(content); err != nil {
			rt.Fatal(err)
		}
		r, err := NewFile(f, off, length, Read|Write, Shared)
		if err != nil {
			rt.Fatalf("NewFile(%d, %d) of a %d-byte file: %v", off, length, size, err)
		}
		if err := r.Map(); err != nil {
			rt.Fatalf("Map: %v", err)
		}
		rt.Cleanup(func() { r.Unmap() })
		m := &sharedFileModel{r: r, f: f, off: off, ps: ps, length: length,
			model: bytes.Clone(content[off : off+int64(length)]), file: content}
		rt.Repeat(map[string]func(*rapid.T){
			"WriteAt":    m.writeAt,
			"ReadAt":     m.readAt,
			"Flush":      m.flush,
			"FlushRange": m.flushRange,
			"Remap":      m.remap,
			"":           m.check,
		})
		m.flush(rt)
	})
}

func TestPrivateWritesStayPrivate(t *testing.T) {
	ps := PageSize()
	data := pattern(2*ps+100, 11)
	r, f, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Private)
	shared, err := NewFile(f, 0, len(data), Read, Shared)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Map(); err != nil {
		t.Fatal(err)
	}
	defer shared.Unmap()

	write := pattern(ps, 200)
	if n, err := r.WriteAt(write, int64(ps/2)); n != len(write) || err != nil {
		t.Fatalf("WriteAt = %d, %v; want %d, nil", n, err, len(write))
	}
	r.Bytes()[len(data)-1] ^= 0xff
	want := bytes.Clone(data)
	copy(want[ps/2:], write)
	want[len(data)-1] ^= 0xff
	if got := r.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("private region does not hold its writes (-want +got):\n%s", diff(got, want))
	}
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush of a private region: %v", err)
	}
	if err := r.FlushRange(0, len(data)); err != nil {
		t.Fatalf("FlushRange of a private region: %v", err)
	}
	if got := readFile(t, name); !bytes.Equal(got, data) {
		t.Fatalf("private writes reached the file (-want +got):\n%s", diff(got, data))
	}
	if got := shared.Bytes(); !bytes.Equal(got, data) {
		t.Fatalf("private writes reached a shared mapping (-want +got):\n%s", diff(got, data))
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	if got := r.Bytes(); !bytes.Equal(got, data) {
		t.Fatalf("private region mapped again does not show the file (-want +got):\n%s", diff(got, data))
	}
}

func TestSharedWritesReachFile(t *testing.T) {
	ps := PageSize()
	data := pattern(3*ps+7, 13)
	r, _, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	want := bytes.Clone(data)
	for i, off := range []int{0, ps - 3, 2*ps + 1, len(data) - 5} {
		p := pattern(5, byte(100+i))
		if n, err := r.WriteAt(p, int64(off)); n != len(p) || err != nil {
			t.Fatalf("WriteAt(%d) = %d, %v", off, n, err)
		}
		copy(want[off:], p)
	}
	if err := r.FlushAsync(); err != nil {
		t.Fatalf("FlushAsync: %v", err)
	}
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := readFile(t, name); !bytes.Equal(got, want) {
		t.Fatalf("file after Flush (-want +got):\n%s", diff(got, want))
	}
	// Anonymous regions have nothing to flush.
	a := mapAnon(t, PageSize(), Read|Write, Shared)
	for _, fn := range []func() error{a.Flush, a.FlushAsync, func() error { return a.FlushRange(1, 2) }} {
		if err := fn(); err != nil {
			t.Errorf("flushing an anonymous region: %v", err)
		}
	}
}

func TestFlushRange(t *testing.T) {
	ps := PageSize()
	data := pattern(4*ps, 17)
	r, _, name := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	for _, c := range []struct{ off, n int }{
		{0, 0}, {len(data), 0}, {0, len(data)}, {1, len(data) - 1}, {ps - 1, 2}, {ps, ps}, {3*ps + 1, ps - 1},
	} {
		p := pattern(max(c.n, 1), byte(c.off))[:c.n]
		if n, err := r.WriteAt(p, int64(c.off)); n != c.n || (err != nil && c.n > 0) {
			t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", c.n, c.off, n, err)
		}
		if err := r.FlushRange(c.off, c.n); err != nil {
			t.Errorf("FlushRange(%d, %d): %v", c.off, c.n, err)
		}
		copy(data[c.off:], p)
	}
	if got := readFile(t, name); !bytes.Equal(got, data) {
		t.Fatalf("file after FlushRange (-want +got):\n%s", diff(got, data))
	}
	for _, c := range []struct{ off, n int }{
		{-1, 0}, {0, -1}, {len(data) + 1, 0}, {len(data), 1}, {1, len(data)}, {math.MaxInt, 1}, {1, math.MaxInt}, {math.MinInt, 0},
	} {
		checkErr(t, fmt.Sprintf("FlushRange(%d, %d)", c.off, c.n), r.FlushRange(c.off, c.n), "", fs.ErrInvalid)
	}
}

func TestOpenEmptyFile(t *testing.T) {
	_, name := patternFile(t, 0, 0, os.O_RDONLY)
	r, err := Open(name)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	if r.Len() != 0 || !r.Mapped() {
		t.Errorf("Len() = %d, Mapped() = %v; want 0, true", r.Len(), r.Mapped())
	}
	if b := r.Bytes(); b == nil || len(b) != 0 {
		t.Errorf("Bytes() = %v (nil: %v), want an empty non-nil slice", b, b == nil)
	}
	if n, err := r.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := r.ReadAt(nil, 0); n != 0 || err != nil {
		t.Errorf("ReadAt of nothing = %d, %v; want 0, nil", n, err)
	}
	if res, err := r.Resident(); len(res) != 0 || err != nil {
		t.Errorf("Resident = %v, %v; want no pages", res, err)
	}
	if err := r.Flush(); err != nil {
		t.Errorf("Flush: %v", err)
	}
	if r.Prot() != Read || r.Flags() != Shared {
		t.Errorf("Prot() = %v, Flags() = %v; want Read, Shared", r.Prot(), r.Flags())
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if b := r.Bytes(); b != nil {
		t.Errorf("Bytes() after Close = %v, want nil", b)
	}
	checkErr(t, "Map after Close", r.Map(), "", fs.ErrClosed)
	checkErr(t, "Unmap after Close", r.Unmap(), "", ErrNotMapped)
}

func TestOpenPartialPage(t *testing.T) {
	ps := PageSize()
	for _, size := range []int{1, ps - 1, ps, ps + 1, 3*ps + 123} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			data := pattern(size, byte(size))
			_, name := patternFile(t, int64(size), byte(size), os.O_RDONLY)
			r, err := Open(name)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if got := r.Bytes(); !bytes.Equal(got, data) {
				t.Fatalf("Bytes() of a %d-byte file: %d bytes (-want +got):\n%s", size, len(got), diff(got, data))
			}
			if r.Len() != size || r.Offset() != 0 || r.Prot() != Read || r.Flags() != Shared {
				t.Errorf("Len, Offset, Prot, Flags = %d, %d, %v, %v; want %d, 0, Read, Shared", r.Len(), r.Offset(), r.Prot(), r.Flags(), size)
			}
			if r.File() != nil {
				t.Errorf("File() of a region from Open is not nil")
			}
			checkErr(t, "WriteAt", func() error { _, err := r.WriteAt([]byte{1}, 0); return err }(), "", ErrFault, fs.ErrPermission)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			checkErr(t, "Map after Close", r.Map(), "", fs.ErrClosed)
		})
	}
}

func TestResident(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, 4*PageSize(), Read|Write, Private)
	for _, page := range []int{0, 2} {
		if _, err := r.WriteAt([]byte{1}, int64(page*ps)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Resident()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("Resident: %v", err)
	}
	if err != nil {
		t.Fatalf("Resident: %v", err)
	}
	// Pages never touched are not in memory: anonymous memory is allocated
	// on the first access.
	if want := []bool{true, false, true, false}; !slices.Equal(res, want) {
		t.Errorf("Resident() = %v, want %v", res, want)
	}

	data := pattern(3*ps+5, 3)
	skipUnderLargePages(t, "qemu-user maps a file only up to the end of the host page that holds the file's end, "+
		"so mincore of the rest of the guest's last page fails (ENOMEM)")
	fr, _, _ := mapFile(t, data, os.O_RDONLY, 0, len(data), Read, Shared|Populate)
	res, err = fr.Resident()
	if err != nil {
		t.Fatalf("Resident of a file region: %v", err)
	}
	if want := []bool{true, true, true, true}; !slices.Equal(res, want) {
		t.Errorf("Resident() of a populated file region = %v, want %v", res, want)
	}
}

func TestAdvise(t *testing.T) {
	ps := PageSize()
	data := pattern(2*ps, 21)
	fr, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	for a := Normal; a <= Free; a++ {
		r := mapAnon(t, 2*PageSize(), Read|Write, Private)
		if _, err := r.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		err := r.Advise(a)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Advise(%v) of anonymous memory: %v", a, err)
			continue
		}
		if err != nil {
			t.Logf("Advise(%v): %v", a, err)
		}
		// Only DontNeed and Free may drop the contents; Free only under
		// memory pressure, when the page reads as zeros.
		got := r.Bytes()
		switch {
		case a == DontNeed && err == nil:
			if i := firstNonZero(got); i >= 0 {
				t.Errorf("after Advise(DontNeed) anonymous byte %d = %#x, want 0", i, got[i])
			}
		case a == Free:
		default:
			if !bytes.Equal(got, data) {
				t.Errorf("Advise(%v) changed the contents", a)
			}
		}
		if a == Free {
			continue // Free is for anonymous memory only.
		}
		if err := fr.Advise(a); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Advise(%v) of a shared file region: %v", a, err)
		}
		if got := fr.Bytes(); !bytes.Equal(got, data) {
			t.Errorf("Advise(%v) changed the contents of a shared file region", a)
		}
	}
}

func TestLockUnlock(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, 4*PageSize(), Read|Write, Private)
	if err := r.Lock(); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && (errors.Is(err, syscall.EPERM) || errors.Is(err, errNoMemory)) {
			t.Skipf("Lock: %v (RLIMIT_MEMLOCK)", err)
		}
		t.Fatalf("Lock: %v", err)
	}
	if res, err := r.Resident(); err == nil {
		for i, in := range res {
			if !in {
				t.Errorf("page %d not resident after Lock", i)
			}
		}
	} else if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Resident: %v", err)
	}
	if n, err := r.WriteAt(pattern(4*ps, 1), 0); n != 4*ps || err != nil {
		t.Errorf("WriteAt to a locked region = %d, %v", n, err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := r.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

func TestProtect(t *testing.T) {
	ps := PageSize()
	data := pattern(2*ps, 23)
	for _, flags := range []Flag{Shared, Private} {
		t.Run(flags.String(), func(t *testing.T) {
			r, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, flags)
			for _, p := range []Prot{Read, 0, Read | Write, Write, Read} {
				if err := r.Protect(p); err != nil {
					t.Fatalf("Protect(%v): %v", p, err)
				}
				if got := r.Prot(); got != p {
					t.Errorf("Prot() after Protect(%v) = %v", p, got)
				}
				_, werr := r.WriteAt([]byte{9}, 1)
				if (werr == nil) != (p&Write != 0) {
					t.Errorf("WriteAt with protection %v: %v", p, werr)
				}
				_, rerr := r.ReadAt(make([]byte, 1), 1)
				if (rerr == nil) != (p&(Read|Write) != 0) {
					t.Errorf("ReadAt with protection %v: %v", p, rerr)
				}
			}
			if err := r.Unmap(); err != nil {
				t.Fatal(err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			if got := r.Prot(); got != Read|Write {
				t.Errorf("Prot() after Map = %v, want the original %v", got, Read|Write)
			}
			if _, err := r.WriteAt([]byte{7}, 0); err != nil {
				t.Errorf("WriteAt after Map restored the protection: %v", err)
			}
		})
	}
}

// TestReadAtDuringUnmap runs 8 goroutines calling ReadAt while another
// unmaps and maps the region again, round after round: every call returns
// the file's data or ErrNotMapped. Each round waits until a reader has seen
// the region unmapped, and then mapped again, so that both happen.
func TestReadAtDuringUnmap(t *testing.T) {
	ps := PageSize()
	data := pattern(4*ps+100, 29)
	r, _, _ := mapFile(t, data, os.O_RDONLY, 0, len(data), Read, Shared)
	var (
		hits, misses atomic.Int64
		stop         atomic.Bool
		failed       atomic.Int64
		wg           sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 100+g*ps/4)
			// Offsets step by 977 bytes, kept modulo the range so that
			// nothing overflows an int of 32 bits however long it runs.
			span := len(data) - len(buf) + 1
			next := g * 131 % span
			for !stop.Load() {
				off := next
				next = (next + 977) % span
				clear(buf)
				n, err := r.ReadAt(buf, int64(off))
				switch {
				case err == nil && n == len(buf) && bytes.Equal(buf, data[off:off+n]):
					hits.Add(1)
				case errors.Is(err, ErrNotMapped) && n == 0:
					misses.Add(1)
				default:
					if failed.Add(1) <= 3 {
						t.Errorf("goroutine %d: ReadAt(%d bytes, %d) = %d, %v; want the data or ErrNotMapped", g, len(buf), off, n, err)
					}
				}
				// Let the goroutine that maps and unmaps run often,
				// rather than at the next preemption.
				runtime.Gosched()
			}
		})
	}
	waitFor := func(c *atomic.Int64, what string) bool {
		start, deadline := c.Load(), time.Now().Add(10*time.Second)
		for c.Load() == start {
			if time.Now().After(deadline) {
				t.Errorf("no reader saw %s within 10s", what)
				return false
			}
			runtime.Gosched()
		}
		return true
	}
	for round := 0; round < 500 && !t.Failed(); round++ {
		if err := r.Unmap(); err != nil {
			t.Fatalf("round %d: Unmap: %v", round, err)
		}
		if !waitFor(&misses, "the region unmapped") {
			break
		}
		if err := r.Map(); err != nil {
			t.Fatalf("round %d: Map: %v", round, err)
		}
		if !waitFor(&hits, "the region mapped") {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads returned data, %d returned ErrNotMapped", hits.Load(), misses.Load())
}

// TestReadWriteParallel runs ReadAt and WriteAt from 8 goroutines at once:
// each writes its own page and reads it back, and reads a page nobody
// writes.
func TestReadWriteParallel(t *testing.T) {
	ps := PageSize()
	const workers = 8
	fixed := pattern(ps, 31)
	r := mapAnon(t, (workers+1)*PageSize(), Read|Write, Shared)
	if _, err := r.WriteAt(fixed, int64(workers*ps)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			buf := make([]byte, ps)
			for i := range 200 {
				p := pattern(ps, byte(g*37+i))
				if n, err := r.WriteAt(p, int64(g*ps)); n != ps || err != nil {
					t.Errorf("goroutine %d: WriteAt = %d, %v", g, n, err)
					return
				}
				if n, err := r.ReadAt(buf, int64(g*ps)); n != ps || err != nil || !bytes.Equal(buf, p) {
					t.Errorf("goroutine %d: ReadAt of its own page = %d, %v, equal %v", g, n, err, bytes.Equal(buf, p))
					return
				}
				if n, err := r.ReadAt(buf, int64(workers*ps)); n != ps || err != nil || !bytes.Equal(buf, fixed) {
					t.Errorf("goroutine %d: ReadAt of the fixed page = %d, %v, equal %v", g, n, err, bytes.Equal(buf, fixed))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestMapAllocs checks that mapping a Region again allocates nothing.
func TestMapAllocs(t *testing.T) {
	data := pattern(2*PageSize()+1, 37)
	fr, _, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, Shared)
	for _, c := range []struct {
		name string
		r    *Region
	}{
		{"anonymous", mapAnon(t, 2*PageSize(), Read|Write, Private)},
		{"file", fr},
	} {
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			if e := c.r.Unmap(); e != nil && err == nil {
				err = e
			}
			if e := c.r.Map(); e != nil && err == nil {
				err = e
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if allocs != 0 {
			t.Errorf("%s: Unmap and Map allocate %v times, want 0", c.name, allocs)
		}
	}
}

// TestAdviseContents checks what DontNeed and Free do to the data of each
// kind of region, as the Advice docs say.
func TestAdviseContents(t *testing.T) {
	ps := PageSize()
	file := pattern(2*ps, 51)
	written := pattern(2*ps, 52)
	zeros := make([]byte, 2*ps)
	for _, c := range []struct {
		name        string
		anon        bool
		flags       Flag
		dontNeed    []byte // contents after DontNeed
		freeRefused bool   // Free is refused with fs.ErrInvalid
	}{
		{"shared file", false, Shared, written, true},
		{"private file", false, Private, file, true},
		{"shared anonymous", true, Shared, written, true},
		{"private anonymous", true, Private, zeros, false},
	} {
		if runtime.GOOS == "windows" && c.anon {
			// Shared and Private anonymous memory are the same there, as
			// the package documents: both lose their contents.
			c.dontNeed, c.freeRefused = zeros, false
		}
		t.Run(c.name, func(t *testing.T) {
			var r *Region
			if c.anon {
				r = mapAnon(t, 2*PageSize(), Read|Write, c.flags)
			} else {
				r, _, _ = mapFile(t, file, os.O_RDWR, 0, len(file), Read|Write, c.flags)
			}
			if _, err := r.WriteAt(written, 0); err != nil {
				t.Fatal(err)
			}
			err := r.Advise(DontNeed)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("DontNeed: %v", err)
			}
			if err != nil {
				t.Fatalf("Advise(DontNeed): %v", err)
			}
			if got := r.Bytes(); !bytes.Equal(got, c.dontNeed) {
				t.Errorf("contents after DontNeed (-want +got):\n%s", diff(got, c.dontNeed))
			}
			if _, err := r.WriteAt(written, 0); err != nil {
				t.Fatal(err)
			}
			err = r.Advise(Free)
			switch {
			case errors.Is(err, errors.ErrUnsupported):
			case c.freeRefused && err == nil && emulated():
				// qemu-user ignores madvise, so MADV_FREE of shared
				// memory does not fail with EINVAL as on Linux.
			case c.freeRefused:
				checkErr(t, "Advise(Free)", err, "madvise", fs.ErrInvalid)
			case err != nil:
				t.Errorf("Advise(Free): %v", err)
			default:
				// Each page keeps its contents until memory is short,
				// and reads as zeros once the kernel has taken it.
				b := r.Bytes()
				for off := 0; off < len(b); off += ps {
					page := b[off : off+ps]
					if !bytes.Equal(page, written[off:off+ps]) && firstNonZero(page) >= 0 {
						t.Errorf("page at %d after Free holds neither its contents nor zeros", off)
					}
				}
			}
		})
	}
}
