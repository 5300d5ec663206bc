// Package mmap maps files and anonymous memory into the address space of a Go
// program, safely.
//
// A [Region] is one mapping: anonymous memory ([NewAnon]), part of a file
// ([NewFile], [Open]) or memory shared with another process
// ([NewSharedMemory]), with a protection [Prot] and flags [Flag]. It is built
// unmapped, mapped with [Region.Map], released with [Region.Unmap] and may be
// mapped again. [Region.Bytes] is the memory itself; [Region.ReadAt],
// [Region.WriteAt] and [Region.Access] reach it without ever crashing the
// program. [Region.Resize], [Region.Grow] and [Region.Reserve] serve storage
// code that grows a file; [View] reads fixed-size records in place. The
// package calls the system directly: no global table of mappings, no global
// lock.
//
// File offsets are multiples of [Granularity]; lengths are multiples of
// [PageSize] or end exactly at the end of the file, so a whole file of any
// size maps to exactly its bytes. Anything else is [ErrUnaligned].
//
// Every error matches a class with [errors.Is]: [fs.ErrInvalid] for bad
// arguments, the package's sentinels ([ErrUnaligned], [ErrNotMapped],
// [ErrMapped], [ErrPastEOF], [ErrFault]), [fs.ErrClosed] for a closed file
// or region, [errors.ErrUnsupported] for what the system cannot honour, and
// for an error of the system an [*fs.PathError] whose Op names the call and
// whose errno stays reachable. What each system
// offers is in docs/platforms.md.
//
// # Concurrency
//
// Every method of Region is safe for concurrent use. ReadAt, WriteAt and
// Access run in parallel; Map, Unmap, Protect, Resize and Grow wait for the
// WriteAt and Access calls in flight, and a ReadAt that overlaps one of them
// returns the bytes as they were before it or after it (ErrNotMapped after
// Unmap), never another mapping's. The memory from Bytes and View is the
// program's to synchronize, and the race detector does not see accesses to
// it.
//
// # Caveats
//
// Memory returned by Bytes and View is valid only while the region stays
// mapped. Inside a reservation, the memory of a region never moves and slices
// from Bytes stay valid across Resize and Grow for the part that remains
// mapped; without a reservation, Resize and Grow may move it. Using a slice
// after Unmap crashes the program or, worse, reads whatever is mapped there
// next. No finalizer ever unmaps a region behind the program's back.
//
// A plain access through Bytes to a page past the end of the file (truncated
// underneath, or mapped ahead with [PastEOF]) raises SIGBUS, which ends the
// program; the methods that copy, and Access, return [ErrFault] instead.
//
// # Signal handlers
//
// On linux/amd64 (without the race detector), the first Map of a region of
// any length but zero installs the package's handler of SIGSEGV and SIGBUS,
// once for the process. It acts on two kinds of fault only. A fault in the
// package's own copy routine ends the copy, so that a small ReadAt or
// WriteAt costs about what a plain copy does. A fault on a goroutine that
// is inside Access sets that goroutine's panic-on-fault flag (as
// debug.SetPanicOnFault does; Access clears it again) before the Go
// runtime's handler sees the fault, so that Access need not set the flag
// around every call of fn. It passes every signal, with its context, to the
// handler installed before it (the Go runtime's): nil dereferences,
// debug.SetPanicOnFault and crashes behave as without it. Code that installs
// a handler of these signals afterwards must pass on the signals it does not
// handle to the one it replaced, as the Go runtime already requires of cgo
// code. In a program that uses cgo, one case escapes the package: when a
// SIGSEGV or SIGBUS sent to a thread of C code goes to a handler installed
// before the Go runtime's, the runtime puts its own handler back. The
// package installs its handler again at the next Map, Unmap or other change
// to a mapping; a fault in ReadAt, WriteAt or Access before that crashes the
// program. Setting the environment variable MMAPKIT_FAULT_HANDLER=off before
// the first Map keeps the handler out; ReadAt and WriteAt then copy with
// debug.SetPanicOnFault, and Access calls fn with it set, as on every other
// platform: slower for small calls, never less safe.
package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	// Populate faults every page in when the region is mapped, and the new
	// pages when Resize or Grow adds some, so that the first access does
	// not wait for the disk or the page allocator, and so that a page that
	// cannot be faulted in (a full tmpfs, memory that runs out, a file cut
	// short underneath) is an error of Map, Resize or Grow instead of a
	// SIGBUS at the first access. Pages of new anonymous memory are faulted
	// in for writing, pages of a file for reading (PopulateWrite and
	// PopulateRead; see them for the errors and how each system does it).
	// On Linux kernels older than 5.14, which lack the advice, mmap
	// prefaults with MAP_POPULATE, which reports nothing, and the package
	// then touches each page to find those it could not fault in. For a
	// HugePages region the pages are faulted in after the huge page advice,
	// so that they are huge, and the range is then collapsed into huge pages
	// (MADV_COLLAPSE, Linux 6.1) where the kernel left small ones; collapsing
	// is a hint, its failure is not reported. Populated pages may still be
	// paged out later unless the region is Locked. A region without access
	// (Prot 0) is not populated.
	Populate
	// HugePages backs an anonymous region with transparent huge pages: the
	// mapping is placed at an address aligned to the huge page size (2 MiB
	// on most systems; the alignment costs address space, not memory) and
	// advised MADV_HUGEPAGE. Only whole huge pages inside the region can be
	// huge, so make its length a multiple of the huge page size. The kernel
	// still decides at each fault, and falls back to small pages when no
	// huge page is free.
	//
	// HugePages on a file region is an invalid argument (fs.ErrInvalid). It
	// gives an error matching errors.ErrUnsupported where the system has no
	// transparent huge pages, where they are disabled for the kind of memory
	// (on Linux: "never" in /sys/kernel/mm/transparent_hugepage/enabled, or
	// "never" or "deny" in its shmem_enabled for a Shared region), and on
	// every system but Linux and FreeBSD (where the aligned mapping gets the
	// superpages FreeBSD gives anonymous memory unasked), and where the huge
	// page advice is accepted but has no effect (qemu-user).
	HugePages
	// NoReserve maps the region without reserving swap space for it
	// (MAP_NORESERVE), so that a large sparse region costs nothing until it
	// is written. Writing to such a region when memory is short can kill
	// the process. On Linux under strict overcommit (vm.overcommit_memory
	// 2), where the kernel reserves regardless, it gives an error matching
	// errors.ErrUnsupported; FreeBSD and AIX never reserve swap at mmap.
	NoReserve
	// Locked locks the region's pages in memory when it is mapped (mlock,
	// which also faults them in), so that they are never paged out, and
	// unlocks them at Unmap.
	//
	// Locking is subject to RLIMIT_MEMLOCK (ulimit -l; often 8 MiB, on older
	// systems 64 KiB, for a process without CAP_IPC_LOCK), which counts
	// every Locked and Secret region and every Region.Lock of the process:
	// beyond it Map fails with an *fs.PathError of Op "mlock" (ENOMEM, or
	// EPERM where the limit is 0) and leaves the region unmapped. (Secret
	// memory fails in mmap instead: see Secret.) On Windows the limit is the
	// process's minimum working set (SetProcessWorkingSetSize), and the error
	// of VirtualLock beyond it (ERROR_WORKING_SET_QUOTA) matches
	// syscall.ENOMEM as well.
	Locked
	// Guard places an inaccessible page (PROT_NONE) right before and right
	// after the region's memory, so that an overrun in either direction
	// faults at once (SIGSEGV, which crashes the program unless the goroutine
	// has called debug.SetPanicOnFault) instead of reading or corrupting the
	// neighbouring memory. An access more than a page past either end skips
	// the guard. For a file region whose length is not a whole number of
	// pages, the guard starts at the next page boundary: the bytes between
	// the end of the file and it read as zeros. The guard pages cost address
	// space, not memory; they stay in place until Unmap.
	//
	// A Private anonymous region (without Secret, Locked, HugeTLB,
	// HugePages or Reserve) gets guard regions on Linux 6.13 and later
	// (MADV_GUARD_INSTALL): the guard pages are part of the region's own
	// mapping, so that the region costs one entry of /proc/self/maps, and
	// of the vm.max_map_count limit, instead of three. Elsewhere, and for
	// other kinds of memory, the guards are separate PROT_NONE mappings.
	Guard
	// Secret is for keys and other secrets, laid out as libsodium's
	// sodium_malloc and memguard lay them out: the region is guarded (as
	// with Guard: an overrun faults at the first byte past either end, with
	// separate PROT_NONE pages), locked in memory (as with Locked, so it is
	// never written to swap), excluded from core dumps, kept from a child
	// created by a raw fork, and overwritten with zeros by Unmap before it is
	// released, whatever Protect set. Protect(0) while the secret is not in
	// use makes stray accesses fault.
	//
	// On Linux 5.14 and later, where the kernel allows it (memfd_secret(2),
	// enabled unless booted with secretmem.enable=0), the memory is secret
	// memory: its pages are removed from the kernel's direct map, so that
	// not even root reading /proc/PID/mem, nor the kernel itself, can see
	// them. The kernel locks it and keeps it out of core dumps by itself; it
	// is not inherited by a forked child at all (MADV_DONTFORK), and
	// Populate faults it in by touching it (the kernel refuses the populate
	// advice for it). [Region.SecretMemory] tells whether a mapped region
	// got it. The size of secret memory is set once, at Map: the region's
	// length, or the size given to Reserve. Resize that shrinks it wipes and
	// unmaps the pages cut off, which the kernel frees at Unmap, and Resize
	// past that size (possible only without Reserve) moves it into new
	// secret memory, wiping the old; inside a reservation it never moves.
	// Secret memory cannot be executed: a region built with Exec
	// gets the other layout, and Protect adding Exec to secret memory fails
	// with an *fs.PathError matching syscall.EACCES and fs.ErrPermission.
	// Where memfd_secret is missing or disabled (ENOSYS), the memory
	// is plain anonymous memory, locked (mlock), excluded from core dumps
	// (MADV_DONTDUMP) and replaced by zeros in a child created by a raw
	// fork (MADV_WIPEONFORK, Linux 4.14 and later).
	//
	// Secret is only allowed for anonymous Private regions (fs.ErrInvalid
	// otherwise), and gives an error matching errors.ErrUnsupported where
	// memory cannot be kept out of core dumps and out of a forked child
	// (every system but Linux, for now; and where the advice that does so is
	// accepted but has no effect, as under qemu-user). Locking counts
	// against RLIMIT_MEMLOCK, as for Locked. Secret memory counts against
	// it too, but the kernel locks it in mmap: beyond the limit, Map and
	// Resize fail with an *fs.PathError of Op "mmap" matching
	// syscall.EAGAIN instead of the error of mlock.
	//
	// Secret does not protect against: copies the program makes of the
	// secret (strings, buffers, the Go heap and stacks, registers: none of
	// them is locked or wiped, so read and write the secret in place); a
	// process of the same user or root that ptraces the process, or reads
	// /proc/PID/mem where the region is not secret memory; a hypervisor,
	// or a hibernation image written to disk; a program that exits or
	// crashes without Unmap (the kernel clears the pages before reusing them,
	// but nothing wipes them sooner); side channels. It does not encrypt.
	Secret
	// PastEOF lets a file region extend past the end of its file, as bbolt
	// and LMDB map their files: NewFile, Map and Resize accept pages beyond
	// the end, and the pages the file grows into later (by ftruncate, a
	// write, or Grow) appear in the mapping at once, with no Resize. Until
	// the file reaches them, those pages fault: ReadAt, WriteAt and Access
	// there return a *FaultError matching both ErrFault and ErrPastEOF,
	// while a plain access through Bytes or View raises SIGBUS, which
	// crashes the program. Populate and Locked apply only to the part of
	// the region inside the file when it is mapped; Grow(r.Len()) allocates
	// the file up to the region's end.
	//
	// PastEOF is for file regions only (fs.ErrInvalid otherwise). Windows
	// cannot map a view past the end of a file without extending the file
	// at once, so there it gives an error matching errors.ErrUnsupported.
	PastEOF
	// HugeTLB backs an anonymous region with explicit huge pages from the
	// kernel's reserved pool (MAP_HUGETLB, on Linux): pages of
	// [HugePageSize] bytes that are never split, swapped or merged, taken
	// from the pool that the administrator reserves (vm.nr_hugepages). The
	// region's length, and every length given to Resize, must be a multiple
	// of HugePageSize (ErrUnaligned otherwise). The kernel takes the pages
	// from the pool at Map: when it holds too few, Map fails with an
	// *fs.PathError of Op "mmap" matching syscall.ENOMEM. Where the system
	// refuses huge pages for the mapping (EINVAL, as qemu-user does), the
	// error of Map matches errors.ErrUnsupported as well as the errno.
	//
	// HugeTLB on a file region, or with HugePages or Secret, is an invalid
	// argument (fs.ErrInvalid). It gives an error matching
	// errors.ErrUnsupported on every system but Linux and where the kernel
	// has no huge pages (HugePageSize returns 0). Shared memory with huge
	// pages: see [NewSharedMemoryFlags].
	HugeTLB
)

const flagMask = Shared | Private | Populate | HugePages | NoReserve | Locked | Guard | Secret | PastEOF | HugeTLB

var flagNames = []string{"Shared", "Private", "Populate", "HugePages", "NoReserve", "Locked", "Guard", "Secret", "PastEOF", "HugeTLB"}

// String returns the flags' names joined by "|", such as "Shared|Populate".
func (f Flag) String() string { return bitNames(f, flagMask, flagNames) }

// bitNames returns the names of the bits set in v, joined by "|", with the
// bits outside mask in hexadecimal, or "0" if none is set.
func bitNames[T ~uint8 | ~uint32](v, mask T, names []string) string {
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if rest := v &^ mask; rest != 0 {
		out = append(out, fmt.Sprintf("%#x", uint64(rest)))
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, "|")
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
	// DontNeed expects no access soon: the pages may be dropped. A shared
	// region (of a file or anonymous) keeps its contents; a private region
	// loses its changes, and reads zeros (anonymous) or the file's contents
	// (private file) afterwards. On Windows, where shared anonymous memory
	// is private memory, every anonymous region reads zeros afterwards.
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
	// Free lets the kernel reclaim the pages of a private anonymous region
	// lazily, when memory is short; until then they keep their contents, and
	// afterwards they read as zeros. Writing to a page cancels the advice for
	// that page. Linux refuses it for every other kind of region (an error
	// matching fs.ErrInvalid); Windows gives it to shared anonymous memory
	// too (MEM_RESET) and refuses it for file regions
	// (errors.ErrUnsupported).
	Free
	// PopulateRead faults the pages in for reading, as a read of each page
	// would, without changing the contents: a file's pages are read into
	// memory, and anonymous pages not yet written map the shared zero
	// page. PopulateWrite faults them in for writing, as a write to each
	// page would, without changing the contents: anonymous memory gets its
	// own pages, a private file region its private copies, and a shared
	// file region has its blocks allocated and its pages marked dirty.
	//
	// A page that cannot be faulted in is an error, never a SIGBUS. On Linux
	// 5.14 and later they are MADV_POPULATE_READ and MADV_POPULATE_WRITE,
	// and the error is an *fs.PathError of Op "madvise" keeping its errno:
	// EFAULT where a page could not be faulted in (a full tmpfs, a page past
	// the end of the file), which also matches ErrFault, and ErrPastEOF as
	// well where the range reaches past the end of the file; ENOMEM where
	// memory ran out. Elsewhere (older kernels, other systems, and Linux
	// secret memory, for which the kernel refuses the advice) the package
	// touches each page with faults caught: a read of one byte, or an atomic
	// add of zero to one word, of each page; a fault is then a *FaultError
	// matching ErrFault, and ErrPastEOF as well where the page lies past the
	// end of the file. PopulateWrite on a region without Write, or either on
	// one without access, is a *FaultError wrapping fs.ErrPermission.
	PopulateRead
	// PopulateWrite: see PopulateRead.
	PopulateWrite
)

// numAdvice is the number of Advice values.
const numAdvice = int(PopulateWrite) + 1

var adviceNames = [numAdvice]string{"Normal", "Sequential", "Random", "WillNeed", "DontNeed", "HugePage", "NoHugePage",
	"DontDump", "DoDump", "Free", "PopulateRead", "PopulateWrite"}

// String returns the advice's name.
func (a Advice) String() string {
	if a >= 0 && int(a) < len(adviceNames) {
		return adviceNames[a]
	}
	return fmt.Sprintf("Advice(%d)", int(a))
}

// sentinel is an error value that also matches more general errors.
type sentinel struct {
	msg  string
	also []error
}

func (e *sentinel) Error() string { return e.msg }

func (e *sentinel) Is(target error) bool {
	for _, a := range e.also {
		if target == a {
			return true
		}
	}
	return false
}

var (
	// ErrUnaligned is returned when an offset is not a multiple of
	// Granularity, or a length is not a multiple of PageSize (and, for a
	// file region, does not end at the end of the file). It also matches
	// fs.ErrInvalid.
	ErrUnaligned error = &sentinel{"mmap: unaligned offset or length", []error{fs.ErrInvalid}}

	// ErrNotMapped is returned by an operation that needs the mapping
	// (Unmap, Flush, ReadAt, Protect...) on a region that is not mapped.
	// After Close the error matches fs.ErrClosed as well.
	ErrNotMapped = errors.New("mmap: region is not mapped")

	// ErrMapped is returned by Map on a region that is already mapped.
	ErrMapped = errors.New("mmap: region is already mapped")

	// ErrPastEOF is returned for a file region with a whole page beyond the
	// end of the file, where access would raise SIGBUS. NewFile and Map
	// check the file's size at the moment they are called. It also matches
	// fs.ErrInvalid. A region with the PastEOF flag may extend past the
	// file; a fault on one of its pages beyond the file's end gives a
	// *FaultError that matches ErrPastEOF (and not fs.ErrInvalid).
	ErrPastEOF error = &sentinel{"mmap: region extends past the end of the file", []error{fs.ErrInvalid}}

	// ErrFault is matched by the error of a memory fault caught by the
	// package: in ReadAt, WriteAt and Access, in the pages Populate, Resize
	// and Grow touch or copy, and in the wipe of a Secret region. The file
	// was truncated underneath the mapping, the disk is full, or the region
	// does not allow the access. The error is a *FaultError that tells where,
	// or, from the populate advice, an *fs.PathError.
	ErrFault = errors.New("mmap: memory fault")
)

var (
	// errClosed is what the methods that need the mapping return after
	// Close (see Region.notMappedErr). Its text is golang.org/x/exp/mmap's
	// for the same case, so that code moved from that package which
	// compares the text keeps working.
	errClosed error = &sentinel{"mmap: closed", []error{ErrNotMapped, fs.ErrClosed}}

	// errFaultPastEOF is the cause of a fault on a page beyond the end of
	// the file (see Region.faultError).
	errFaultPastEOF error = &sentinel{"page beyond the end of the file", []error{ErrPastEOF}}
)

// FaultError reports a memory access that failed inside a method of the
// package (see ErrFault).
// It matches ErrFault with errors.Is, and unwraps to its cause where it has
// one: fs.ErrPermission when ReadAt or WriteAt find that the region's
// protection forbids the access (they check it before copying; a fault of
// Access's fn under a protection that forbids what fn did has no cause, as
// the hardware does not tell a read from a write), an error matching
// ErrPastEOF when the faulting page lies beyond the end of the file (the
// file's size is looked up when the fault is caught; for a region from
// Open, whose file is closed, only on Linux).
type FaultError struct {
	Op     string  // "read", "write", "access", or "wipe" (of a Secret region's memory)
	Offset int64   // offset in the region of the first byte not copied
	Addr   uintptr // faulting address; 0 when the access was refused before any fault, or the system gave none
	Err    error   // cause, or nil for another hardware fault
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
// A shim that names the function it called (a Windows API function) wraps
// the error in an *os.SyscallError, whose name then replaces op.
func pathError(op, path string, err error) error {
	if se, ok := err.(*os.SyscallError); ok {
		op, err = se.Syscall, se.Err
	}
	if class := classify(err); class != nil {
		err = &osError{err, class}
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
