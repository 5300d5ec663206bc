package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// window is how many bytes of a file are mapped at a time (to touch, lock,
// or count with mincore where there is no cachestat): files larger than the
// address space are done a window at a time. Tests shrink it.
var window int64 = 1 << 30

// noCachestat makes the tool count with mincore as where the kernel lacks
// cachestat. Tests set it.
var noCachestat = false

// populateStep is how many bytes -touch loads with one system call, so that
// an interrupt and the progress bar are seen in between.
var populateStep int64 = 64 << 20

func init() {
	if strconv.IntSize == 32 {
		window = 1 << 28
	}
}

// fileStat is what the tool reads about an open file with one fstat.
type fileStat struct {
	size  int64
	kind  fs.FileMode // type bits only: 0 for a regular file
	id    devIno
	nlink uint64
	uid   uint32
	valid bool // id, nlink and uid are set
}

// How a file's residency was found out.
type source uint8

const (
	unknown   source = iota // the kernel would not tell: cachestat refused, and mincore would make it up
	cachestat               // cachestat(2): every count is known
	mincore                 // mincore through mmap.Region.Resident: resident pages only
)

// A result is what the tool found out about one file.
type result struct {
	path  string
	size  int64
	pages int64 // pages counted: ceil(size / page size), or those of -range
	first int64 // the first page counted
	from  source
	stat  mmap.CacheStat // Cached is the resident pages; the rest only from cachestat

	// buckets holds, when a residency map is wanted, the number of resident
	// pages in each of up to the map's width equal slices of the counted
	// pages.
	buckets []int64
}

// resident returns the resident pages, 0 when unknown.
func (r *result) resident() int64 { return r.stat.Cached }

// A worker counts, touches, evicts or locks the pages of files.
type worker struct {
	act      action
	barWidth int       // 0: no residency map
	prog     *progress // nil: no progress bar
	rng      span      // the part of each file to work on
	max      int64     // files larger than this are skipped; 0: no limit
	follow   bool      // any file may be reached twice: -follow, or several paths

	locked  []*mmap.Region      // the windows kept locked until release
	seen    map[devIno]struct{} // files with several names, done once
	buckets []int64             // reused for each file's residency map
}

// A span is the part of each file that -range selects: n bytes at off, or
// to the end of the file if n is 0.
type span struct{ off, n int64 }

// clip returns the part of a file of size bytes that s selects.
func (s span) clip(size int64) (off, n int64) {
	off = min(s.off, size)
	n = size - off
	if s.n > 0 {
		n = min(n, s.n)
	}
	return off, n
}

// pageSize is the page size as an int64.
var pageSize = int64(mmap.PageSize())

// pagesOf returns the number of pages that hold size bytes, as fincore and
// vmtouch count them.
func pagesOf(size int64) int64 {
	return size/pageSize + min(size%pageSize, 1)
}

// pageSpan returns the first page and the number of pages that hold n bytes
// at off.
func pageSpan(off, n int64) (first, pages int64) {
	if n == 0 {
		return off / pageSize, 0
	}
	first = off / pageSize
	return first, pagesOf(off+n) - first
}

var (
	errReplacedByLink = errors.New("replaced by a symbolic link during the walk")
	errTruncated      = errors.New("truncated while reading")
	errDuplicate      = errors.New("already done under another name")
	errTooLarge       = errors.New("larger than -max")
	errOtherDevice    = errors.New("on another file system")
)

// process does the worker's action to the file e and counts its resident
// pages. On error the file is skipped; locked windows of it are released.
// errDuplicate and errTooLarge say that the file was skipped on purpose.
func (w *worker) process(ctx context.Context, e entry) (res result, err error) {
	h, st, err := openEntry(e)
	if err != nil {
		return res, err
	}
	defer h.close()
	if st.kind != 0 {
		return res, fmt.Errorf("%s: no longer a regular file (now a %s)", e.path, kindName(st.kind))
	}
	if st.valid {
		if e.hasID && st.id != e.id {
			return res, fmt.Errorf("%s: replaced during the walk", e.path)
		}
		if e.hasRoot && e.root != st.id.dev {
			return res, errOtherDevice
		}
		if st.nlink > 1 || e.follow || w.follow {
			if _, dup := w.seen[st.id]; dup {
				return res, errDuplicate
			}
			if w.seen == nil {
				w.seen = make(map[devIno]struct{})
			}
			w.seen[st.id] = struct{}{}
		}
	}
	size := st.size
	if w.max > 0 && size > w.max {
		return res, errTooLarge
	}
	off, n := w.rng.clip(size)
	first, pages := pageSpan(off, n)
	res = result{path: e.path, size: size, pages: pages, first: first}
	if w.barWidth > 0 {
		nb := int(min(int64(w.barWidth), pages))
		if cap(w.buckets) < nb {
			w.buckets = make([]int64, nb)
		}
		res.buckets = w.buckets[:nb]
		clear(res.buckets)
	}
	w.prog.file(e.path, n-e.size)

	nlocked := len(w.locked)
	defer func() {
		if err != nil {
			w.unlock(nlocked)
		}
	}()
	switch w.act {
	case drop:
		if n > 0 {
			if err := evict(&h, off, n); err != nil {
				return res, err
			}
		}
		w.prog.add(n)
	case touch, lock:
		for o := off; o < off+n; o += window {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			wn := min(window, off+n-o)
			if w.act == touch && w.cached(&h, o, wn) {
				w.prog.add(wn)
				continue // nothing to load: no mapping, no page table
			}
			if err := w.window(ctx, &h, o, wn, nil); err != nil {
				return res, err
			}
		}
	}
	return res, w.count(ctx, &h, st, off, n, first, &res)
}

// count counts the resident pages of n bytes of h at off (pages first on)
// into res: with cachestat where the kernel has it, else with mincore where
// mincore tells the truth, else not at all (res.from stays unknown).
func (w *worker) count(ctx context.Context, h *handle, st fileStat, off, n, first int64, res *result) error {
	if n == 0 {
		res.from = cachestat
		return nil
	}
	cs, err := cacheStat(h, first*pageSize, res.pages*pageSize)
	if noCachestat {
		err = errors.ErrUnsupported
	}
	switch {
	case err == nil:
		res.from, res.stat = cachestat, cs
		// One more call per slice of the residency map.
		for b := range res.buckets {
			lo, np := bucketStart(int64(b), res.pages, int64(len(res.buckets))), bucketPages(int64(b), res.pages, int64(len(res.buckets)))
			cs, err := cacheStat(h, (first+lo)*pageSize, np*pageSize)
			if err != nil {
				return err
			}
			res.buckets[b] = cs.Cached
		}
		return nil
	case errors.Is(err, fs.ErrPermission):
		return nil // unknown: mincore would say every page is resident
	case !errors.Is(err, errors.ErrUnsupported):
		return err
	}
	if !mincoreTrusted(h, st) {
		return nil
	}
	res.from = mincore
	for o := off; o < off+n; o += window {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.window(ctx, h, o, min(window, off+n-o), res); err != nil {
			return err
		}
	}
	return nil
}

// testHookMapped, when set by a test, is called by window with the file's
// path once a window of it is mapped.
var testHookMapped func(path string)

// window maps n bytes of h at off and does the worker's action to them
// (res nil), or counts their resident pages into res with mincore.
func (w *worker) window(ctx context.Context, h *handle, off, n int64, res *result) error {
	// Map whole pages from a page boundary: the last page of the file may be
	// mapped whole, and the length then does not depend on the file ending
	// exactly at off+n.
	start := off / pageSize * pageSize
	length := int(pagesOf(off+n-start) * pageSize)
	r, err := mmap.NewFile(h.file(), start, length, mmap.Read, mmap.Shared)
	if err == nil {
		err = r.Map()
	}
	if err != nil {
		if errors.Is(err, mmap.ErrPastEOF) {
			return fmt.Errorf("%s: %w: %w", h.path, errTruncated, err)
		}
		return err
	}
	if testHookMapped != nil {
		testHookMapped(h.path)
	}
	keep := false
	defer func() {
		if !keep {
			r.Unmap()
		}
	}()
	if res != nil {
		in, err := r.Resident()
		if err != nil {
			return err
		}
		firstPage := start/pageSize - res.first
		for i, ok := range in {
			if !ok {
				continue
			}
			res.stat.Cached++
			if len(res.buckets) > 0 {
				res.buckets[bucketOf(firstPage+int64(i), res.pages, int64(len(res.buckets)))]++
			}
		}
		return nil
	}
	switch w.act {
	case touch:
		err := w.touch(ctx, r, int64(length))
		if errors.Is(err, errTruncated) {
			return fmt.Errorf("%s: %w", h.path, err) // the region's errors name only the file's base name
		}
		return err
	case lock:
		if err := r.Lock(); err != nil {
			return fmt.Errorf("%w (see RLIMIT_MEMLOCK, ulimit -l)", err)
		}
		keep = true
		w.locked = append(w.locked, r)
		w.prog.add(n)
	}
	return nil
}

// cached reports whether cachestat says that every page of the n bytes of
// h at off is in the page cache already.
func (w *worker) cached(h *handle, off, n int64) bool {
	if noCachestat {
		return false
	}
	first, pages := pageSpan(off, n)
	cs, err := cacheStat(h, first*pageSize, pages*pageSize)
	return err == nil && cs.Cached == pages
}

// touch loads the n bytes mapped by r into the page cache, a step at a time
// so that the progress bar moves and an interrupt is seen: with the
// library's PopulateRead advice, which is MADV_POPULATE_READ where the
// kernel has it and a fault-safe touch of every page elsewhere. Either way a
// page that cannot be read in (the file shrank underneath) is an error, not
// a crash.
func (w *worker) touch(ctx context.Context, r *mmap.Region, n int64) error {
	// Start reading the whole window from the disk now, so that the disk
	// works while the pages already read are mapped.
	if err := r.Advise(mmap.WillNeed); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	for off := int64(0); off < n; off += populateStep {
		if err := ctx.Err(); err != nil {
			return err
		}
		step := min(populateStep, n-off)
		if err := r.AdviseRange(int(off), int(step), mmap.PopulateRead); err != nil {
			if errors.Is(err, mmap.ErrFault) {
				return fmt.Errorf("%w: %w", errTruncated, err)
			}
			return err
		}
		w.prog.add(step)
	}
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

// bucketOf returns the slice of a residency map of width slices (width at
// most pages) that page i of pages pages falls in. Slice b holds the pages
// from ceil(b*pages/width) up to the next slice's first page.
func bucketOf(i, pages, width int64) int64 {
	return i * width / pages
}

// bucketStart returns the first page of slice b of a residency map.
func bucketStart(b, pages, width int64) int64 { return ceilDiv(b*pages, width) }

// bucketPages returns the number of pages in slice b of a residency map.
func bucketPages(b, pages, width int64) int64 {
	return ceilDiv((b+1)*pages, width) - ceilDiv(b*pages, width)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// kindName names a kind of file that is not a regular file, in words.
func kindName(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
