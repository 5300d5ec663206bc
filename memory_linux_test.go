package mmap

import (
	"errors"
	"os"
	"testing"
)

// The tests of transparent huge pages, which only Linux has: see
// memory_test.go for the smaps helpers.

func TestMemHugePages(t *testing.T) {
	memNeedSmaps(t)
	hps := hugePageSize()
	for _, flags := range []Flag{Private | HugePages, Shared | HugePages, Private | HugePages | Populate} {
		t.Run(flags.String(), func(t *testing.T) {
			file, counter := "enabled", "AnonHugePages"
			if flags&Shared != 0 {
				file, counter = "shmem_enabled", "ShmemPmdMapped"
			}
			mode := thpMode(file)
			r, err := NewAnon(2*hps, Read|Write, flags)
			if errors.Is(err, errors.ErrUnsupported) {
				if mode != "" && mode != "never" && mode != "deny" {
					t.Fatalf("NewAnon: %v, but the huge page mode in %s is %q", err, file, mode)
				}
				t.Skipf("transparent huge pages are disabled (%s: %q): %v", file, mode, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			defer r.Unmap()
			addr := memAddr(r)
			if uintptr(addr)%uintptr(hps) != 0 {
				t.Errorf("address %p is not aligned to the huge page size %d", addr, hps)
			}
			memCheckEntry(t, r, "hg", "!nh")
			if flags&Populate == 0 {
				b := r.Bytes()
				for off := 0; off < len(b); off += pageSize {
					b[off] = 1
				}
			}
			m := memSmapsAt(t, addr)
			if m.counters[counter] == 0 {
				t.Errorf("%s is 0 after touching %d bytes advised for huge pages (%s %q; Rss %d)",
					counter, 2*hps, file, mode, m.counters["Rss"])
			}
		})
	}
}

func TestMemTHPMode(t *testing.T) {
	dir := tempDir(t)
	for _, tt := range []struct{ text, want string }{
		{"always [madvise] never\n", "madvise"},
		{"[always] within_size advise never deny force\n", "always"},
		{"always madvise never\n", ""},
		{"[never", ""},
	} {
		name := dir + "/mode"
		if err := os.WriteFile(name, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := bracketed(name); got != tt.want {
			t.Errorf("bracketed(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	if got := bracketed(dir + "/missing"); got != "" {
		t.Errorf("bracketed of a missing file = %q, want \"\"", got)
	}
}
