package mmap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"testing"
)

// The portable side of what current Linux kernels offer: on every system
// the populate advice works, and HugeTLB and secret memory either work or
// are refused as documented.

// TestPopulateAdviceKeepsContents checks that PopulateRead and
// PopulateWrite work on every system and change no byte, and that they are
// refused, with a *FaultError wrapping fs.ErrPermission, where the
// protection does not allow the access.
func TestPopulateAdviceKeepsContents(t *testing.T) {
	want := pattern(4*pageSize, 11)
	r := mapAnon(t, 4*pageSize, Read|Write, Private)
	if _, err := r.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	for _, a := range []Advice{PopulateRead, PopulateWrite} {
		if err := r.Advise(a); err != nil {
			t.Errorf("Advise(%v): %v", a, err)
		}
	}
	if err := r.AdviseRange(pageSize, 2*pageSize, PopulateWrite); err != nil {
		t.Errorf("AdviseRange(PopulateWrite) of two pages: %v", err)
	}
	checkContents(t, r, want)

	f, _ := tempFile(t, want, os.O_RDONLY)
	fr, err := NewFile(f, 0, len(want), Read, Private)
	fr = mapRegion(t, fr, err)
	if err := fr.Advise(PopulateRead); err != nil {
		t.Errorf("Advise(PopulateRead) of a file region: %v", err)
	}
	checkContents(t, fr, want)

	for _, tc := range []struct {
		prot Prot
		a    Advice
	}{{Read, PopulateWrite}, {0, PopulateRead}, {0, PopulateWrite}} {
		if err := r.Protect(tc.prot); err != nil {
			t.Fatal(err)
		}
		err := r.Advise(tc.a)
		var fe *FaultError
		if !errors.As(err, &fe) || !errors.Is(err, fs.ErrPermission) || !errors.Is(err, ErrFault) {
			t.Errorf("Advise(%v) of a %v region: %v, want a *FaultError wrapping fs.ErrPermission", tc.a, tc.prot, err)
		}
	}
	if got := PopulateWrite.String(); got != "PopulateWrite" {
		t.Errorf("PopulateWrite.String() = %q", got)
	}
}

// TestHugeTLBRefusedWithoutPool checks that HugeTLB is refused with
// errors.ErrUnsupported where there is no huge page pool, and that its
// argument rules hold everywhere.
func TestHugeTLBRefusedWithoutPool(t *testing.T) {
	hs := HugePageSize()
	if runtime.GOOS != "linux" && hs != 0 {
		t.Errorf("HugePageSize() = %d on %s, want 0", hs, runtime.GOOS)
	}
	if hs != 0 && (hs%pageSize != 0 || hs&(hs-1) != 0) {
		t.Errorf("HugePageSize() = %d, not a power of two multiple of the page size %d", hs, pageSize)
	}
	_, err := NewAnon(max(hs, pageSize), Read|Write, Private|HugeTLB)
	if hs == 0 && !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NewAnon with HugeTLB where HugePageSize is 0: %v, want errors.ErrUnsupported", err)
	}
	if hs != 0 && err != nil {
		t.Errorf("NewAnon with HugeTLB: %v", err)
	}
	if _, err := NewAnon(max(hs, pageSize), Read|Write, Private|HugeTLB|HugePages); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("HugeTLB with HugePages: %v, want fs.ErrInvalid", err)
	}
	if _, err := NewSharedMemoryFlags("x", pageSize, Private); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewSharedMemoryFlags with Private: %v, want fs.ErrInvalid", err)
	}
	shm, err := NewSharedMemoryFlags("huge", max(hs, pageSize), HugeTLB)
	if err == nil {
		shm.Close()
	}
	if hs == 0 && !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NewSharedMemoryFlags with HugeTLB where HugePageSize is 0: %v, want errors.ErrUnsupported", err)
	}
}

// TestSecretMemoryOnlyWhileMapped checks that SecretMemory is false for a
// region that is not mapped or not Secret, and on systems without
// memfd_secret.
func TestSecretMemoryOnlyWhileMapped(t *testing.T) {
	plain := mapAnon(t, pageSize, Read|Write, Private)
	if plain.SecretMemory() {
		t.Errorf("SecretMemory of a plain region is true")
	}
	r, err := NewAnon(pageSize, Read|Write, Private|Secret)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.SecretMemory() {
		t.Errorf("SecretMemory of an unmapped region is true")
	}
	r = mapRegion(t, r, nil)
	if runtime.GOOS != "linux" && r.SecretMemory() {
		t.Errorf("SecretMemory is true on %s", runtime.GOOS)
	}
	copy(r.Bytes(), "key")
	if !bytes.HasPrefix(r.Bytes(), []byte("key")) {
		t.Errorf("a Secret region does not keep what is written")
	}
}
