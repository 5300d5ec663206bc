package mmap_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mmapkit/mmap"
)

// Anonymous memory: map, use, unmap.
func Example_anonymous() {
	r, err := mmap.NewAnon(mmap.PageSize(), mmap.Read|mmap.Write, mmap.Private)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	b := r.Bytes()
	copy(b, "hello, mapped world")
	fmt.Println(string(b[:19]))
	fmt.Println(len(b) == mmap.PageSize(), b[len(b)-1])
	// Output:
	// hello, mapped world
	// true 0
}

// The classic demonstration of anonymous mmap, done right in Go: four
// private pages, the first filled with 'y' and copied out. The C version that
// circulates maps the pages PROT_READ|PROT_EXEC and then writes to them,
// which crashes; here they are mapped writable.
func Example_pageSize() {
	ps := mmap.PageSize()
	fmt.Println("page size is a power of two:", ps > 0 && ps&(ps-1) == 0)

	r, err := mmap.NewAnon(4*ps, mmap.Read|mmap.Write, mmap.Private)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	mem := r.Bytes()
	for i := range ps {
		mem[i] = 'y'
	}
	page := make([]byte, ps)
	copy(page, mem)
	fmt.Printf("byte at offset 0: %c\n", page[0])
	fmt.Printf("first byte of the second page: %d\n", mem[ps])
	if err := r.Unmap(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// page size is a power of two: true
	// byte at offset 0: y
	// first byte of the second page: 0
}

// Open maps a whole file read-only: Bytes is exactly its content, whatever
// its size.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "greeting.txt")
	if err := os.WriteFile(name, []byte("Hello from a mapped file.\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	r, err := mmap.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Printf("%d bytes: %s", r.Len(), r.Bytes())
	// Output:
	// 26 bytes: Hello from a mapped file.
}

// A shared, writable file region: writes go to the file, and Flush makes
// them durable before it returns.
func ExampleNewFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "counter.db")

	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close() // after r.Close: the region uses f while it is mapped
	if err := f.Truncate(int64(mmap.PageSize())); err != nil {
		log.Fatal(err)
	}

	r, err := mmap.NewFile(f, 0, mmap.PageSize(), mmap.Read|mmap.Write, mmap.Shared)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	copy(r.Bytes(), "committed")
	if err := r.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}

	data, err := os.ReadFile(name)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data[:9]))
	// Output:
	// committed
}

// ReadAt is io.ReaderAt over the mapping: it copies, returns io.EOF at the
// end, and returns an error instead of crashing if the file was truncated
// underneath the mapping.
func ExampleRegion_ReadAt() {
	f, err := os.CreateTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString("first line\nsecond line\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Fatal(err)
	}

	r, err := mmap.Open(f.Name())
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	buf := make([]byte, 11)
	n, err := r.ReadAt(buf, 11)
	fmt.Printf("%d %q %v\n", n, buf[:n], err)
	n, err = r.ReadAt(buf, 20)
	fmt.Printf("%d %q %v\n", n, buf[:n], err)
	// Output:
	// 11 "second line" <nil>
	// 3 "ne\n" EOF
}

// One Region can be mapped, unmapped and mapped again: anonymous memory
// comes back as fresh zero pages, and the methods that need the mapping
// report ErrNotMapped in between.
func ExampleRegion_Map() {
	r, err := mmap.NewAnon(mmap.PageSize(), mmap.Read|mmap.Write, mmap.Private)
	if err != nil {
		log.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if err := r.Map(); err != nil {
			log.Fatal(err)
		}
		b := r.Bytes()
		fmt.Printf("round %d: starts with %d, ", round, b[0])
		b[0] = 42
		if err := r.Unmap(); err != nil {
			log.Fatal(err)
		}
		_, err := r.ReadAt(make([]byte, 1), 0)
		fmt.Println("after Unmap:", errors.Is(err, mmap.ErrNotMapped), r.Bytes() == nil)
	}
	// Output:
	// round 1: starts with 0, after Unmap: true true
	// round 2: starts with 0, after Unmap: true true
}

// WriteAt into memory that is not writable returns an error instead of
// crashing the program.
func ExampleRegion_WriteAt() {
	r, err := mmap.NewAnon(mmap.PageSize(), mmap.Read, mmap.Private)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	_, err = r.WriteAt([]byte("y"), 0)
	fmt.Println(errors.Is(err, mmap.ErrFault), errors.Is(err, os.ErrPermission))
	// Output:
	// true true
}

// Bytes is the mapped memory itself: what is written through it is what
// ReadAt returns. The slice is valid only while the region is mapped; after
// Unmap or Close, Bytes returns nil.
func ExampleRegion_Bytes() {
	r, err := mmap.NewAnon(mmap.PageSize(), mmap.Read|mmap.Write, mmap.Private)
	if err == nil {
		err = r.Map()
	}
	if err != nil {
		log.Fatal(err)
	}
	b := r.Bytes()
	copy(b, "in place")
	buf := make([]byte, 8)
	if _, err := r.ReadAt(buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v %q\n", len(b) == r.Len(), buf)
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Bytes() == nil)
	// Output:
	// true "in place"
	// true
}

// Flush writes what was changed through a shared file region to the file,
// and returns once it is durable.
func ExampleRegion_Flush() {
	f, err := os.CreateTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close() // after r.Close: the region uses f while it is mapped
	if _, err := f.WriteString("version 1"); err != nil {
		log.Fatal(err)
	}

	// The whole file: a region may end at the file's end.
	r, err := mmap.NewFile(f, 0, len("version 1"), mmap.Read|mmap.Write, mmap.Shared)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.Bytes()[8] = '2'
	if err := r.Flush(); err != nil {
		log.Fatal(err)
	}

	data, err := os.ReadFile(f.Name())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))
	// Output:
	// version 2
}
