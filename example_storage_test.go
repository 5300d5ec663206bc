package mmap_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/mmapkit/mmap"
)

// entry is one fixed-size record of an append-only table. It holds no Go
// pointers, so it can live in mapped memory.
type entry struct {
	Seq   uint64
	Value float64
}

const entrySize = int(unsafe.Sizeof(entry{}))

// Example_appendOnlyTable keeps fixed-size records in a file that grows a
// page at a time. Grow allocates the file's blocks before the region grows,
// so a full disk is an error here rather than a crash at the next write;
// Reserve keeps the region at one address as it grows (where the system
// can), and View reads and writes the records in place.
func Example_appendOnlyTable() {
	dir, err := os.MkdirTemp("", "table")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(filepath.Join(dir, "table"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	// A new table starts with one page of file.
	page := mmap.PageSize()
	if err := f.Truncate(int64(page)); err != nil {
		log.Fatal(err)
	}
	r, err := mmap.NewFile(f, 0, page, mmap.Read|mmap.Write, mmap.Shared)
	if err != nil {
		log.Fatal(err)
	}
	// Room for 64 Ki records at one address. Windows cannot keep a file
	// region's address as it grows (errors.ErrUnsupported): there the
	// region moves, which the loop below allows for by taking a new View
	// after each Grow.
	if err := r.Reserve(1 << 20); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	// Append 1000 records, growing the file and the region when full.
	for i := range 1000 {
		off := i * entrySize
		if off+entrySize > r.Len() {
			if err := r.Grow(r.Len() + page); err != nil {
				log.Fatal(err) // for example ENOSPC: the disk is full
			}
		}
		rec, err := mmap.View[entry](r, off, 1)
		if err != nil {
			log.Fatal(err)
		}
		rec[0] = entry{Seq: uint64(i), Value: float64(i) / 4}
	}
	if err := r.Flush(); err != nil {
		log.Fatal(err)
	}

	// Read the table back as one slice, valid until the next Grow.
	all, err := mmap.View[entry](r, 0, 1000)
	if err != nil {
		log.Fatal(err)
	}
	sum := 0.0
	for _, e := range all {
		sum += e.Value
	}
	fmt.Println(len(all), all[999].Seq, sum)
	// Output: 1000 999 124875
}
