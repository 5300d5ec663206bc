//go:build unix

// Example_pageFile maps a file past its end with PastEOF, which Windows
// cannot do (there NewFile returns errors.ErrUnsupported), so it runs on
// unix only.

package mmap_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/mmapkit/mmap"
)

// Example_pageFile keeps a page file as bbolt does: the file is mapped ahead
// of its end (PastEOF), grows underneath the mapping, and its pages are
// parsed in place with Access by several readers while one writer appends
// pages and flushes each one. A reader that reaches past the end of the file
// gets an error, never a SIGBUS, and Grow never pulls memory from under a
// reader: it waits for the Access calls in flight.
func Example_pageFile() {
	f, err := os.CreateTemp("", "pagefile")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close() // after r.Close: the region uses f while it is mapped

	// A file of one page (its meta page), mapped 16 pages ahead.
	page := mmap.PageSize()
	if err := f.Truncate(int64(page)); err != nil {
		log.Fatal(err)
	}
	r, err := mmap.NewFile(f, 0, 16*page, mmap.Read|mmap.Write, mmap.Shared|mmap.PastEOF)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Map(); err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	// Reading past the end of the file is an error (with Access too).
	_, err = r.ReadAt(make([]byte, 8), int64(3*page))
	fmt.Println("page 3 before the file reaches it:", errors.Is(err, mmap.ErrPastEOF))

	const pages = 40
	var (
		mu        sync.Mutex
		cond      = sync.NewCond(&mu)
		published = 1 // pages 1 to published-1 are written and flushed
		sums      = make([]uint64, 4)
		wg        sync.WaitGroup
	)
	for i := range sums {
		wg.Go(func() {
			for p := 1; p < pages; p++ {
				mu.Lock()
				for published <= p {
					cond.Wait()
				}
				mu.Unlock()
				// Parse the page in place: no copy, and no crash if the
				// file were truncated underneath.
				err := r.Access(p*page, page, func(b []byte) error {
					if n := binary.LittleEndian.Uint64(b); n != uint64(p) || b[page-1] != byte(p) {
						return fmt.Errorf("page %d holds page %d", p, n)
					}
					sums[i] += uint64(p)
					return nil
				})
				if err != nil {
					log.Fatal(err)
				}
			}
		})
	}

	// The writer: the file first grows to the region's end, under the
	// mapping, then the region and the file grow together when full.
	if err := r.Grow(r.Len()); err != nil {
		log.Fatal(err)
	}
	for p := 1; p < pages; p++ {
		if (p+1)*page > r.Len() {
			if err := r.Grow(r.Len() + 16*page); err != nil {
				log.Fatal(err)
			}
		}
		err := r.Access(p*page, page, func(b []byte) error {
			for j := range b {
				b[j] = byte(p)
			}
			binary.LittleEndian.PutUint64(b, uint64(p))
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		if err := r.FlushRange(p*page, page); err != nil {
			log.Fatal(err)
		}
		mu.Lock()
		published = p + 1
		cond.Broadcast()
		mu.Unlock()
	}
	wg.Wait()

	fmt.Println("sums of the page numbers each reader checked:", sums)
	fi, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("file: %d pages, region: %d pages\n", fi.Size()/int64(page), r.Len()/page)
	// Output:
	// page 3 before the file reaches it: true
	// sums of the page numbers each reader checked: [780 780 780 780]
	// file: 48 pages, region: 48 pages
}
