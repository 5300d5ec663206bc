// This file tests the constructors, Map and Open: the arguments each refuses
// and why, the offsets and lengths a file region may have, and what a
// region holds once mapped and mapped again.

package mmap

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
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
			return mapAnon(t, PageSize(), Read, Private).Advise(PopulateWrite + 1)
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
	// ReadAt and WriteAt of a page: how many bytes each copies, and why it
	// stops.
	for _, c := range []struct {
		name  string
		write bool
		prot  Prot
		size  int
		off   int64
		n     int
		want  []error
	}{
		{"ReadAt/negative offset", false, Read, 1, -1, 0, []error{fs.ErrInvalid}},
		{"ReadAt/min offset", false, Read, 1, math.MinInt64, 0, []error{fs.ErrInvalid}},
		{"ReadAt/at end", false, Read, 1, int64(ps), 0, []error{io.EOF}},
		{"ReadAt/far past end", false, Read, 1, math.MaxInt64, 0, []error{io.EOF}},
		{"ReadAt/across end", false, Read, 10, int64(ps - 4), 4, []error{io.EOF}},
		{"WriteAt/negative offset", true, Read | Write, 1, -1, 0, []error{fs.ErrInvalid}},
		{"WriteAt/at end", true, Read | Write, 1, int64(ps), 0, []error{io.ErrShortWrite}},
		{"WriteAt/far past end", true, Read | Write, 1, math.MaxInt64, 0, []error{io.ErrShortWrite}},
		{"WriteAt/across end", true, Read | Write, 10, int64(ps - 4), 4, []error{io.ErrShortWrite}},
		{"WriteAt/read-only region", true, Read, 1, 0, 0, []error{ErrFault, fs.ErrPermission}},
		{"ReadAt/inaccessible region", false, 0, 1, 0, 0, []error{ErrFault, fs.ErrPermission}},
	} {
		cases = append(cases, badInput{name: c.name, want: c.want, run: func(t *testing.T) error {
			r := mapAnon(t, PageSize(), c.prot, Private)
			copyAt := r.ReadAt
			if c.write {
				copyAt = r.WriteAt
			}
			n, err := copyAt(make([]byte, c.size), c.off)
			checkN(t, n, c.n)
			return err
		}})
	}
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
	for _, m := range mappingCalls {
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

func TestAnonRemappedIsZero(t *testing.T) {
	for _, flags := range []Flag{Private, Shared} {
		t.Run(flags.String(), func(t *testing.T) {
			r := mapAnon(t, 3*PageSize(), Read|Write, flags)
			want := pattern(r.Len(), 3)
			if n, err := r.WriteAt(want, 0); n != len(want) || err != nil {
				t.Fatalf("WriteAt = %d, %v; want %d, nil", n, err, len(want))
			}
			if got := readAll(t, r); !bytes.Equal(got, want) {
				t.Fatal("ReadAt does not return what WriteAt wrote")
			}
			if !bytes.Equal(r.Bytes(), want) {
				t.Fatal("Bytes does not hold what WriteAt wrote")
			}
			mustUnmap(t, r)
			if err := r.Unmap(); !errors.Is(err, ErrNotMapped) {
				t.Fatalf("second Unmap = %v, want ErrNotMapped", err)
			}
			if r.Bytes() != nil {
				t.Fatal("Bytes of an unmapped region is not nil")
			}
			mapRegion(t, r, nil)
			if got := readAll(t, r); !bytes.Equal(got, make([]byte, r.Len())) {
				t.Fatal("anonymous memory mapped again is not zero")
			}
			mustUnmap(t, r)
		})
	}
}

func TestOpenKeepsNoHandle(t *testing.T) {
	for _, size := range []int{0, 1, PageSize() + 123, 2 * PageSize()} {
		t.Run("", func(t *testing.T) {
			want := pattern(size, 11)
			name := filepath.Join(tempDir(t), "open")
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(name)
			if err != nil {
				t.Fatalf("Open of a %d-byte file: %v", size, err)
			}
			b := r.Bytes()
			if b == nil || r.Len() != size || !bytes.Equal(b, want) {
				t.Errorf("Open of a %d-byte file: Len %d, Bytes nil %v, equal %v", size, r.Len(), b == nil, bytes.Equal(b, want))
			}
			if size > 0 {
				if got := readAll(t, r); !bytes.Equal(got, want) {
					t.Error("ReadAt of an opened file does not return its contents")
				}
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := r.Map(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Map after Close of an opened region = %v, want fs.ErrClosed", err)
			}
			// Open keeps no handle: the file can go at once.
			if err := os.Remove(name); err != nil {
				t.Fatalf("removing the file after Close: %v", err)
			}
		})
	}
}

func TestNewFileOffsetAlignment(t *testing.T) {
	g, p := Granularity(), PageSize()
	data := pattern(3*g, 21)
	f, name := tempFile(t, data, os.O_RDONLY)
	// An offset that is a multiple of the page size but, where the two
	// differ, not of the granularity.
	_, err := NewFile(f, int64(p), p, Read, Shared)
	if g != p {
		if !errors.Is(err, ErrUnaligned) || !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("NewFile at offset %d with granularity %d = %v, want ErrUnaligned", p, g, err)
		}
	} else if err != nil {
		t.Fatalf("NewFile at offset %d: %v", p, err)
	}
	r, err := NewFile(f, int64(g), p, Read, Shared)
	if err != nil {
		t.Fatalf("NewFile at offset %d: %v", g, err)
	}
	mapRegion(t, r, nil)
	if !bytes.Equal(r.Bytes(), data[g:g+p]) {
		t.Fatalf("region at offset %d does not show the file's bytes there", g)
	}
	// The tail of the file: its length is not a whole number of pages.
	mustUnmap(t, r)
	tail := int64(2 * g)
	if _, err := f.Stat(); err != nil {
		t.Fatal(err)
	}
	r, err = NewFile(f, tail, len(data)-int(tail), Read, Private)
	if err != nil {
		t.Fatalf("NewFile of the file's last %d bytes: %v", len(data)-int(tail), err)
	}
	mapRegion(t, r, nil)
	if !bytes.Equal(r.Bytes(), data[tail:]) {
		t.Fatal("region of the file's tail does not show its bytes")
	}
	removeFile(t, f, name, r)
}

func TestUnmapReleasesFile(t *testing.T) {
	size := PageSize()
	cases := []struct {
		name  string
		flag  int
		prot  Prot
		flags Flag
	}{
		{"shared-rw", os.O_RDWR, Read | Write, Shared},
		{"shared-r", os.O_RDONLY, Read, Shared},
		{"shared-r-of-rw", os.O_RDWR, Read, Shared},
		{"private-rw", os.O_RDONLY, Read | Write, Private},
		{"private-none", os.O_RDONLY, 0, Private},
		{"private-exec", os.O_RDONLY, Read | Exec, Private},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, name := tempFile(t, pattern(size, 2), c.flag)
			r, err := NewFile(f, 0, size, c.prot, c.flags)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				err := r.Map()
				if c.prot&Exec != 0 && err != nil {
					// A file not opened for execution may refuse it;
					// what matters is that nothing stays open.
					t.Logf("Map with Exec: %v", err)
					break
				}
				if err != nil {
					t.Fatalf("Map: %v", err)
				}
				if c.prot&Read != 0 {
					sink = r.Bytes()[size-1]
				}
				if err := r.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				mustUnmap(t, r)
			}
			removeFile(t, f, name)
		})
	}
}

func TestNewFileChecksAccessMode(t *testing.T) {
	size := PageSize()
	ro, _ := tempFile(t, pattern(size, 0), os.O_RDONLY)
	if _, err := NewFile(ro, 0, size, Read|Write, Shared); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("shared writable region of a file open read-only: %v, want fs.ErrInvalid", err)
	}
	wo, _ := tempFile(t, pattern(size, 0), os.O_WRONLY)
	if _, err := NewFile(wo, 0, size, Read, Shared); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("region of a file open write-only: %v, want fs.ErrInvalid", err)
	}
	if _, err := NewFile(ro, 0, size, Read|Write, Private); err != nil {
		t.Errorf("private writable region of a file open read-only: %v", err)
	}
}

func TestNewFileTailPage(t *testing.T) {
	p := PageSize()
	g := Granularity()
	data := pattern(g+p+100, 3) // a tail of 100 bytes after the last whole page
	f, _ := tempFile(t, data, os.O_RDWR)
	cases := []struct {
		name   string
		off    int64
		length int
		want   error
	}{
		{"whole file", 0, len(data), nil},
		{"tail after an offset", int64(g), p + 100, nil},
		{"whole pages into the tail page", 0, AlignLength(len(data)), nil},
		{"short of the end, not whole pages", 0, len(data) - 1, ErrUnaligned},
		{"past the tail page", 0, AlignLength(len(data)) + p, ErrPastEOF},
		{"offset inside a granule", int64(g / 2), p, ErrUnaligned},
		{"offset past the end", AlignOffset(int64(len(data))) + int64(g), p, ErrPastEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewFile(f, c.off, c.length, Read, Shared)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("NewFile(%d, %d) of a %d-byte file, page size %d: err = %v, want %v", c.off, c.length, len(data), p, err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFile(%d, %d): %v", c.off, c.length, err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			defer r.Unmap()
			inFile := min(c.length, len(data)-int(c.off))
			b := r.Bytes()
			if len(b) != c.length || !bytes.Equal(b[:inFile], data[c.off:int(c.off)+inFile]) {
				t.Fatalf("Bytes() has %d bytes, not the file's %d bytes at %d", len(b), c.length, c.off)
			}
			for i, v := range b[inFile:] {
				if v != 0 {
					t.Fatalf("byte %d past the end of the file is %#x, want 0", inFile+i, v)
				}
			}
			got := make([]byte, c.length+1)
			if n, err := r.ReadAt(got, 0); n != c.length || err != io.EOF || !bytes.Equal(got[:n], b) {
				t.Fatalf("ReadAt past the end: n = %d, err = %v; want %d, io.EOF", n, err, c.length)
			}
		})
	}
}

// TestNewFileOffsetOverflow checks that an offset plus a length beyond int64
// is refused.
func TestNewFileOffsetOverflow(t *testing.T) {
	f, _ := tempFile(t, pattern(PageSize(), 1), os.O_RDONLY)
	g := int64(Granularity())
	top := int64(math.MaxInt64) &^ (g - 1)
	for _, c := range []struct {
		off    int64
		length int
	}{
		{top, PageSize()},
		{top, int(g)},
		{top - g, 2*int(g) + 1},
		{top, math.MaxInt &^ (PageSize() - 1)},
	} {
		if int64(AlignLength(c.length)) <= math.MaxInt64-c.off {
			// No overflow where the granularity is larger than a page
			// (Windows): top plus one page still fits in an int64.
			continue
		}
		// The overflow is found before the file's size is looked at.
		_, err := NewFile(f, c.off, c.length, Read, Shared)
		if !errors.Is(err, fs.ErrInvalid) || errors.Is(err, ErrPastEOF) || errors.Is(err, ErrUnaligned) {
			t.Errorf("NewFile(off %d, length %d): err = %v, want an overflow matching fs.ErrInvalid", c.off, c.length, err)
		}
	}
}

// TestCheckEOFNearMaxInt64 checks the end-of-file check for files whose size is
// close to the largest int64, where rounding the size up to a page would
// overflow.
func TestCheckEOFNearMaxInt64(t *testing.T) {
	p := PageSize()
	top := int64(math.MaxInt64) &^ int64(p-1) // the last page that starts below MaxInt64
	for _, c := range []struct {
		off    int64
		length int
		size   int64
		want   error
	}{
		{0, p, math.MaxInt64, nil},
		{0, p, math.MaxInt64 - 10, nil},
		{top, p, math.MaxInt64, nil},
		{top, p, top + 1, nil},
		{top, p, top - 1, ErrPastEOF},
		{top - int64(p), 2 * p, math.MaxInt64 - int64(p), ErrPastEOF},
	} {
		r := &Region{name: "test", off: c.off, length: c.length}
		if err := r.checkEOF(c.size); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("checkEOF of %d bytes at %d in a file of %d: err = %v, want %v", c.length, c.off, c.size, err, c.want)
		}
	}
}

// TestOpenFileLargerThanAddressSpace checks that Open refuses a file larger than the
// address space (any file over 2 GiB where int has 32 bits).
func TestOpenFileLargerThanAddressSpace(t *testing.T) {
	size := int64(math.MaxInt - PageSize() + 1)
	f := sparseFile(t, size)
	r, err := Open(f.Name())
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("Open of a %d-byte file: err = %v, want fs.ErrInvalid", size, err)
	}
}

// TestMapFarOffset maps a page beyond 4 GiB into a file, and one
// beyond 16 TiB (past what mmap2 can reach on 32-bit Linux): each either maps
// the right bytes or fails with fs.ErrInvalid, never maps another part of
// the file.
func TestMapFarOffset(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		skipUnderEmulator(t, "qemu-i386 7.2 cuts the file offsets of mmap2 to 32 bits")
	}
	for _, off := range []int64{1 << 32, 1 << 44} {
		off = AlignOffset(off)
		f := sparseFile(t, off+int64(PageSize()))
		want := pattern(64, byte(off>>32))
		if _, err := f.WriteAt(want, off); err != nil {
			t.Fatal(err)
		}
		r, err := NewFile(f, off, PageSize(), Read, Shared)
		if err != nil {
			t.Fatalf("NewFile at %d: %v", off, err)
		}
		if err := r.Map(); err != nil {
			if unsafe.Sizeof(uintptr(0)) == 8 && off < 1<<44 {
				t.Fatalf("Map at offset %d: %v; a 64-bit system reaches it", off, err)
			}
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Map at offset %d: err = %v, want nil or fs.ErrInvalid", off, err)
			}
			t.Logf("Map at offset %d: %v", off, err)
			continue
		}
		got := make([]byte, len(want))
		_, err = r.ReadAt(got, 0)
		r.Unmap()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadAt of the page at offset %d: %v, bytes %x, want %x", off, err, got, want)
		}
	}
}
