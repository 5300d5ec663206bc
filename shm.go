// This file holds memory shared between processes: NewSharedMemory and
// memfd seals.

package mmap

import (
	"fmt"
	"io/fs"
	"os"
)

// Memory shared between processes: Go programs do not fork, so instead of a
// shared anonymous mapping inherited by a child, the memory lives in an
// anonymous memory file that the program hands to another process (usually
// through exec.Cmd.ExtraFiles), which maps it with NewFile.

var (
	errClosedShared = fmt.Errorf("mmap: shared memory is closed: %w", fs.ErrClosed)
	errNoShm        = unsupportedf("shared memory files and seals on this system")
)

// NewSharedMemory returns an unmapped, Shared, Read|Write region of length
// bytes backed by a new anonymous memory file, which reads as zeros at first.
// Nothing appears in the file system and nothing reaches a disk except
// through swap: the memory lives as long as a process holds the file open or
// mapped. name is a label for debugging (on Linux it shows as "memfd:name" in
// /proc/PID/maps and /proc/PID/fd) and need not be unique; on Linux it must
// be at most 249 bytes long and hold no NUL byte (an error matching
// fs.ErrInvalid otherwise).
//
// length must be positive; it need not be a multiple of PageSize, in which
// case the file and Bytes are exactly length bytes long.
//
// [Region.File] returns the file, to hand to another process, which maps it
// with NewFile(f, 0, size, Read|Write, Shared) (or Read for a read-only view);
// writes through any mapping are seen at once by all others, with no Flush.
// The region owns the file: Unmap leaves it open so that the region can be
// mapped again, and [Region.Close] unmaps the region and closes the file.
// To hand over memory whose size or contents the receiver must be able to
// trust, see [Region.Seal] and [Seals].
//
// On Linux the file is made with memfd_create (with close-on-exec, sealing
// allowed and, on kernels that have it, MFD_NOEXEC_SEAL). Other systems,
// which would need shm_open and shm_unlink, return an error matching
// errors.ErrUnsupported. A length that is not positive gives an error
// matching fs.ErrInvalid; errors of the operating system are of type
// *fs.PathError.
func NewSharedMemory(name string, length int) (*Region, error) {
	return NewSharedMemoryFlags(name, length, Shared)
}

// NewSharedMemoryFlags is NewSharedMemory with flags that say how the
// memory is held: Shared (which it always is, and may be left out),
// and any of Populate, Locked, NoReserve and Guard, as for NewFile, and
// HugeTLB, which makes the file one of pages of the huge page pool
// (MFD_HUGETLB, Linux): length must then be a multiple of [HugePageSize]
// (ErrUnaligned otherwise), and Map fails with an *fs.PathError matching
// syscall.ENOMEM when the pool holds too few pages. Private, HugePages and
// Secret are invalid arguments (fs.ErrInvalid). A process that maps the
// file with NewFile gets huge pages as well, and must map a multiple of
// HugePageSize.
func NewSharedMemoryFlags(name string, length int, flags Flag) (*Region, error) {
	if flags&(Private|HugePages|Secret) != 0 {
		return nil, invalidf("shared memory %q: flags %v", name, flags&(Private|HugePages|Secret))
	}
	if length <= 0 {
		return nil, invalidf("shared memory %q: length %d is not positive", name, length)
	}
	if _, ok := roundUp(length, pageSize); !ok {
		return nil, invalidf("shared memory %q: length %d overflows", name, length)
	}
	huge := flags&HugeTLB != 0
	if huge {
		if err := checkHugeTLBLength(fmt.Sprintf("shared memory %q: ", name), length); err != nil {
			return nil, err
		}
	}
	f, err := sysSharedMemory(name, int64(length), huge)
	if err != nil {
		return nil, err
	}
	r, err := NewFile(f, 0, length, Read|Write, flags&^HugeTLB|Shared)
	if err != nil {
		f.Close()
		return nil, err
	}
	// A file of huge pages: Resize keeps to multiples of their size.
	r.flags |= flags & HugeTLB
	r.src = srcShared
	return r, nil
}

// closeOwned unmaps a region from NewSharedMemory and closes its file.
func (r *Region) closeOwned() error {
	r.mu.Lock()
	defer r.endLock()
	if r.file == nil {
		return errClosed
	}
	if r.mapped {
		if err := r.unmapLocked(); err != nil {
			return err
		}
	}
	err := r.file.Close()
	r.file, r.closed = nil, true
	return err
}

// Seal is a set of seals on a shared memory file: restrictions that, once
// added, can never be lifted by anyone, so that a process receiving the file
// can check them and trust the memory's size and contents. They are memfd
// seals on Linux (F_ADD_SEALS and F_GET_SEALS of fcntl).
type Seal uint8

const (
	// SealShrink forbids shrinking the file.
	SealShrink Seal = 1 << iota
	// SealGrow forbids growing the file.
	SealGrow
	// SealWrite forbids every change of the contents: writing to the file
	// and mapping it Shared with Write. It cannot be added while any
	// writable Shared mapping of the file exists (EBUSY): unmap them first.
	SealWrite
	// SealFutureWrite forbids new ways of changing the contents (writing to
	// the file, new writable Shared mappings), but mappings that are
	// writable already keep writing. It lets the creator keep writing while
	// the receivers only read; they cannot trust that the contents stay
	// still (Linux 5.1 and later).
	SealFutureWrite
	// SealSeal forbids adding more seals.
	SealSeal
	// SealExec forbids changing the file's execute permission bits. Linux
	// adds it itself to files made with MFD_NOEXEC_SEAL, as NewSharedMemory
	// makes them where the kernel allows.
	SealExec
)

const sealMask = SealShrink | SealGrow | SealWrite | SealFutureWrite | SealSeal | SealExec

var sealNames = []string{"Shrink", "Grow", "Write", "FutureWrite", "Seal", "Exec"}

// String returns the seals' names joined by "|", such as "Shrink|Grow".
func (s Seal) String() string { return bitNames(s, sealMask, sealNames) }

// Seal adds the seals s to the region's file; seals already there stay.
// Typical uses: SealShrink|SealGrow before handing the memory to another
// process, so that its size cannot change underneath either of them (a
// shrink would make access past the new end fault);
// SealShrink|SealGrow|SealWrite for a read-only handoff, once the region is
// unmapped (with SealWrite, Map of the region itself fails with EPERM
// afterwards: map a read-only view with NewFile(r.File(), 0, r.Len(), Read,
// Shared)).
//
// The region need not be mapped. Seal returns an error matching fs.ErrInvalid
// for an anonymous region, a region from Open (whose file is closed) or
// unknown seal bits, and an *fs.PathError (Op
// "fcntl") for a refusal of the operating system: EBUSY for SealWrite while a
// writable Shared mapping exists, EPERM when the file carries SealSeal or
// was made without allowing seals, EINVAL (also matching fs.ErrInvalid) for
// a file that cannot be sealed, such as a file on disk, and fs.ErrClosed
// for a file the caller closed. Where there are no seals, the error matches
// errors.ErrUnsupported.
func (r *Region) Seal(s Seal) error {
	if r == nil {
		return errNilRegion
	}
	if s&^sealMask != 0 {
		return invalidf("unknown seal bits %#x", uint8(s&^sealMask))
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.file == nil {
		if r.src == srcShared {
			return errClosedShared
		}
		return invalidf("%s: seal of a region without a file", r.name)
	}
	if err := sysAddSeals(r.file, s); err != nil {
		return sealError(r.name, err)
	}
	return nil
}

// Seals returns the seals of the file f, so that a process that received
// shared memory can check them before it trusts the memory: once Seals
// reports SealShrink|SealGrow, f's size (from f.Stat) cannot change, and once
// it reports SealWrite, neither can its contents. Seals can only be added,
// never removed, so the answer stays true.
//
// A file that cannot be sealed (a file on disk) gives an *fs.PathError with
// EINVAL, matching fs.ErrInvalid; a file made without allowing seals reports
// SealSeal, and a closed file an error matching fs.ErrClosed. Where there
// are no seals, the error matches errors.ErrUnsupported.
func Seals(f *os.File) (Seal, error) {
	if f == nil {
		return 0, invalidf("nil file")
	}
	s, err := sysGetSeals(f)
	if err != nil {
		return 0, sealError(f.Name(), err)
	}
	return s, nil
}

// sealError wraps an error of sysAddSeals or sysGetSeals, an errno of the
// operating system or errNoShm, in an *fs.PathError.
func sealError(name string, err error) error {
	if err == errNoShm {
		return err
	}
	return pathError("fcntl", name, err)
}
