package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/mmapkit/mmap"
)

// An action is what the tool does to each file besides counting.
type action int

const (
	count action = iota // only count resident pages
	touch               // load every page into the page cache
	drop                // evict the pages from the page cache
	lock                // lock every page in memory
)

// window is how many bytes of a file are mapped at a time: files larger
// than the address space are counted a window at a time. Tests shrink it.
var window int64 = 1 << 30

func init() {
	if strconv.IntSize == 32 {
		window = 1 << 28
	}
}

// A result is what the tool found out about one file.
type result struct {
	path     string
	size     int64
	pages    int64 // ceil(size / page size)
	resident int64 // pages in memory

	// buckets holds, when a residency bar is wanted, the number of resident
	// pages in each of up to barWidth equal slices of the file.
	buckets []int64
}

// A worker counts, touches, evicts or locks the pages of files.
type worker struct {
	act      action
	barWidth int       // 0: no residency bar
	prog     *progress // nil: no progress bar

	locked []*mmap.Region // the windows kept locked until release
}

// pageSize is the page size as an int64.
var pageSize = int64(mmap.PageSize())

// pagesOf returns the number of pages that hold size bytes, as fincore and
// vmtouch count them.
func pagesOf(size int64) int64 {
	return size/pageSize + min(size%pageSize, 1)
}

// process does the worker's action to the file e and counts its resident
// pages. On error the file is skipped; locked windows of it are released.
func (w *worker) process(ctx context.Context, e entry) (res result, err error) {
	f, err := os.OpenFile(e.path, os.O_RDONLY|openFlags(e.follow), 0)
	if err != nil {
		return res, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, err
	}
	if !fi.Mode().IsRegular() {
		return res, fmt.Errorf("%s: no longer a regular file", e.path)
	}
	if id, _, ok := fileID(fi); ok && e.hasID && id != e.id {
		return res, fmt.Errorf("%s: replaced during the walk", e.path)
	}
	size := fi.Size()
	res = result{path: e.path, size: size, pages: pagesOf(size)}
	if w.barWidth > 0 {
		res.buckets = make([]int64, min(int64(w.barWidth), res.pages))
	}
	w.prog.file(e.path, size-e.size)

	if w.act == drop {
		for off := int64(0); off < size; off += window {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			n := min(window, size-off)
			if err := evict(f, off, n); err != nil {
				return res, err
			}
			w.prog.add(n)
		}
	}
	nlocked := len(w.locked)
	defer func() {
		if err != nil {
			w.unlock(nlocked)
		}
	}()
	for off := int64(0); off < size; off += window {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := w.window(ctx, f, off, min(window, size-off), &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// window maps n bytes of f at off, does the worker's action to them and
// counts their resident pages into res.
func (w *worker) window(ctx context.Context, f *os.File, off, n int64, res *result) error {
	// Map whole pages: the last page of the file may be mapped whole, and
	// the length then does not depend on the file ending exactly at off+n.
	length := int(pagesOf(n) * pageSize)
	r, err := mmap.NewFile(f, off, length, mmap.Read, mmap.Shared)
	if err == nil {
		err = r.Map()
	}
	if err != nil {
		if errors.Is(err, mmap.ErrPastEOF) {
			return fmt.Errorf("%s: truncated while reading: %w", f.Name(), err)
		}
		return err
	}
	keep := false
	defer func() {
		if !keep {
			r.Unmap()
		}
	}()
	switch w.act {
	case touch:
		if err := w.touch(ctx, r, n); err != nil {
			return err
		}
	case lock:
		if err := r.Lock(); err != nil {
			return fmt.Errorf("%w (see RLIMIT_MEMLOCK, ulimit -l)", err)
		}
		keep = true
		w.locked = append(w.locked, r)
		w.prog.add(n)
	}
	in, err := r.Resident()
	if err != nil {
		return err
	}
	first := off / pageSize
	for i, ok := range in {
		if !ok {
			continue
		}
		res.resident++
		if len(res.buckets) > 0 {
			res.buckets[bucketOf(first+int64(i), res.pages, int64(len(res.buckets)))]++
		}
	}
	return nil
}

// touch reads one byte of every page of the n bytes mapped by r, so that
// the kernel loads each page into the page cache. Reading through ReadAt
// turns a fault (the file shrank underneath) into an error.
func (w *worker) touch(ctx context.Context, r *mmap.Region, n int64) error {
	// A hint that lets the kernel read ahead; touching does the work anyway.
	if err := r.Advise(mmap.WillNeed); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	// ReadAt copies the byte out of the mapping: the load cannot be
	// optimized away.
	var b [1]byte
	const batch = 256 // pages between checks of ctx and progress updates
	done := int64(0)  // bytes reported to the progress bar
	for off, i := int64(0), 1; off < n; off, i = off+pageSize, i+1 {
		if _, err := r.ReadAt(b[:], off); err != nil {
			return fmt.Errorf("%s: %w", r.File().Name(), err)
		}
		if i%batch == 0 {
			w.prog.add(off + pageSize - done)
			done = off + pageSize
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	w.prog.add(n - done)
	return nil
}

// lockedBytes returns the length of the locked windows, in whole pages.
func (w *worker) lockedBytes() int64 {
	var n int64
	for _, r := range w.locked {
		n += pagesOf(int64(r.Len())) * pageSize
	}
	return n
}

// unlock unlocks and unmaps the locked windows from index i on.
func (w *worker) unlock(i int) error {
	var errs []error
	for _, r := range w.locked[i:] {
		if err := r.Unlock(); err != nil {
			errs = append(errs, err)
		}
		if err := r.Unmap(); err != nil {
			errs = append(errs, err)
		}
	}
	clear(w.locked[i:])
	w.locked = w.locked[:i]
	return errors.Join(errs...)
}

// bucketOf returns the slice of a residency bar of width slices (width at
// most pages) that page i of a file of pages pages falls in. Slice b holds
// the pages from ceil(b*pages/width) up to the next slice's first page.
func bucketOf(i, pages, width int64) int64 {
	return i * width / pages
}

// bucketPages returns the number of pages in slice b of a residency bar.
func bucketPages(b, pages, width int64) int64 {
	return ceilDiv((b+1)*pages, width) - ceilDiv(b*pages, width)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
