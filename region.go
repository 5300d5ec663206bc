// This file holds the Region type, its invariants, and the methods that map,
// unmap, flush, advise, lock and protect it.

package mmap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// A Region is one mapping of anonymous memory or of part of a file: where
// its memory comes from, its length, its protection and flags, and whether it
// is mapped now. Build one with [NewAnon], [NewFile], [Open] or
// [NewSharedMemory]; the zero Region is not usable. The methods of a nil
// *Region (what a constructor returns with its error) do nothing: they
// return an error matching fs.ErrInvalid, or the zero value where they
// return no error.
//
// All methods are safe for concurrent use. A Region must not be copied.
type Region struct {
	mu regionLock // see lock.go: ReadAt, WriteAt and Access count themselves instead of locking

	// Set by the constructor and never changed.
	src   source // where the memory comes from
	name  string // the file's name, or "anonymous"
	off   int64  // offset in the file; 0 for anonymous memory
	prot  Prot   // protection the region was built with
	flags Flag

	// Guarded by mu: written with it held for writing, read with it held.
	//
	// file is the backing file: set by the constructor for every source but
	// srcAnon, and cleared (nil) for good when the region stops using it:
	// by Open once mapped, by Close for srcShared. length changes only by
	// Resize and Grow.
	//
	// When mapped, addr is the start of the data (nil when length is 0) and
	// [base, base+size) is what Unmap releases: the data rounded up to whole
	// pages, plus any guard pages, alignment slack and reservation around it,
	// so base <= addr and addr+length <= base+size. When not mapped, addr
	// and base are nil and size is 0. reserve is the size given to Reserve
	// (0: none); a reserved region never moves while mapped.
	file    *os.File
	length  int
	mapped  bool
	closed  bool // Close was called and no Map since: errors say so
	cur     Prot // current protection: prot at Map, then what Protect set
	addr    unsafe.Pointer
	base    unsafe.Pointer
	size    uintptr
	reserve int
	guards  guardKind // how the guard pages are made, chosen at Map
	secret  *os.File  // memfd_secret file holding a Secret region's memory while mapped, or nil

	// readable and writable are what the fast paths of ReadAt and WriteAt
	// (copy.go) read instead of the fields above: the mapped bytes they may
	// copy from and to, or nil where they must take the path that checks
	// everything (not mapped, no such access, a device for reads). endLock
	// sets them from the fields above each time a Lock of mu ends, so they
	// never describe a state that a Lock has ended.
	readable, writable []byte
}

// endLock sets readable and writable from the region's state, and unlocks
// r.mu. Every Lock of r.mu ends with endLock.
func (r *Region) endLock() {
	r.readable, r.writable = nil, nil
	if r.mapped && r.length > 0 && fastPathsAllowed() {
		mem := unsafe.Slice((*byte)(r.addr), r.length)
		if r.cur&(Read|Write) != 0 && r.src != srcDevice {
			r.readable = mem
		}
		if r.cur&Write != 0 {
			r.writable = mem
		}
	}
	r.mu.Unlock()
}

// guardKind is how a region's guard pages are made.
type guardKind uint8

const (
	noGuards     guardKind = iota
	guardPages             // PROT_NONE pages of the reservation, on each side of the memory
	guardMarkers           // guard regions installed in the mapping itself (MADV_GUARD_INSTALL)
)

// Set by tests to take the paths of systems that lack guard regions, secret
// memory or the populate advice.
var testNoGuardMarkers, testNoSecretMemory, testNoPopulateAdvice bool

// geometry is where a region's memory lies in the address space its
// mapping takes: guard bytes on each side, and the alignment of the memory.
type geometry struct {
	guards guardKind
	guard  int // bytes of guard on each side: 0 with noGuards
	align  int // alignment of the memory beyond a page, or 0
}

// geometry returns the region's geometry, with the guards chosen at Map.
func (r *Region) geometry() geometry {
	g := geometry{guards: r.guards}
	if r.guards != noGuards {
		g.guard = pageSize
	}
	if r.flags&HugePages != 0 {
		g.align = hugePageSize()
	}
	if r.flags&HugeTLB != 0 && (r.guards == guardPages || r.reserve > 0) {
		// Huge pages placed in a reservation must be aligned there; mmap
		// aligns them by itself otherwise.
		g.align = HugePageSize()
	}
	return g
}

// reservation reports whether memory of this geometry lies in a
// reservation of inaccessible address space (with reserve bytes reserved),
// whose free parts are PROT_NONE mappings that belong to the region.
func (g geometry) reservation(reserve int) bool {
	return reserve > 0 || g.guards == guardPages || g.align > 0
}

// span returns the length of address space to map for n bytes of memory,
// and false if it overflows.
func (g geometry) span(n int) (int, bool) {
	if n > math.MaxInt-2*g.guard-g.align {
		return 0, false
	}
	return n + 2*g.guard + g.align, true
}

// place returns where the memory starts in a span mapped at base.
func (g geometry) place(base unsafe.Pointer) unsafe.Pointer {
	at := uintptr(base) + uintptr(g.guard)
	if g.align > 0 {
		at = (at + uintptr(g.align) - 1) &^ (uintptr(g.align) - 1)
	}
	return unsafe.Add(base, at-uintptr(base))
}

// chooseGuards returns how to make the guard pages at the next Map: guard
// regions inside the mapping for plain private anonymous memory where the
// kernel has them, else PROT_NONE pages.
func (r *Region) chooseGuards() guardKind {
	switch {
	case r.flags&(Guard|Secret) == 0:
		return noGuards
	case r.src == srcAnon && r.flags&Private != 0 && r.flags&(Secret|HugeTLB|HugePages|Locked) == 0 &&
		r.reserve == 0 && !testNoGuardMarkers && sysHasGuardMarkers():
		return guardMarkers
	}
	return guardPages
}

// mapFlags returns the flags with which the region's memory is mapped.
func (r *Region) mapFlags() Flag {
	f := r.flags
	if r.secret != nil {
		f = f&^(Private|Secret) | Shared
	}
	if f&HugePages != 0 || r.secret != nil || !sysPopulateByMap() {
		// Populated by applyFlags: after the huge page advice, by touching
		// (the kernel refuses the populate advice for secret memory), or
		// with the populate advice.
		f &^= Populate
	}
	return f
}

// source is where a region's memory comes from.
type source uint8

const (
	srcAnon   source = iota // anonymous memory (NewAnon): no file
	srcFile                 // a regular file (NewFile), the caller's to close
	srcDevice               // a device (NewFile): no end-of-file check
	srcZero                 // /dev/zero (NewFile): Shared, it is shared anonymous memory (see sharedAnon)
	srcOpened               // a file opened by Open, closed once mapped: never mapped again
	srcShared               // a memory file made by NewSharedMemory, closed by Close
)

// hasFile reports whether the region's memory comes from a file (it may
// have been closed since: see Region.file).
func (s source) hasFile() bool { return s != srcAnon }

// checksEOF reports whether the file's end limits the region.
func (s source) checksEOF() bool { return s == srcFile || s == srcOpened || s == srcShared }

// compile-time checks of the interfaces a Region implements.
var (
	_ io.ReaderAt = (*Region)(nil)
	_ io.WriterAt = (*Region)(nil)
	_ io.Closer   = (*Region)(nil)
)

const anonName = "anonymous"

var (
	errNegativeOffset = invalidf("negative offset")
	errNilRegion      = invalidf("method of a nil *Region")
	errClosedRegion   = fmt.Errorf("mmap: region from Open cannot be mapped again after Unmap: %w", fs.ErrClosed)
)

// validate checks the protection and flags a region is built with.
func validate(prot Prot, flags Flag, anon bool) error {
	if prot&^protMask != 0 {
		return invalidf("unknown protection bits %#x", uint8(prot&^protMask))
	}
	if flags&^flagMask != 0 {
		return invalidf("unknown flag bits %#x", uint32(flags&^flagMask))
	}
	if flags&(Shared|Private) == 0 || flags&(Shared|Private) == Shared|Private {
		return invalidf("exactly one of Shared and Private must be given, not %v", flags&(Shared|Private))
	}
	if !anon && flags&HugePages != 0 {
		return invalidf("HugePages is for anonymous regions only")
	}
	if flags&Secret != 0 && (!anon || flags&Shared != 0) {
		return invalidf("Secret is for anonymous private regions only")
	}
	if flags&HugeTLB != 0 && (!anon || flags&(HugePages|Secret) != 0) {
		return invalidf("HugeTLB is for anonymous regions without HugePages or Secret only")
	}
	if flags&HugeTLB != 0 && HugePageSize() == 0 {
		return unsupportedf("HugeTLB: no huge pages on this system")
	}
	if anon && flags&PastEOF != 0 {
		return invalidf("PastEOF is for file regions only")
	}
	if flags&(Locked|Secret) != 0 && prot == 0 {
		return invalidf("%v needs a protection other than none: pages without access cannot be locked", flags&(Locked|Secret))
	}
	return sysSupports(flags, anon)
}

// Bytes returns the region's memory: exactly Len bytes, starting on a page
// boundary. It returns nil when the region is not mapped, and an empty,
// non-nil slice for a mapped region of length 0.
//
// The slice is valid only until Unmap. Inside a reservation, the memory of a
// region never moves and slices from Bytes stay valid across Resize and Grow
// for the part that remains mapped; without a reservation, Resize and Grow
// may move it. Using a slice that is no longer valid crashes the program or,
// worse, reads or writes whatever is mapped at that address next. Access
// beyond the end of the file (a truncated file, or the part of a PastEOF
// region that the file has not reached) raises SIGBUS, and a write to memory
// without Write protection raises SIGSEGV; both crash the program unless the
// goroutine has called debug.SetPanicOnFault. ReadAt, WriteAt and Access are
// the safe alternatives.
func (r *Region) Bytes() []byte {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.mapped {
		return nil
	}
	if r.length == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(r.addr), r.length)
}

// Len returns the region's length in bytes. Resize and Grow change it.
func (r *Region) Len() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.length
}

// Offset returns the offset in the file at which the region starts; 0 for
// anonymous memory.
func (r *Region) Offset() int64 {
	if r == nil {
		return 0
	}
	return r.off
}

// Flags returns the flags the region was built with.
func (r *Region) Flags() Flag {
	if r == nil {
		return 0
	}
	return r.flags
}

// Prot returns the region's current protection: the one it was built with,
// or the one Protect set since it was mapped.
func (r *Region) Prot() Prot {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// Mapped reports whether the region is mapped now. It never fails. The
// answer may be out of date as soon as it returns if another goroutine maps
// or unmaps the region.
func (r *Region) Mapped() bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mapped
}

// SecretMemory reports whether the region's memory is secret memory now:
// memory of memfd_secret(2), removed from the kernel's direct map, which
// Map gives a Secret region on Linux where the kernel allows it (see
// [Secret]). It is false for a region that is not mapped or not Secret,
// and for a Secret region that got the layout of other systems: locked
// anonymous memory kept out of core dumps. The answer holds until Unmap;
// each Map chooses again.
func (r *Region) SecretMemory() bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.secret != nil
}

// File returns the file backing the region, or nil for anonymous memory, for
// a region from Open (whose file is closed once it is mapped) and for a
// region from NewSharedMemory after Close. The region keeps using the file:
// do not close it while the region may still be mapped again. A region from
// NewSharedMemory owns its file, which its Close closes; pass the file to
// another process (exec.Cmd.ExtraFiles duplicates it) but do not close it,
// nor use it while another goroutine may call Close.
func (r *Region) File() *os.File {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.file
}

// Map establishes the mapping. After Unmap, Map maps the same range again:
// fresh zero pages for anonymous memory, the file's current contents for a
// file. Mapping an already-built region allocates no memory.
//
// Map returns ErrMapped if the region is mapped already, an error matching
// ErrPastEOF if a file region without the PastEOF flag has a whole page
// beyond the current end of the file, and an error matching fs.ErrClosed if
// the file is closed (always so for a region from Open after Unmap). Errors
// of the operating system are of type *fs.PathError. Map after Close maps
// the region again where its file allows it. Map of a nil *Region or of the
// zero Region, which no constructor built, returns an error matching
// fs.ErrInvalid.
func (r *Region) Map() error {
	if r == nil {
		return errNilRegion
	}
	if r.flags&(Shared|Private) == 0 { // every constructor sets one
		return invalidf("Map of a zero Region: build one with NewAnon, NewFile or Open")
	}
	r.mu.Lock()
	defer r.endLock()
	if r.mapped {
		return ErrMapped
	}
	if r.src == srcOpened && r.file == nil {
		return errClosedRegion
	}
	if r.src == srcShared && r.file == nil {
		return errClosedShared
	}
	return r.mapLocked()
}

// mapLocked maps the region; r.mu is held for writing.
func (r *Region) mapLocked() error {
	fd, off := r.fdOff(0)
	if r.file != nil {
		if fd == ^uintptr(0) {
			return fmt.Errorf("mmap: %s: %w", r.name, os.ErrClosed)
		}
		if r.src.checksEOF() {
			size, err := sysFileSize(fd)
			if err != nil {
				return pathError("fstat", r.name, err)
			}
			if err := r.checkEOF(size); err != nil {
				return err
			}
		}
	}
	if r.length == 0 {
		r.mapped, r.closed, r.cur = true, false, r.prot
		return nil
	}
	mapLen, _ := roundUp(r.length, pageSize) // checked by the constructor
	if r.flags&Secret != 0 && r.prot&Exec == 0 && !testNoSecretMemory {
		// The file spans the whole reservation, if any, so that Resize
		// maps more of it in place instead of moving the region.
		f, err := sysSecretMemory(max(mapLen, r.reserve))
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		if f != nil {
			r.secret, fd, off = f, f.Fd(), 0
		}
	}
	if err := r.mapSpan(fd, off, mapLen); err != nil {
		if r.secret != nil {
			r.secret.Close()
			r.secret = nil
		}
		return err
	}
	r.mapped, r.closed, r.cur = true, false, r.prot
	return nil
}

// mapSpan maps the region's mapLen bytes of memory from fd at off, with the room
// that its flags need around it: guard pages, huge page alignment, or a
// reservation to grow in.
func (r *Region) mapSpan(fd uintptr, off int64, mapLen int) error {
	r.guards = r.chooseGuards()
	g := r.geometry()
	resLen, ok := g.span(max(mapLen, r.reserve))
	if !ok {
		return invalidf("%s: length %d with guard pages and alignment overflows int", r.name, r.length)
	}
	var (
		base unsafe.Pointer
		addr unsafe.Pointer
		err  error
	)
	switch {
	case !g.reservation(r.reserve):
		// The guard regions, if any, are part of the mapping itself.
		base, err = sysMap(fd, off, nil, uintptr(resLen), r.prot, r.mapFlags())
		addr = g.place(base)
		if err == nil && g.guards == guardMarkers {
			if err = r.installGuards(base, addr, mapLen); err != nil {
				sysUnmap(base, uintptr(resLen))
				return err
			}
		}
	default:
		base, err = sysReserve(uintptr(resLen))
		if err == nil {
			addr, err = sysMap(fd, off, g.place(base), uintptr(mapLen), r.prot, r.mapFlags())
			if err != nil {
				sysUnmap(base, uintptr(resLen))
			}
		}
	}
	if err != nil {
		err = pathError("mmap", r.name, err)
		if r.flags&HugeTLB != 0 && errors.Is(err, fs.ErrInvalid) {
			// The arguments were checked: the system refuses huge pages
			// for this mapping (an emulator such as qemu-user does).
			return fmt.Errorf("mmap: %s: huge pages refused: %w (%w)", r.name, errors.ErrUnsupported, err)
		}
		return err
	}
	r.addr, r.base, r.size, r.cur = addr, base, uintptr(resLen), r.prot
	if err := r.applyFlags(r.addr, 0, mapLen); err != nil {
		sysUnmap(r.base, r.size)
		r.addr, r.base, r.size = nil, nil, 0
		return err
	}
	return nil
}

// installGuards makes the page before the mapLen bytes at addr and the page
// after them guard regions, in a span mapped at base.
func (r *Region) installGuards(base, addr unsafe.Pointer, mapLen int) error {
	for _, p := range []unsafe.Pointer{base, unsafe.Add(addr, mapLen)} {
		if err := sysGuard(p, uintptr(pageSize), true); err != nil {
			return pathError("madvise", r.name, err)
		}
	}
	return nil
}

// applyFlags applies the flags that take effect after mmap to the n bytes
// at offset off of the region's memory, which starts at mem (all of it at
// Map, the new part after Resize).
func (r *Region) applyFlags(mem unsafe.Pointer, off, n int) error {
	addr := unsafe.Add(mem, off)
	if r.flags&HugePages != 0 {
		if err := sysAdvise(addr, uintptr(n), HugePage); err != nil {
			return pathError("madvise", r.name, err)
		}
	}
	switch {
	case r.secret != nil:
		// The kernel locks secret memory and keeps it out of core dumps by
		// itself; it refuses MADV_WIPEONFORK, so a forked child gets no
		// mapping there at all.
		if err := sysDontFork(addr, uintptr(n)); err != nil {
			return pathError("madvise", r.name, err)
		}
	case r.flags&Secret != 0:
		if mapConceal == 0 {
			if err := sysAdvise(addr, uintptr(n), DontDump); err != nil {
				return pathError("madvise", r.name, err)
			}
		}
		if err := sysWipeOnFork(addr, uintptr(n)); err != nil {
			return pathError("madvise", r.name, err)
		}
	}
	if r.flags&(Locked|Populate) != 0 && r.flags&PastEOF != 0 {
		// Only the pages inside the file can be locked or faulted in.
		in, err := r.inFile(off, n)
		if err != nil {
			return err
		}
		n = in
	}
	if r.flags&(Locked|Secret) != 0 && r.secret == nil && n > 0 {
		if err := sysLock(addr, uintptr(n)); err != nil {
			return pathError("mlock", r.name, err)
		}
	}
	if r.flags&Populate != 0 && r.cur&(Read|Write) != 0 && n > 0 {
		if err := r.populate(mem, off, n, !r.src.hasFile() && r.cur&Write != 0); err != nil {
			return err
		}
		if r.flags&HugePages != 0 {
			sysCollapse(addr, uintptr(n)) // a hint: the pages stay small if it fails
		}
	}
	return nil
}

// populate faults in the n bytes at offset off of the region's memory,
// which starts at mem, for reading or for writing: with the populate advice
// where the system has it, else by touching each page with faults caught.
// A page that cannot be faulted in is an error, never a SIGBUS.
func (r *Region) populate(mem unsafe.Pointer, off, n int, write bool) error {
	op := "read"
	if write {
		op = "write"
	}
	if r.cur&(Read|Write) == 0 || write && r.cur&Write == 0 {
		return &FaultError{Op: op, Offset: int64(off), Err: fs.ErrPermission}
	}
	if n == 0 {
		return nil
	}
	addr := unsafe.Add(mem, off)
	if r.secret == nil && !testNoPopulateAdvice {
		fault, err := sysPopulate(addr, uintptr(n), write)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			if fault {
				class := ErrFault
				if r.pastEOF(int64(off + n - pageSize)) { // the last page
					class = errors.Join(ErrFault, errFaultPastEOF)
				}
				err = &osError{err, class}
			}
			return pathError("madvise", r.name, err)
		}
	}
	if r.src.hasFile() {
		// Start reading the whole range in at once; the touch then waits
		// for it. It is only a hint, so its error does not matter.
		_ = sysAdvise(addr, uintptr(n), WillNeed)
	}
	return r.touch(mem, off, n, write)
}

// touch faults in the n bytes at offset off of the region's memory, which
// starts at mem, by touching each page with memory faults caught: a read of
// a byte, or an atomic add of zero to a word, which leaves the contents as
// they are even while other threads write them. A fault is returned as
// faultError's *FaultError, which matches ErrPastEOF where the page lies
// past the end of the file.
func (r *Region) touch(mem unsafe.Pointer, off, n int, write bool) error {
	at := off // offset of the page being touched
	var s uint32
	fault := faultSafe(func() {
		for ; at < off+n; at += pageSize {
			p := unsafe.Add(mem, at)
			if write {
				atomic.AddUint32((*uint32)(p), 0)
			} else {
				s += uint32(*(*byte)(p))
			}
		}
	})
	runtime.KeepAlive(s) // keeps the loads from being removed
	if fault == 0 {
		return nil
	}
	op := "read"
	if write {
		op = "write"
	}
	return r.faultError(op, int64(at), knownAddr(fault), nil)
}

// inFile returns how many of the n bytes at offset at in the region lie in
// pages that hold bytes of the file now.
func (r *Region) inFile(at, n int) (int, error) {
	if !r.src.checksEOF() || r.file == nil {
		return n, nil
	}
	size, err := sysFileSize(r.file.Fd())
	if err != nil {
		return 0, pathError("fstat", r.name, err)
	}
	left := size - r.off - int64(at) // bytes of the file from at on
	if left <= 0 {
		return 0, nil
	}
	if left >= int64(n) {
		return n, nil
	}
	in, _ := roundUp(int(left), pageSize) // less than n, which is whole pages
	return min(in, n), nil
}

// pastEOF reports whether the byte at offset off of the region lies beyond
// the end of its file now. It asks the region's file, or, for a region from
// Open (whose file is closed once mapped), the file the mapping leads to,
// where the system tells (sysMappedFileSize). It reports false when it
// cannot tell. The region is mapped and held (locked or counted).
func (r *Region) pastEOF(off int64) bool {
	if !r.src.checksEOF() || off < 0 {
		return false
	}
	var (
		size int64
		err  error
	)
	switch {
	case r.file != nil:
		size, err = sysFileSize(r.file.Fd())
	case r.src == srcOpened && r.mapped && off < int64(r.length):
		size, err = sysMappedFileSize(uintptr(r.addr) + uintptr(off))
	default:
		return false
	}
	return err == nil && r.off+off >= size
}

// checkEOF returns ErrPastEOF if the region has a whole page beyond size.
func (r *Region) checkEOF(size int64) error { return r.checkEOFLen(r.length, size) }

// checkEOFLen returns ErrPastEOF if a region of length bytes at r.off would
// have a whole page beyond size and the region does not allow it (PastEOF).
func (r *Region) checkEOFLen(length int, size int64) error {
	if r.flags&PastEOF != 0 {
		return nil
	}
	mapLen, _ := roundUp(length, pageSize)
	// r.off is a multiple of the page size, so a whole page lies beyond the
	// end when mapLen exceeds what is left of the file by a page or more.
	// (Rounding size up to a page could overflow an int64.)
	if r.off > size || int64(mapLen)-(size-r.off) >= int64(pageSize) {
		return fmt.Errorf("mmap: %s: %d bytes at offset %d, file size %d: %w", r.name, length, r.off, size, ErrPastEOF)
	}
	return nil
}

// Unmap releases the mapping. It waits for WriteAt and Access calls in
// flight; a ReadAt in flight returns the bytes as they were mapped, or
// ErrNotMapped. Calls that start later return ErrNotMapped. A second Unmap
// returns ErrNotMapped and does nothing else. Dirty pages of a shared file
// region still reach the file eventually; call Flush first to wait for them.
//
// Unmap of a Secret region overwrites its memory with zeros first. If that
// fails (memory unmapped or protected behind the region's back), Unmap
// wipes what it can, unmaps the region all the same and returns the error:
// a *FaultError matching ErrFault that tells which page could not be
// written, or the *fs.PathError of mprotect. Other errors of the operating
// system are of type *fs.PathError and leave the region mapped.
//
// After Unmap, every slice returned by Bytes is invalid.
func (r *Region) Unmap() error {
	if r == nil {
		return errNilRegion
	}
	r.mu.Lock()
	defer r.endLock()
	return r.unmapLocked()
}

// unmapLocked unmaps the region; r.mu is held for writing.
func (r *Region) unmapLocked() error {
	if !r.mapped {
		return r.notMappedErr()
	}
	var werr error
	if r.addr != nil {
		mapLen, _ := roundUp(r.length, pageSize)
		if r.flags&Secret != 0 {
			// A region that cannot be wiped whole is unmapped all the
			// same: keeping it mapped would keep the secret, and munmap
			// hands the pages back to the system, which zeroes them.
			werr = r.wipe(r.addr, mapLen)
			if testHookWiped != nil && werr == nil {
				testHookWiped(unsafe.Slice((*byte)(r.addr), mapLen))
			}
		}
		if r.flags&(Locked|Secret) != 0 && r.secret == nil {
			if err := sysUnlock(r.addr, uintptr(mapLen)); err != nil && werr == nil {
				return pathError("munlock", r.name, err)
			}
		}
		if err := sysUnmap(r.base, r.size); err != nil {
			return pathError("munmap", r.name, err)
		}
	}
	if r.secret != nil {
		r.secret.Close() // the memory is gone with the last mapping and descriptor
		r.secret = nil
	}
	r.mapped, r.addr, r.base, r.size = false, nil, nil, 0
	return werr
}

// testHookWiped, when set by a test, sees the memory of a Secret region
// after it is wiped and before it is unmapped.
var testHookWiped func([]byte)

// Close unmaps the region, so that a Region is an io.Closer. It returns what
// Unmap returns. Afterwards, until the next Map, the errors of every method
// that needs the mapping (ReadAt, Flush, Unmap, a second Close...) match
// fs.ErrClosed as well as ErrNotMapped, as those of a closed os.File do.
//
// A region from NewSharedMemory owns its file, and Close releases both: it
// unmaps the region if it is mapped and closes the file, after which File
// returns nil and Map fails with an error matching fs.ErrClosed.
func (r *Region) Close() error {
	if r == nil {
		return errNilRegion
	}
	if r.src == srcShared {
		return r.closeOwned()
	}
	r.mu.Lock()
	defer r.endLock()
	err := r.unmapLocked()
	if !r.mapped {
		r.closed = true
	}
	return err
}

// notMappedErr returns the error of a method that needs the mapping of a
// region that is not mapped: ErrNotMapped, or after Close an error matching
// both ErrNotMapped and fs.ErrClosed. r.mu is held, or the call is counted
// by r.mu.enter.
func (r *Region) notMappedErr() error {
	if r.closed {
		return errClosed
	}
	return ErrNotMapped
}

// Reserved returns the size given to Reserve, the length up to which the
// region grows in place, or 0 if the region has no reservation.
func (r *Region) Reserved() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.reserve
}

// span returns the memory of the whole pages that hold the n bytes at off
// of the region, or of the whole region if n is negative; r.mu is held.
// The address is nil when there is nothing to act on. op names the call in
// the error for a range outside the region.
func (r *Region) span(op string, off, n int) (unsafe.Pointer, uintptr, error) {
	if !r.mapped {
		return nil, 0, r.notMappedErr()
	}
	if n < 0 {
		off, n = 0, r.length
	}
	if off > r.length || n > r.length-off {
		return nil, 0, invalidf("%s range [%d, %d+%d) outside a region of %d bytes", op, off, off, n, r.length)
	}
	if n == 0 {
		return nil, 0, nil
	}
	start := pageOf(off)
	end, _ := roundUp(off+n, pageSize)
	return unsafe.Add(r.addr, start), uintptr(end - start), nil
}

// checkRange rejects a negative range given to a ranged method.
func checkRange(op string, off, n int) error {
	if off < 0 || n < 0 {
		return invalidf("%s range [%d, %d+%d) is negative", op, off, off, n)
	}
	return nil
}

// mappedLen returns the region's length rounded up to whole pages.
func (r *Region) mappedLen() uintptr {
	n, _ := roundUp(r.length, pageSize)
	return uintptr(n)
}

// Flush writes the dirty pages of a shared file region to the file and waits
// until they are written (msync with MS_SYNC). It returns nil at once for
// private and anonymous regions, whose writes never reach a file, and
// ErrNotMapped if the region is not mapped (also matching fs.ErrClosed after
// Close). An error of the system (EIO: the data could not be written) is an
// *fs.PathError with Op "msync". On Windows, which waits for the disk
// through the region's file (FlushFileBuffers), Flush of a shared file
// region whose file was closed writes the pages to the file and returns an
// error matching fs.ErrClosed; on unix it needs no file.
func (r *Region) Flush() error {
	if r == nil {
		return errNilRegion
	}
	return r.flush(0, -1, false)
}

// FlushAsync starts writing the dirty pages of a shared file region to the
// file and returns without waiting (msync with MS_ASYNC; on Linux the kernel
// writes dirty pages back by itself and the call only checks the range). Its
// errors are those of Flush; an error from the write itself is reported by
// a later Flush, or not at all.
func (r *Region) FlushAsync() error {
	if r == nil {
		return errNilRegion
	}
	return r.flush(0, -1, true)
}

// FlushRange is Flush for the n bytes at offset off, rounded out to whole
// pages. The range must lie inside the region (fs.ErrInvalid otherwise); its
// other errors are those of Flush.
func (r *Region) FlushRange(off, n int) error {
	if r == nil {
		return errNilRegion
	}
	if err := checkRange("flush", off, n); err != nil {
		return err
	}
	return r.flush(off, n, false)
}

// FlushAsyncRange is FlushAsync for the n bytes at offset off, rounded out
// to whole pages. The range must lie inside the region (fs.ErrInvalid
// otherwise); its other errors are those of FlushAsync.
func (r *Region) FlushAsyncRange(off, n int) error {
	if r == nil {
		return errNilRegion
	}
	if err := checkRange("flush", off, n); err != nil {
		return err
	}
	return r.flush(off, n, true)
}

// flush flushes the n bytes at off, or the whole region if n is negative.
func (r *Region) flush(off, n int, async bool) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	addr, size, err := r.span("flush", off, n)
	if err != nil || addr == nil || r.flags&Shared == 0 || !r.src.hasFile() {
		return err
	}
	if err := sysFlush(addr, size, async, r.file); err != nil {
		return pathError("msync", r.name, err)
	}
	return nil
}

// Advise tells the operating system how the region will be used; see
// [Advice] for what each one does to the data. It returns ErrNotMapped if
// the region is not mapped, fs.ErrInvalid for an unknown Advice or for
// DoDump on a Secret region (which stays out of core dumps), and an error
// matching errors.ErrUnsupported for advice the platform does not have.
// PopulateRead and PopulateWrite return the errors described there.
func (r *Region) Advise(a Advice) error {
	if r == nil {
		return errNilRegion
	}
	return r.advise(0, -1, a)
}

// AdviseRange is Advise for the n bytes at offset off, rounded out to whole
// pages, such as the index part of a file. The range must lie inside the
// region (fs.ErrInvalid otherwise); its
// other errors are those of Advise.
func (r *Region) AdviseRange(off, n int, a Advice) error {
	if r == nil {
		return errNilRegion
	}
	if err := checkRange("madvise", off, n); err != nil {
		return err
	}
	return r.advise(off, n, a)
}

// advise advises a for the n bytes at off, or the whole region if n is
// negative.
func (r *Region) advise(off, n int, a Advice) error {
	if a < 0 || int(a) >= len(adviceNames) {
		return invalidf("unknown advice %d", int(a))
	}
	if a == DoDump && r.flags&Secret != 0 {
		return invalidf("DoDump advice for a Secret region")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	addr, size, err := r.span("madvise", off, n)
	if err != nil || addr == nil {
		return err
	}
	switch a {
	case PopulateRead, PopulateWrite:
		return r.populate(r.addr, int(uintptr(addr)-uintptr(r.addr)), int(size), a == PopulateWrite)
	}
	if err := sysAdvise(addr, size, a); err != nil {
		return pathError("madvise", r.name, err)
	}
	return nil
}

// Lock locks the region's pages in memory (mlock), faulting them in, so that
// they are never paged out. It is subject to RLIMIT_MEMLOCK: an error from
// the operating system (an *fs.PathError with Op "mlock" matching
// syscall.ENOMEM or syscall.EPERM) says when the limit is reached. It
// returns ErrNotMapped if the region is not mapped, and does nothing for a
// region of length 0. The
// pages of a PastEOF region beyond the end of its file cannot be locked
// (ENOMEM): lock the part inside the file with LockRange.
//
// Secret memory (see [Region.SecretMemory]) is locked by the kernel
// itself, which refuses mlock for it: Lock of such a region returns nil.
func (r *Region) Lock() error {
	if r == nil {
		return errNilRegion
	}
	return r.lockOp("mlock", 0, -1, sysLock)
}

// LockRange is Lock for the n bytes at offset off, rounded out to whole
// pages. The range must lie inside the region (fs.ErrInvalid otherwise); its
// other errors are those of Lock.
func (r *Region) LockRange(off, n int) error {
	if r == nil {
		return errNilRegion
	}
	if err := checkRange("mlock", off, n); err != nil {
		return err
	}
	return r.lockOp("mlock", off, n, sysLock)
}

// Unlock undoes Lock (munlock). A Secret region stays locked: Unlock of one
// returns an error matching fs.ErrInvalid. It returns ErrNotMapped if the
// region is not mapped; an error of the system is an *fs.PathError with Op
// "munlock".
func (r *Region) Unlock() error {
	if r == nil {
		return errNilRegion
	}
	return r.unlock(0, -1)
}

// UnlockRange is Unlock for the n bytes at offset off, rounded out to whole
// pages. The range must lie inside the region (fs.ErrInvalid otherwise); its
// other errors are those of Unlock.
func (r *Region) UnlockRange(off, n int) error {
	if r == nil {
		return errNilRegion
	}
	if err := checkRange("munlock", off, n); err != nil {
		return err
	}
	return r.unlock(off, n)
}

func (r *Region) unlock(off, n int) error {
	if r.flags&Secret != 0 {
		return invalidf("Unlock of a Secret region")
	}
	return r.lockOp("munlock", off, n, sysUnlock)
}

// lockOp calls fn, sysLock or sysUnlock, for the n bytes at off, or the
// whole region if n is negative.
func (r *Region) lockOp(op string, off, n int, fn func(unsafe.Pointer, uintptr) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	addr, size, err := r.span(op, off, n)
	if err != nil || addr == nil {
		return err
	}
	if r.secret != nil && op == "mlock" {
		return nil // secret memory is locked by the kernel, which refuses mlock
	}
	if err := fn(addr, size); err != nil {
		return pathError(op, r.name, err)
	}
	return nil
}

// Protect changes the region's protection to p (mprotect). Map restores the
// protection the region was built with. Protect waits for WriteAt and
// Access calls in flight (a ReadAt in flight copies under the old protection
// or the new one), and must not be called from inside Access. Slices from
// Bytes stay valid, but an access that p no longer allows raises SIGSEGV.
//
// Protect returns ErrNotMapped if the region is not mapped, an error
// matching fs.ErrInvalid for unknown protection bits, and one matching
// fs.ErrPermission for Write on a shared file region whose file is not open
// for writing, and on Windows for Exec on a file region built without Exec
// (its view is mapped without execute access, which the handles of os.Open
// and os.OpenFile lack). An error of the system is an *fs.PathError with Op
// "mprotect".
func (r *Region) Protect(p Prot) error {
	if r == nil {
		return errNilRegion
	}
	if p&^protMask != 0 {
		return invalidf("unknown protection bits %#x", uint8(p&^protMask))
	}
	r.mu.Lock()
	defer r.endLock()
	if !r.mapped {
		return r.notMappedErr()
	}
	if r.addr != nil {
		addr, n := r.addr, r.mappedLen()
		if r.guards == guardMarkers {
			// The guard regions fault whatever the protection: change the
			// whole mapping, so that it stays one.
			addr, n = r.base, r.size
		}
		if err := sysProtect(addr, n, p); err != nil {
			return pathError("mprotect", r.name, err)
		}
	}
	r.cur = p
	return nil
}

// Resident reports, one entry per page of the region, whether the page is
// in memory now (mincore). The answer may be stale as soon as it is given.
//
// On Linux 5.0 and later, mincore reports every page resident for a file
// the caller can neither write nor own (unless the caller has
// CAP_SYS_ADMIN): for such a file the answer is made up. [Region.CacheStat]
// refuses with fs.ErrPermission there instead of answering wrong.
// It returns ErrNotMapped if the region is not mapped, and an error matching
// errors.ErrUnsupported where the platform cannot tell.
func (r *Region) Resident() ([]bool, error) {
	if r == nil {
		return nil, errNilRegion
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.mapped {
		return nil, r.notMappedErr()
	}
	n := r.mappedLen() / uintptr(pageSize)
	res := make([]bool, n)
	if n == 0 {
		return res, nil
	}
	if err := sysResident(r.addr, r.mappedLen(), res); err != nil {
		return nil, pathError("mincore", r.name, err)
	}
	return res, nil
}
