// Package mmap maps files and anonymous memory into the address space of a Go
// program, safely.
//
// A [Region] describes one mapping: where its memory comes from (anonymous
// memory from [NewAnon], a file from [NewFile] or [Open]), its length, its
// protection [Prot] and its sharing [Flag]. A Region is built unmapped, mapped
// with [Region.Map] and released with [Region.Unmap]; the same Region can be
// mapped again afterwards. While it is mapped, [Region.Bytes] returns the
// memory itself, and [Region.ReadAt] and [Region.WriteAt] copy in and out of it
// without ever crashing the program.
//
// The package calls the operating system directly (mmap, munmap, msync,
// madvise, mprotect, mlock, mincore on unix): it keeps no global table of
// mappings and takes no global lock, so mappings made from many goroutines do
// not contend with each other.
//
// # Alignment
//
// A file region starts at an offset that is a multiple of [Granularity] (the
// page size on unix, the allocation granularity on Windows). Its length is a
// multiple of [PageSize], or ends exactly at the end of the file, so that a
// whole file of any size maps to exactly its bytes. An anonymous region's
// length is a multiple of PageSize. [AlignOffset] and [AlignLength] round
// values to these rules. A value that breaks them gives an error matching
// [ErrUnaligned].
//
// # Errors
//
// Every error the package returns can be classified with [errors.Is]:
// invalid arguments match [fs.ErrInvalid]; the sentinels [ErrUnaligned],
// [ErrNotMapped], [ErrMapped], [ErrPastEOF] and [ErrFault] name the package's
// own conditions; a flag or call that the platform cannot honour matches
// [errors.ErrUnsupported]. An error from the operating system is an
// [*fs.PathError] whose Op names the system call ("mmap", "munmap", "msync",
// "madvise", "mprotect", "mlock", "munlock", "mincore") and whose Path is the
// file's name, or "anonymous"; its errno stays reachable, as in
// errors.Is(err, syscall.ENOMEM).
//
// # Concurrency
//
// Every method of [Region] is safe to call from several goroutines at once.
// ReadAt and WriteAt run in parallel with each other; Map, Unmap and Protect
// wait for the ReadAt and WriteAt calls in flight and exclude new ones while
// they run. The memory returned by [Region.Bytes] is not protected by the
// package: what the program does with it is the program's to synchronize.
//
// # Caveats
//
// The slice returned by Bytes is valid only until Unmap. Using it afterwards
// crashes the program with a segmentation fault or, worse, reads or writes
// whatever the process has mapped at that address since. Keep such slices
// inside the code that owns the Region.
//
// Access to a file mapping beyond the file's current end raises SIGBUS, which
// crashes a Go program when it happens on a plain slice access. This happens
// when another process (or this one) truncates a mapped file. ReadAt and
// WriteAt catch such faults and return [ErrFault]; direct access through
// Bytes does not. See [runtime/debug.SetPanicOnFault] to protect code of your
// own in the same way.
//
// The race detector does not see accesses to mapped memory. Synchronize
// access to Bytes as you would for memory shared with another process.
//
// Go programs do not fork, but a child created by a raw fork would inherit
// every mapping; to share memory with another process, pass it a file (see
// [NewFile]) and map it there.
//
// No finalizer unmaps a Region behind the program's back: a Region that is
// never unmapped keeps its memory until the process exits.
package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Prot is the protection of a region's memory: a combination of [Read],
// [Write] and [Exec]. The zero Prot allows no access at all (a reservation
// or a guard).
type Prot uint8

const (
	// Read allows the memory to be read.
	Read Prot = 1 << iota
	// Write allows the memory to be written. Write implies Read: every
	// platform the package supports maps writable memory readable as well.
	Write
	// Exec allows the memory to be executed.
	Exec
)

const protMask = Read | Write | Exec

// String returns a form such as "rw-" or "---".
func (p Prot) String() string {
	b := []byte("---")
	if p&Read != 0 {
		b[0] = 'r'
	}
	if p&Write != 0 {
		b[1] = 'w'
	}
	if p&Exec != 0 {
		b[2] = 'x'
	}
	if p&^protMask != 0 {
		return fmt.Sprintf("%s|%#x", b, uint8(p&^protMask))
	}
	return string(b)
}

// Flag sets how a region's memory is shared and held. Exactly one of [Shared]
// and [Private] must be given; the others may be added to it.
type Flag uint32

const (
	// Shared makes writes visible to every other mapping of the same memory
	// and, for a file region, carries them to the file.
	Shared Flag = 1 << iota
	// Private makes the region copy-on-write: writes stay in this process and
	// never reach the file.
	Private
	// Populate faults every page in when the region is mapped, so that the
	// first access does not wait for the disk or the page allocator.
	// On Linux it is MAP_POPULATE; elsewhere the package touches each page,
	// after advising WillNeed for a file region.
	Populate
	// HugePages backs an anonymous region with transparent huge pages: the
	// mapping is aligned to the huge page size and advised to use them.
	// It is an error for file regions, and on systems without them.
	HugePages
	// NoReserve maps the region without reserving swap space for it. Writing
	// to such a region when memory is short can kill the process.
	NoReserve
	// Locked locks the region's pages in memory at Map (mlock) and unlocks
	// them at Unmap. It is subject to RLIMIT_MEMLOCK.
	Locked
	// Guard places an inaccessible page before and after the region, so that
	// an overrun in either direction faults at once.
	Guard
	// Secret is for keys and other secrets: the region is locked in memory,
	// excluded from core dumps, guarded, and overwritten with zeros before it
	// is unmapped. It is only allowed for anonymous private regions.
	Secret
)

const flagMask = Shared | Private | Populate | HugePages | NoReserve | Locked | Guard | Secret

var flagNames = []string{"Shared", "Private", "Populate", "HugePages", "NoReserve", "Locked", "Guard", "Secret"}

// String returns the flags' names joined by "|", such as "Shared|Populate".
func (f Flag) String() string {
	var names []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if rest := f &^ flagMask; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(rest)))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// Advice tells the operating system how a region will be used, with
// [Region.Advise]. Advice that only describes an access pattern never changes
// the region's contents; the ones that do say so.
type Advice int

const (
	// Normal is the default: no special treatment.
	Normal Advice = iota
	// Sequential expects access in increasing order: read ahead aggressively
	// and drop pages soon after they are used.
	Sequential
	// Random expects access in no order: read ahead little.
	Random
	// WillNeed expects access soon: start reading the pages in now.
	WillNeed
	// DontNeed expects no access soon: the pages may be dropped. A shared file
	// region keeps its contents (dirty pages are written back first or kept);
	// a private or anonymous region loses its changes, and reads zeros (anonymous)
	// or the file's contents (private file) afterwards.
	DontNeed
	// HugePage asks for transparent huge pages (Linux). FreeBSD gives
	// anonymous memory superpages without being asked, so there it does
	// nothing. Contents are kept.
	HugePage
	// NoHugePage asks for no transparent huge pages (Linux). Contents are kept.
	NoHugePage
	// DontDump excludes the region from core dumps. Contents are kept.
	DontDump
	// DoDump undoes DontDump.
	DoDump
	// Free lets the kernel reclaim the pages of a private or anonymous region
	// lazily, when memory is short; until then they keep their contents, and
	// afterwards they read as zeros. Writing to a page cancels the advice for
	// that page.
	Free
)

var adviceNames = []string{"Normal", "Sequential", "Random", "WillNeed", "DontNeed", "HugePage", "NoHugePage", "DontDump", "DoDump", "Free"}

// String returns the advice's name.
func (a Advice) String() string {
	if a >= 0 && int(a) < len(adviceNames) {
		return adviceNames[a]
	}
	return fmt.Sprintf("Advice(%d)", int(a))
}

// sentinel is an error value that also matches a more general error.
type sentinel struct {
	msg  string
	also error
}

func (e *sentinel) Error() string { return e.msg }

func (e *sentinel) Is(target error) bool { return e.also != nil && target == e.also }

var (
	// ErrUnaligned is returned when an offset is not a multiple of
	// Granularity, or a length is not a multiple of PageSize (and, for a
	// file region, does not end at the end of the file). It also matches
	// fs.ErrInvalid.
	ErrUnaligned error = &sentinel{"mmap: unaligned offset or length", fs.ErrInvalid}

	// ErrNotMapped is returned by an operation that needs the mapping
	// (Unmap, Flush, ReadAt, Protect...) on a region that is not mapped.
	ErrNotMapped = errors.New("mmap: region is not mapped")

	// ErrMapped is returned by Map on a region that is already mapped.
	ErrMapped = errors.New("mmap: region is already mapped")

	// ErrPastEOF is returned for a file region with a whole page beyond the
	// end of the file, where access would raise SIGBUS. NewFile and Map
	// check the file's size at the moment they are called. It also matches
	// fs.ErrInvalid.
	ErrPastEOF error = &sentinel{"mmap: region extends past the end of the file", fs.ErrInvalid}

	// ErrFault is matched by the error of a memory fault caught while
	// copying in ReadAt or WriteAt: the file was truncated underneath the
	// mapping, the disk is full, or the region does not allow the access.
	// The error is a *FaultError that tells where.
	ErrFault = errors.New("mmap: memory fault")
)

// FaultError reports a memory access that failed inside a copying method.
// It matches ErrFault with errors.Is, and unwraps to its cause where it has
// one (fs.ErrPermission when the region's protection forbids the access).
type FaultError struct {
	Op     string  // "read" or "write"
	Offset int64   // offset in the region of the first byte not copied
	Addr   uintptr // faulting address; 0 when the access was refused before any fault
	Err    error   // cause, or nil for a hardware fault
}

func (e *FaultError) Error() string {
	msg := fmt.Sprintf("mmap: fault on %s at offset %d", e.Op, e.Offset)
	if e.Addr != 0 {
		msg += fmt.Sprintf(" (address %#x)", e.Addr)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrFault.
func (e *FaultError) Is(target error) bool { return target == ErrFault }

// Unwrap returns the cause of the fault, if any.
func (e *FaultError) Unwrap() error { return e.Err }

// invalidf returns an error matching fs.ErrInvalid with a message that
// starts with "mmap: ".
func invalidf(format string, args ...any) error {
	return fmt.Errorf("mmap: "+format+": %w", append(args, fs.ErrInvalid)...)
}

// unsupportedf returns an error matching errors.ErrUnsupported.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("mmap: "+format+": %w", append(args, errors.ErrUnsupported)...)
}

// osError wraps an error of the operating system so that, besides the errno,
// it matches the class of error it stands for: EINVAL and its kin match
// fs.ErrInvalid as well.
type osError struct {
	err   error
	class error
}

func (e *osError) Error() string   { return e.err.Error() }
func (e *osError) Unwrap() []error { return []error{e.err, e.class} }

// pathError wraps err, an error of the operating system from the call op,
// in an *fs.PathError naming the region's file.
func pathError(op, path string, err error) error {
	if class := classify(err); class != nil {
		err = &osError{err, class}
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
