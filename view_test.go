// This file tests View: the types it accepts and the bounds it checks.

package mmap

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"reflect"
	"testing"
	"unsafe"
)

// record is a fixed-size record of the kind View is for.
type record struct {
	ID    uint64
	Value float64
	Tag   [4]byte
	Flags uint32
}

func TestViewRefusesPointers(t *testing.T) {
	r := mapAnon(t, PageSize(), Read|Write, Private)
	type withString struct {
		ID   uint64
		Name string
	}
	type deep struct {
		A [2]struct {
			B uint32
			C [1]map[int]int
		}
	}
	check := func(name string, view func() (any, error)) {
		t.Run(name, func(t *testing.T) {
			v, err := view()
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("View = %v, want an error matching fs.ErrInvalid", err)
			}
			if !reflect.ValueOf(v).IsNil() {
				t.Errorf("View returned a slice %v with its error", v)
			}
		})
	}
	check("pointer", func() (any, error) { return View[*int](r, 0, 1) })
	check("string", func() (any, error) { return View[string](r, 0, 1) })
	check("slice", func() (any, error) { return View[[]byte](r, 0, 1) })
	check("map", func() (any, error) { return View[map[int]int](r, 0, 1) })
	check("interface", func() (any, error) { return View[any](r, 0, 1) })
	check("error", func() (any, error) { return View[error](r, 0, 1) })
	check("channel", func() (any, error) { return View[chan int](r, 0, 1) })
	check("func", func() (any, error) { return View[func()](r, 0, 1) })
	check("unsafe.Pointer", func() (any, error) { return View[unsafe.Pointer](r, 0, 1) })
	check("struct with string", func() (any, error) { return View[withString](r, 0, 1) })
	check("array of pointers", func() (any, error) { return View[[4]*byte](r, 0, 1) })
	check("nested map", func() (any, error) { return View[deep](r, 0, 1) })
	check("zero length", func() (any, error) { return View[*int](r, 0, 0) })

	// The refusal is cached and stays the same.
	_, err1 := View[withString](r, 0, 1)
	_, err2 := View[withString](r, 0, 1)
	if err1 == nil || err1 != err2 {
		t.Errorf("second View of the same type = %v, want the cached %v", err2, err1)
	}
	if _, ok := viewTypes.Load(reflect.TypeFor[withString]()); !ok {
		t.Error("the check of withString is not cached")
	}
}

func TestViewAccepts(t *testing.T) {
	r := mapAnon(t, PageSize(), Read|Write, Private)
	type plain struct {
		A int8
		B [3]uint16
		C complex128
		D bool
		E uintptr
		F struct{ G [0]float32 }
	}
	if _, err := View[plain](r, 0, 2); err != nil {
		t.Errorf("View[plain] = %v", err)
	}
	if _, err := View[[16]byte](r, 0, 2); err != nil {
		t.Errorf("View[[16]byte] = %v", err)
	}
	if v, err := View[struct{}](r, 0, 5); err != nil || len(v) != 5 {
		t.Errorf("View[struct{}] = %d values, %v; want 5, nil", len(v), err)
	}
}

func TestViewBounds(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, ps, Read|Write, Private)
	size := int(unsafe.Sizeof(record{}))
	align := int(unsafe.Alignof(record{}))
	for _, tc := range []struct {
		name   string
		off, n int
		want   error
	}{
		{"whole region", 0, ps / size, nil},
		{"last record", ps - size, 1, nil},
		{"empty at end", ps, 0, nil},
		{"negative offset", -size, 1, fs.ErrInvalid},
		{"negative count", 0, -1, fs.ErrInvalid},
		{"one too many", 0, ps/size + 1, fs.ErrInvalid},
		{"past the end", ps - size + align, 1, fs.ErrInvalid},
		{"offset past the end", ps + size, 0, fs.ErrInvalid},
		{"overflow", size, math.MaxInt/size + 1, fs.ErrInvalid},
		{"overflowing sum", size, math.MaxInt / size, fs.ErrInvalid},
		{"misaligned", 1, 1, ErrUnaligned},
		{"misaligned by half", align / 2, 1, ErrUnaligned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := View[record](r, tc.off, tc.n)
			if tc.want == nil {
				if err != nil || len(v) != tc.n || v == nil {
					t.Errorf("View(%d, %d) = %d values (nil %v), %v; want %d", tc.off, tc.n, len(v), v == nil, err, tc.n)
				}
				return
			}
			if !errors.Is(err, tc.want) || v != nil {
				t.Errorf("View(%d, %d) = %v, %v; want %v", tc.off, tc.n, v, err, tc.want)
			}
		})
	}
	// uint64 is aligned to 4 bytes on 386, 8 elsewhere: an offset that
	// breaks the alignment of uint64 is refused, one of uint16 is fine.
	if _, err := View[uint64](r, 2, 1); !errors.Is(err, ErrUnaligned) {
		t.Errorf("View[uint64] at 2 = %v, want ErrUnaligned", err)
	}
	if _, err := View[uint16](r, 2, 1); err != nil {
		t.Errorf("View[uint16] at 2 = %v", err)
	}
}

func TestViewReadsAndWrites(t *testing.T) {
	ps := PageSize()
	r := mapAnon(t, 2*ps, Read|Write, Shared)
	words, err := View[uint32](r, ps, 4)
	if err != nil {
		t.Fatal(err)
	}
	words[2] = 0xdeadbeef
	got := make([]byte, 4)
	if _, err := r.ReadAt(got, int64(ps+8)); err != nil {
		t.Fatal(err)
	}
	if v := binary.NativeEndian.Uint32(got); v != 0xdeadbeef {
		t.Errorf("ReadAt after a write through View = %#x, want 0xdeadbeef", v)
	}
	if _, err := r.WriteAt(binary.NativeEndian.AppendUint32(nil, 42), int64(ps)); err != nil {
		t.Fatal(err)
	}
	if words[0] != 42 {
		t.Errorf("View after WriteAt = %d, want 42", words[0])
	}
	if unsafe.Pointer(&words[0]) != unsafe.Pointer(&r.Bytes()[ps]) {
		t.Error("View does not point into the region")
	}

	if err := r.Unmap(); err != nil {
		t.Fatal(err)
	}
	if v, err := View[uint32](r, 0, 1); err != ErrNotMapped || v != nil {
		t.Errorf("View of an unmapped region = %v, %v; want ErrNotMapped", v, err)
	}
}

// BenchmarkView measures the cost of View's checks on a cached type.
func BenchmarkView(b *testing.B) {
	r, err := NewAnon(PageSize(), Read|Write, Private)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Map(); err != nil {
		b.Fatal(err)
	}
	defer r.Unmap()
	type rec struct{ A, B uint64 }
	b.ReportAllocs()
	for b.Loop() {
		v, err := View[rec](r, 16, 4)
		if err != nil || len(v) != 4 {
			b.Fatal(err)
		}
	}
}
