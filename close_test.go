package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
)

// mappingCalls are the methods that need the mapping, by name.
var mappingCalls = []struct {
	name string
	call func(r *Region) error
}{
	{"Unmap", (*Region).Unmap},
	{"Close", (*Region).Close},
	{"Flush", (*Region).Flush},
	{"FlushAsync", (*Region).FlushAsync},
	{"FlushRange", func(r *Region) error { return r.FlushRange(0, 1) }},
	{"FlushAsyncRange", func(r *Region) error { return r.FlushAsyncRange(0, 1) }},
	{"Advise", func(r *Region) error { return r.Advise(Normal) }},
	{"AdviseRange", func(r *Region) error { return r.AdviseRange(0, 1, Normal) }},
	{"Lock", (*Region).Lock},
	{"LockRange", func(r *Region) error { return r.LockRange(0, 1) }},
	{"Unlock", (*Region).Unlock},
	{"UnlockRange", func(r *Region) error { return r.UnlockRange(0, 1) }},
	{"Protect", func(r *Region) error { return r.Protect(Read) }},
	{"Resident", func(r *Region) error {
		res, err := r.Resident()
		if res != nil {
			return fmt.Errorf("Resident returned %d entries with error %w", len(res), err)
		}
		return err
	}},
	{"Resize", func(r *Region) error { return r.Resize(2 * PageSize()) }},
	{"Grow", func(r *Region) error { return r.Grow(2 * PageSize()) }},
	{"View", func(r *Region) error { _, err := View[byte](r, 0, 1); return err }},
	{"ReadAt", func(r *Region) error { return noBytes(r.ReadAt(make([]byte, 1), 0)) }},
	{"WriteAt", func(r *Region) error { return noBytes(r.WriteAt(make([]byte, 1), 0)) }},
	{"Access", func(r *Region) error { return r.Access(0, 1, func([]byte) error { return nil }) }},
}

// noBytes returns err, or an error that says n was not 0.
func noBytes(n int, err error) error {
	if n != 0 {
		return fmt.Errorf("%d bytes copied with error %w", n, err)
	}
	return err
}

// checkClosedErrors checks that every method that needs the mapping fails
// with an error matching ErrNotMapped, and matching fs.ErrClosed exactly
// when closed is true. Close itself is called only if closed is true,
// since it closes the region.
func checkClosedErrors(t *testing.T, r *Region, closed bool) {
	t.Helper()
	for _, c := range mappingCalls {
		if c.name == "Close" && !closed {
			continue
		}
		err := c.call(r)
		if !errors.Is(err, ErrNotMapped) || errors.Is(err, fs.ErrClosed) != closed {
			t.Errorf("%s = %v; want an error matching ErrNotMapped, and fs.ErrClosed: %v", c.name, err, closed)
		}
		// Code moved from golang.org/x/exp/mmap compares the text of its
		// error after Close (go-car's tests do).
		if closed && c.name == "ReadAt" && (err == nil || err.Error() != "mmap: closed") {
			t.Errorf("ReadAt after Close = %v, want the text \"mmap: closed\" of golang.org/x/exp/mmap", err)
		}
	}
}

func TestCloseErrorsMatchErrClosed(t *testing.T) {
	ps := PageSize()
	r, _, _ := mapFile(t, pattern(2*ps, 1), os.O_RDWR, 0, ps, Read|Write, Shared)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkClosedErrors(t, r, true)

	// Mapped again, then unmapped: not closed any more.
	if err := r.Map(); err != nil {
		t.Fatalf("Map after Close: %v", err)
	}
	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	checkClosedErrors(t, r, false)
}

func TestCloseOfUnmappedRegionIsClosed(t *testing.T) {
	r, err := NewAnon(PageSize(), Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); !errors.Is(err, ErrNotMapped) {
		t.Errorf("Close of a region never mapped = %v, want ErrNotMapped", err)
	}
	checkClosedErrors(t, r, true)
}

func TestSecondCloseMatchesErrClosed(t *testing.T) {
	ps := PageSize()
	_, name := tempFile(t, pattern(ps, 2), os.O_RDONLY)
	opened, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := NewSharedMemory("close", ps)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Logf("NewSharedMemory: %v; only the region of Open is checked", err)
		shared = nil
	} else if err != nil {
		t.Fatal(err)
	} else if err := shared.Map(); err != nil {
		t.Fatal(err)
	}
	for what, r := range map[string]*Region{"Open": opened, "NewSharedMemory": shared} {
		if r == nil {
			continue
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: Close: %v", what, err)
		}
		for _, c := range mappingCalls {
			if err := c.call(r); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("%s: %s after Close = %v, want fs.ErrClosed", what, c.name, err)
			}
		}
		if err := r.Close(); !errors.Is(err, fs.ErrClosed) || !errors.Is(err, ErrNotMapped) {
			t.Errorf("%s: second Close = %v, want an error matching fs.ErrClosed and ErrNotMapped", what, err)
		}
	}
}

func TestReservedReturnsReserveSize(t *testing.T) {
	ps := PageSize()
	r, err := NewAnon(ps, Read|Write, Private)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Reserved(); got != 0 {
		t.Errorf("Reserved without Reserve = %d, want 0", got)
	}
	if err := r.Reserve(16 * ps); err != nil {
		t.Fatal(err)
	}
	if err := r.Map(); err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
	if err := r.Resize(4 * ps); err != nil {
		t.Fatal(err)
	}
	if got := r.Reserved(); got != 16*ps {
		t.Errorf("Reserved after Reserve(%d), Map and Resize = %d", 16*ps, got)
	}
}
