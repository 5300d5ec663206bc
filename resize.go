// This file holds what changes a region's size: Reserve, Resize and Grow
// (the geometry of a reservation is region.go's).

package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"unsafe"
)

// remap is sysRemap; tests replace it to take the path of systems without
// mremap.
var remap = sysRemap

var (
	errResizeOpened = fmt.Errorf("mmap: region from Open cannot change size, its file is closed: %w", fs.ErrClosed)
)

// Reserve reserves max bytes of address space for the region, to be taken
// at the next Map: Map places the region at the start of an inaccessible
// (PROT_NONE) reservation of max bytes, and every later Resize or Grow up to
// max bytes maps the new pages in place, inside that reservation. Inside a
// reservation, the memory of a region never moves and slices from Bytes stay
// valid across Resize and Grow for the part that remains mapped; without a
// reservation, Resize and Grow may move it. Reserving address space costs no
// memory; on 32-bit systems address space itself is scarce. Reserved
// returns max afterwards.
//
// Growing beyond max is refused: Resize and Grow return an error matching
// fs.ErrInvalid and leave the region as it was, so that pointers into it
// stay valid. To grow further, Unmap, Reserve more and Map again (which may
// place the region elsewhere). Unmap releases the whole reservation; the
// reservation is kept for every later Map.
//
// Reserve must be called while the region is not mapped (ErrMapped
// otherwise). max must be a multiple of PageSize (ErrUnaligned) and at least
// Len (fs.ErrInvalid). A reservation larger than the free address space
// makes Map fail with an error of the operating system (ENOMEM). A region
// from Open cannot be reserved for (fs.ErrClosed). On Windows, which cannot
// place a view of a file inside reserved address space, Reserve of a file
// region returns an error matching errors.ErrUnsupported; Resize still
// works there, moving the region.
func (r *Region) Reserve(max int) error {
	if r == nil {
		return errNilRegion
	}
	r.mu.Lock()
	defer r.endLock()
	if r.mapped {
		return ErrMapped
	}
	if r.src == srcOpened {
		return errResizeOpened
	}
	if r.src.hasFile() && !fileInReservation {
		return unsupportedf("Reserve for a file region on %s", runtime.GOOS)
	}
	if max < 0 {
		return invalidf("negative reservation %d", max)
	}
	if max%pageSize != 0 {
		return fmt.Errorf("mmap: reservation of %d bytes is not a multiple of the page size %d: %w", max, pageSize, ErrUnaligned)
	}
	if max < int(r.mappedLen()) {
		return invalidf("reservation of %d bytes is smaller than the region's %d bytes", max, r.length)
	}
	if max > math.MaxInt-2*pageSize-hugePageSize() {
		return invalidf("reservation of %d bytes overflows", max)
	}
	r.reserve = max
	return nil
}

// Resize changes the length of a mapped region to length bytes, keeping its
// contents up to the smaller of the two lengths. Bytes then returns the new
// length. Inside a reservation, the memory of a region never moves and
// slices from Bytes stay valid across Resize and Grow for the part that
// remains mapped; without a reservation, Resize and Grow may move it. New
// pages of anonymous memory read as zeros; new pages of a file region show
// the file. The new length stays for later Maps.
//
// The length rules are those of NewAnon and NewFile: length must be positive
// (fs.ErrInvalid) and a multiple of PageSize, or, for a file region, end
// exactly at the file's current end (ErrUnaligned otherwise). A file region
// is never grown past the end of its file: ErrPastEOF if a whole page would
// lie beyond it (grow the file first, or use Grow, which does), unless it
// has the PastEOF flag.
//
// After Reserve, Resize grows and shrinks the region in place; growing
// beyond the reserved size is refused with an error matching fs.ErrInvalid.
// Otherwise, Resize grows in place where it can (mremap on Linux) and moves
// the region where it cannot.
// The flags stay in force: Guard pages follow the end of the region, Locked
// and Secret lock the new pages, HugePages advises them, Populate faults them
// in, and they get the region's current protection. The part cut off by a
// shrink is released (overwritten with zeros first for Secret).
//
// Resize waits for WriteAt and Access calls in flight and excludes new ones
// while it runs, so none of them ever sees the old address; a ReadAt that
// overlaps it returns the bytes of the old mapping or of the new one, never
// another's. It returns
// ErrNotMapped if the region is not mapped, an error matching fs.ErrClosed
// for a region from Open or whose file is closed, and an *fs.PathError for
// an error of the operating system (Op "mremap", "mmap", "mlock"...), after
// which the region keeps its old length and contents. A memory fault while
// Resize copies or wipes the region's memory (a page unmapped or protected
// behind the region's back, a file truncated underneath a Private region
// that moves) is a *FaultError matching ErrFault, and the region keeps its
// old length too (the part of a Secret region that a shrink would cut off
// may be zeros then). A Shared mapping of /dev/zero is shared anonymous
// memory: it keeps its contents and its new pages read as zeros.
func (r *Region) Resize(length int) error {
	if r == nil {
		return errNilRegion
	}
	r.mu.Lock()
	defer r.endLock()
	return r.resizeLocked(length)
}

// resizeLocked is Resize; r.mu is held for writing.
func (r *Region) resizeLocked(length int) error {
	if !r.mapped {
		return r.notMappedErr()
	}
	if r.src == srcOpened {
		return errResizeOpened
	}
	if length <= 0 {
		return invalidf("%s: length %d is not positive", r.name, length)
	}
	newLen, ok := roundUp(length, pageSize)
	if !ok || (r.src.hasFile() && int64(newLen) > math.MaxInt64-r.off) {
		return invalidf("%s: length %d overflows", r.name, length)
	}
	if err := r.checkFile(); err != nil {
		return err
	}
	if r.src.checksEOF() {
		size, err := sysFileSize(r.file.Fd())
		if err != nil {
			return pathError("fstat", r.name, err)
		}
		if length != newLen && r.off+int64(length) != size {
			return fmt.Errorf("mmap: %s: length %d is not a multiple of the page size %d and does not end at the end of the file: %w",
				r.name, length, pageSize, ErrUnaligned)
		}
		if err := r.checkEOFLen(length, size); err != nil {
			return err
		}
	} else if length != newLen {
		return fmt.Errorf("mmap: %s: length %d is not a multiple of the page size %d: %w", r.name, length, pageSize, ErrUnaligned)
	}
	if r.flags&HugeTLB != 0 {
		if err := checkHugeTLBLength(r.name+": ", length); err != nil {
			return err
		}
	}
	oldLen := int(r.mappedLen())
	var err error
	switch {
	case newLen < oldLen:
		err = r.shrink(oldLen, newLen)
	case newLen > oldLen:
		err = r.grow(oldLen, newLen)
	}
	if err != nil {
		return err
	}
	r.length = length
	return nil
}

// checkFile returns an error matching fs.ErrClosed if the region's file
// is closed: its pages cannot be mapped any more.
func (r *Region) checkFile() error {
	if r.file != nil && r.file.Fd() == ^uintptr(0) {
		return fmt.Errorf("mmap: %s: %w", r.name, fs.ErrClosed)
	}
	return nil
}

// reserved reports whether the mapping lies in a reservation of address
// space (made by mapLocked or grow), whose free parts are PROT_NONE mappings
// that belong to the region.
func (r *Region) reserved() bool {
	return r.geometry().reservation(r.reserve)
}

// sharedAnon reports whether the region is Shared memory whose contents
// live in its own pages only: shared anonymous memory, and a Shared mapping
// of /dev/zero, which is the same thing. Its backing object is made by mmap
// with the mapping's size: mremap cannot grow it (the new pages would
// fault), and a new mmap makes a new object, so Resize copies the contents.
func (r *Region) sharedAnon() bool {
	return r.flags&Shared != 0 && (r.src == srcAnon || r.src == srcZero)
}

// fdOff returns the descriptor and file offset to map the region's pages
// from off bytes into it (the descriptor is ^uintptr(0) for anonymous memory).
// Map uses it too.
func (r *Region) fdOff(off int) (uintptr, int64) {
	if r.secret != nil {
		return r.secret.Fd(), int64(off)
	}
	if !r.src.hasFile() {
		return ^uintptr(0), 0
	}
	if r.src == srcZero {
		// Every offset of /dev/zero reads as zeros, but a Shared mapping
		// at offset k pages has an object of its own length that it
		// indexes from k: its pages from the object's end on would fault.
		return r.file.Fd(), 0
	}
	return r.file.Fd(), r.off + int64(off)
}

// release gives the n bytes at addr, part of the region's mapping, back:
// inside a reservation they become PROT_NONE again, else they are unmapped.
func (r *Region) release(addr unsafe.Pointer, n int) error {
	if r.reserved() {
		if err := sysRelease(addr, uintptr(n)); err != nil {
			return pathError("mmap", r.name, err)
		}
		return nil
	}
	if err := sysUnmap(addr, uintptr(n)); err != nil {
		return pathError("munmap", r.name, err)
	}
	return nil
}

// wipe overwrites the n bytes at addr, part of the region's memory, with
// zeros, making them writable first if they are not. A page that faults
// while it is wiped (unmapped or protected behind the region's back, or a
// page whose memory the system cannot provide) is skipped and the pages
// after it are wiped still; the first such page is reported in a
// *FaultError of Op "wipe", matching ErrFault.
func (r *Region) wipe(addr unsafe.Pointer, n int) error {
	if r.cur&Write == 0 {
		if err := sysProtect(addr, uintptr(n), Read|Write); err != nil {
			return pathError("mprotect", r.name, err)
		}
	}
	b := unsafe.Slice((*byte)(addr), n)
	if faultSafe(func() { clear(b) }) == 0 {
		return nil
	}
	off, fault := clearByPage(b)
	if off < 0 {
		return nil // the pages that faulted could be written this time
	}
	at := int64(uintptr(addr) + uintptr(off) - uintptr(r.addr))
	return r.faultError("wipe", at, knownAddr(fault), nil)
}

// shrink cuts the mapping from oldLen to newLen bytes, in place.
func (r *Region) shrink(oldLen, newLen int) error {
	if r.guards == guardMarkers {
		return r.shrinkMarked(oldLen, newLen)
	}
	if r.src.hasFile() && !r.reserved() && !partialViewUnmap {
		// The view cannot lose its tail: map a shorter one instead.
		return r.moveView(oldLen, newLen)
	}
	tail := unsafe.Add(r.addr, newLen)
	if r.flags&Secret != 0 {
		if err := r.wipe(tail, oldLen-newLen); err != nil {
			return err
		}
	}
	if r.sharedAnon() {
		// The object behind the memory lives as long as any of it is
		// mapped, and would keep the pages cut off until Unmap.
		sysFreeShared(tail, uintptr(oldLen-newLen), r.flags&Locked != 0)
	}
	if err := r.release(tail, oldLen-newLen); err != nil {
		return err
	}
	if !r.reserved() {
		r.size = uintptr(newLen)
	}
	return nil
}

// shrinkMarked cuts a mapping with guard regions from oldLen to newLen
// bytes: the page at the new end becomes the trailing guard, and what
// lies beyond it is unmapped.
func (r *Region) shrinkMarked(oldLen, newLen int) error {
	end := unsafe.Add(r.addr, newLen)
	if err := sysGuard(end, uintptr(pageSize), true); err != nil {
		return pathError("madvise", r.name, err)
	}
	if err := sysUnmap(unsafe.Add(end, pageSize), uintptr(oldLen-newLen)); err != nil {
		return pathError("munmap", r.name, err)
	}
	r.size = uintptr(newLen + 2*pageSize)
	return nil
}

// growMarked extends a mapping with guard regions from oldLen to newLen
// bytes: mremap extends it, in place or moving it whole with its guards,
// the old trailing guard becomes memory and the page at the new end the
// trailing guard. Where mremap cannot (the mapping was split by advice
// or locking), the contents are copied into a new mapping.
func (r *Region) growMarked(oldLen, newLen int) error {
	span := uintptr(newLen + 2*pageSize)
	base, err := remap(r.base, r.size, nil, span)
	if errors.Is(err, errors.ErrUnsupported) {
		return r.copyMarked(oldLen, newLen)
	}
	if err != nil {
		return pathError("mremap", r.name, err)
	}
	r.addr, r.base, r.size = unsafe.Add(base, pageSize), base, span
	if err := sysGuard(unsafe.Add(r.addr, oldLen), uintptr(pageSize), false); err != nil {
		return pathError("madvise", r.name, err)
	}
	if err := r.installGuards(r.base, r.addr, newLen); err != nil {
		return err
	}
	if err := r.applyFlags(r.addr, oldLen, newLen-oldLen); err != nil {
		r.shrinkMarked(newLen, oldLen)
		return err
	}
	return nil
}

// copyMarked maps a new span with guard regions for newLen bytes, copies
// the region's oldLen bytes into it and unmaps the old one.
func (r *Region) copyMarked(oldLen, newLen int) error {
	span := uintptr(newLen + 2*pageSize)
	base, err := sysMap(^uintptr(0), 0, nil, span, Read|Write, r.mapFlags())
	if err != nil {
		return pathError("mmap", r.name, err)
	}
	addr := unsafe.Add(base, pageSize)
	fail := func(err error) error {
		sysUnmap(base, span)
		return err
	}
	if err := r.installGuards(base, addr, newLen); err != nil {
		return fail(err)
	}
	if err := r.copyOut(addr, oldLen); err != nil {
		return fail(err)
	}
	if err := sysProtect(base, span, r.cur); err != nil {
		return fail(pathError("mprotect", r.name, err))
	}
	if err := r.applyFlags(addr, oldLen, newLen-oldLen); err != nil {
		return fail(err)
	}
	sysUnmap(r.base, r.size)
	r.addr, r.base, r.size = addr, base, span
	return nil
}

// grow extends the mapping from oldLen to newLen bytes: in place inside its
// reservation where there is room, else by remapping.
func (r *Region) grow(oldLen, newLen int) error {
	g := r.geometry()
	if r.reserve > 0 && newLen > r.reserve {
		return invalidf("%s: growing to %d bytes, beyond the reservation of %d bytes", r.name, newLen, r.reserve)
	}
	if r.secret != nil {
		// The size of secret memory is set once: a file that is too short
		// (it keeps the pages of a shrink, wiped, until Unmap) is replaced.
		size, err := sysFileSize(r.secret.Fd())
		if err != nil {
			return pathError("fstat", r.secret.Name(), err)
		}
		if int64(newLen) > size {
			return r.moveSecret(oldLen, newLen, g)
		}
	}
	return r.growMapping(oldLen, newLen, g)
}

// moveSecret moves secret memory into a new memfd_secret file of newLen
// bytes, mapped at a new place with its guard pages: it copies the oldLen
// bytes there, then wipes and unmaps the old memory and closes its file.
func (r *Region) moveSecret(oldLen, newLen int, g geometry) error {
	f, err := sysSecretMemory(newLen)
	if err != nil {
		return err
	}
	old := r.secret
	resLen, _ := g.span(newLen) // newLen passed the checks of Resize
	base, err := sysReserve(uintptr(resLen))
	if err != nil {
		f.Close()
		return pathError("mmap", r.name, err)
	}
	r.secret = f // for mapFlags and applyFlags
	fail := func(err error) error {
		sysUnmap(base, uintptr(resLen))
		f.Close()
		r.secret = old
		return err
	}
	dst, err := sysMap(f.Fd(), 0, g.place(base), uintptr(newLen), Read|Write, r.mapFlags())
	if err != nil {
		return fail(pathError("mmap", r.name, err))
	}
	// Secret memory can fail to fault in (the kernel finds no page for it):
	// a fault while copying leaves the region as it was.
	if err := r.copyOut(dst, oldLen); err != nil {
		return fail(err)
	}
	if r.cur != Read|Write {
		if err := sysProtect(dst, uintptr(newLen), r.cur); err != nil {
			return fail(pathError("mprotect", r.name, err))
		}
	}
	if err := r.applyFlags(dst, 0, newLen); err != nil {
		return fail(err)
	}
	_ = r.wipe(r.addr, oldLen) // unmapped below whatever happens
	sysUnmap(r.base, r.size)
	old.Close()
	r.addr, r.base, r.size = dst, base, uintptr(resLen)
	return nil
}

// growMapping is grow once the memory's file, if any, is long enough.
func (r *Region) growMapping(oldLen, newLen int, g geometry) error {
	if g.guards == guardMarkers {
		return r.growMarked(oldLen, newLen)
	}
	if r.reserved() {
		room := int(uintptr(r.base) + r.size - uintptr(g.guard) - uintptr(r.addr))
		if newLen <= room {
			return r.growInPlace(oldLen, newLen)
		}
		// No room: only a region without Reserve gets here, to move.
	} else if !r.sharedAnon() {
		// Shared anonymous memory cannot grow with mremap: its backing
		// object keeps the old size and the new pages would raise SIGBUS.
		addr, err := remap(r.addr, uintptr(oldLen), nil, uintptr(newLen))
		if err == nil {
			r.addr, r.base, r.size = addr, addr, uintptr(newLen)
			return r.growFlags(oldLen, newLen)
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return pathError("mremap", r.name, err)
		}
	}
	return r.move(oldLen, newLen, g)
}

// growInPlace maps the pages from oldLen to newLen at the end of the
// mapping, over the reservation's PROT_NONE pages.
func (r *Region) growInPlace(oldLen, newLen int) error {
	fd, off := r.fdOff(oldLen)
	at := unsafe.Add(r.addr, oldLen)
	if _, err := sysMap(fd, off, at, uintptr(newLen-oldLen), r.cur, r.mapFlags()); err != nil {
		return pathError("mmap", r.name, err)
	}
	return r.growFlags(oldLen, newLen)
}

// growFlags applies the region's flags to the pages from oldLen to newLen.
// If that fails, it releases those pages again, so that the mapping has the
// old length, and returns the error.
func (r *Region) growFlags(oldLen, newLen int) error {
	tail := unsafe.Add(r.addr, oldLen)
	err := r.applyFlags(r.addr, oldLen, newLen-oldLen)
	if err != nil {
		if r.release(tail, newLen-oldLen) == nil && !r.reserved() {
			r.size = uintptr(oldLen)
		}
	}
	return err
}

// move maps the region again at a new place, with the room its flags need
// around it, and newLen bytes long. On Linux mremap moves the pages
// themselves; elsewhere the contents of anonymous and private memory are
// copied (a shared file region needs no copy: the file holds its contents).
func (r *Region) move(oldLen, newLen int, g geometry) error {
	if r.src.hasFile() && !fileInReservation {
		// No reservation can hold the view, nor guard pages or alignment,
		// which file regions there do not have.
		return r.moveView(oldLen, newLen)
	}
	trim := false
	if r.flags&HugeTLB != 0 && g.align == 0 {
		// mmap aligns huge pages by itself, but not inside a reservation,
		// which 64-bit Linux aligns only by chance (large anonymous
		// mappings): reserve room to align them, and give it back after.
		g.align, trim = HugePageSize(), true
	}
	resLen, ok := g.span(newLen)
	if !ok {
		return invalidf("%s: length %d with guard pages and alignment overflows int", r.name, newLen)
	}
	base, err := sysReserve(uintptr(resLen))
	if err != nil {
		return pathError("mmap", r.name, err)
	}
	dst := g.place(base)
	// placed records the new place; without a reservation to keep, the
	// mapping is its memory alone.
	placed := func() {
		r.addr, r.base, r.size = dst, base, uintptr(resLen)
		if trim {
			unmapAround(base, uintptr(resLen), dst, newLen)
			r.base, r.size = dst, uintptr(newLen)
		}
	}
	moved := false
	if !r.sharedAnon() {
		_, err = remap(r.addr, uintptr(oldLen), dst, uintptr(newLen))
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			sysUnmap(base, uintptr(resLen))
			return pathError("mremap", r.name, err)
		}
		moved = err == nil
	}
	if moved {
		// The old pages are gone from the old place: release what is left
		// of the old reservation around them, never the hole they left,
		// which another mapping may take at any moment.
		unmapAround(r.base, r.size, r.addr, oldLen)
		placed()
		return r.growFlags(oldLen, newLen)
	}
	if _, err := r.copyTo(dst, oldLen, newLen); err != nil {
		sysUnmap(base, uintptr(resLen))
		return err
	}
	if r.flags&Secret != 0 && r.secret == nil { // secret memory is not copied: dst shows its pages
		// The contents live at dst now and the old pages are unmapped
		// below whatever happens: a page that cannot be wiped cannot be
		// kept either.
		_ = r.wipe(r.addr, oldLen)
	}
	if r.flags&(Locked|Secret) != 0 && r.secret == nil {
		sysUnlock(r.addr, uintptr(oldLen))
	}
	sysUnmap(r.base, r.size)
	placed()
	return nil
}

// unmapAround unmaps what the span of size bytes at base holds around the n
// bytes at addr, which it contains.
func unmapAround(base unsafe.Pointer, size uintptr, addr unsafe.Pointer, n int) {
	if head := uintptr(addr) - uintptr(base); head > 0 {
		sysUnmap(base, head)
	}
	if tail := uintptr(base) + size - uintptr(addr) - uintptr(n); tail > 0 {
		sysUnmap(unsafe.Add(addr, n), tail)
	}
}

// moveView maps a file region again as a new view of newLen bytes, where
// the system chooses, copies the first min(oldLen, newLen) bytes into it if
// the region is private, and unmaps the old view. It is how Resize works
// where a view can neither be placed in a reservation nor unmapped in part.
func (r *Region) moveView(oldLen, newLen int) error {
	dst, err := r.copyTo(nil, min(oldLen, newLen), newLen)
	if err != nil {
		if dst != nil {
			sysUnmap(dst, uintptr(newLen))
		}
		return err
	}
	if r.flags&Locked != 0 {
		sysUnlock(r.addr, uintptr(oldLen))
	}
	sysUnmap(r.base, r.size)
	r.addr, r.base, r.size = dst, dst, uintptr(newLen)
	return nil
}

// copyOut copies the first n bytes of the region's memory to dst, new
// writable memory, with memory faults caught. Memory that the region's
// protection keeps from being read is made readable for the copy, and
// protected again after it whatever happens. A fault is found again by
// copying a page at a time, and returned as faultError's *FaultError at the
// offset it was reached: "read" for the region's memory, which may lie past
// the end of its file, "write" for dst (secret memory the kernel could not
// give).
func (r *Region) copyOut(dst unsafe.Pointer, n int) error {
	if r.cur&(Read|Write) == 0 {
		if err := sysProtect(r.addr, uintptr(n), Read); err != nil {
			return pathError("mprotect", r.name, err)
		}
		defer sysProtect(r.addr, uintptr(n), r.cur)
	}
	d, s := unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(r.addr), n)
	if _, fault := tryCopy(d, s); fault == 0 {
		return nil
	}
	done, page, inDst := copyByPage(d, s)
	if page == 0 {
		return nil // every page copied this time
	}
	op := "read"
	if inDst {
		op = "write"
	}
	return r.faultError(op, int64(done), knownAddr(page), nil)
}

// copyTo maps newLen bytes of the region at dst, over a reservation, or
// where the system chooses if dst is nil, and copies the first oldLen bytes
// of the region's contents there unless the file holds them. It returns
// where it mapped them, also with an error once they are mapped.
func (r *Region) copyTo(dst unsafe.Pointer, oldLen, newLen int) (unsafe.Pointer, error) {
	fd, off := r.fdOff(0)
	copying := r.secret == nil && (!r.src.hasFile() || r.flags&Private != 0 || r.src == srcZero)
	prot := r.cur
	if copying {
		prot = Read | Write
	}
	dst, err := sysMap(fd, off, dst, uintptr(newLen), prot, r.mapFlags())
	if err != nil {
		return nil, pathError("mmap", r.name, err)
	}
	if copying {
		if err := r.copyOut(dst, oldLen); err != nil {
			return dst, err
		}
		if prot != r.cur {
			if err := sysProtect(dst, uintptr(newLen), r.cur); err != nil {
				return dst, pathError("mprotect", r.name, err)
			}
		}
	}
	return dst, r.applyFlags(dst, 0, newLen)
}

// Grow grows the region to length bytes together with its file, for
// append-style storage: it first makes the file's blocks for the new part
// exist, extending the file to at least the region's end, and then resizes
// the region as Resize does. The blocks are allocated on disk (fallocate on
// Linux; elsewhere, and on file systems without fallocate, the part beyond
// the file's end is written with zeros), so that a full disk is an error
// returned by Grow, not a SIGBUS when the new memory is written later.
// Where the file is already long enough, Grow only allocates blocks that
// are missing (holes), never changing its contents.
//
// length must not be smaller than Len (fs.ErrInvalid: use Resize to
// shrink). It must be a multiple of PageSize unless the file ends at the
// region's new end once grown (a file shorter than that is extended to
// exactly the region's end, so any length is fine then); ErrUnaligned
// otherwise. For an anonymous region Grow is Resize, and for a device the
// file is not touched.
//
// The file must be open for writing, with or without O_APPEND (a file that
// is not gives an error matching fs.ErrInvalid and EBADF). An error from the
// file system is an *fs.PathError (Op "fallocate" or "write") keeping its
// errno, as in errors.Is(err, syscall.ENOSPC) for a full disk; the region
// is then left as it was, and the file may have grown by part of the
// request. Grow returns ErrNotMapped if the region is not mapped, an error
// matching fs.ErrClosed for a region from Open or whose file is closed, and
// the errors of Resize. Like Resize, it waits for WriteAt and Access calls
// in flight. Inside a reservation, the memory of a region never moves and
// slices from Bytes stay valid across Resize and Grow for the part that
// remains mapped; without a reservation, Resize and Grow may move it.
// Growing beyond the size given to Reserve is refused (fs.ErrInvalid) before
// the file is touched.
//
// A PastEOF region may already reach past the file's end: Grow(r.Len())
// then allocates the file up to the region's end, and the pages it grows
// into stop faulting.
func (r *Region) Grow(length int) error {
	if r == nil {
		return errNilRegion
	}
	r.mu.Lock()
	defer r.endLock()
	if !r.mapped {
		return r.notMappedErr()
	}
	if r.src == srcOpened {
		return errResizeOpened
	}
	if length < r.length {
		return invalidf("%s: Grow to %d bytes would shrink a region of %d bytes", r.name, length, r.length)
	}
	if n, ok := roundUp(length, pageSize); r.reserve > 0 && (!ok || n > r.reserve) {
		// Refused before the file grows.
		return invalidf("%s: growing to %d bytes, beyond the reservation of %d bytes", r.name, length, r.reserve)
	}
	if err := r.checkFile(); err != nil {
		return err
	}
	if r.src.checksEOF() {
		if int64(length) > math.MaxInt64-r.off-int64(pageSize) {
			return invalidf("%s: length %d overflows", r.name, length)
		}
		size, err := sysFileSize(r.file.Fd())
		if err != nil {
			return pathError("fstat", r.name, err)
		}
		end := r.off + int64(length)
		if length%pageSize != 0 && size > end {
			return fmt.Errorf("mmap: %s: length %d is not a multiple of the page size %d and the file is longer: %w",
				r.name, length, pageSize, ErrUnaligned)
		}
		// The region may reach past the file's end (Resize allows the
		// rest of the file's last page): allocate from the file's end then.
		if from := min(r.off+int64(r.length), size); end > from {
			if err := sysAllocate(r.file, from, end-from); err != nil {
				return err
			}
		}
	}
	return r.resizeLocked(length)
}

// zeroChunk is the size of the writes of zeros that extend a file.
const zeroChunk = 64 << 10

// fillZeros extends f with zeros up to off+n bytes, if it is shorter. It
// writes the zeros from the file's end on, rather than setting the size, so
// that the file system allocates the blocks now; the end is also where a
// file opened with O_APPEND takes every write. Errors are *fs.PathError.
func fillZeros(f *os.File, off, n int64) error {
	size, _, err := fileStat(f)
	if err != nil {
		return osPathError("fstat", f.Name(), err)
	}
	end := off + n
	pos := size
	if pos >= end {
		return nil
	}
	zeros := make([]byte, min(zeroChunk, end-pos))
	for pos < end {
		k, err := sysWriteAt(f, zeros[:min(int64(len(zeros)), end-pos)], pos)
		pos += int64(k)
		if err != nil {
			return osPathError("write", f.Name(), err)
		}
	}
	return nil
}
