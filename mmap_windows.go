// This file holds the Windows shims: file regions are views of a file
// mapping object (CreateFileMapping, MapViewOfFile), anonymous regions are
// committed with VirtualAlloc, and the other operations use VirtualProtect,
// VirtualLock, FlushViewOfFile, PrefetchVirtualMemory and QueryWorkingSetEx.
// Each shim wraps the error of the function it calls in an *os.SyscallError
// naming that function, which becomes the Op of the *fs.PathError the
// package returns.
//
// Windows maps a view of a file only at a multiple of the allocation
// granularity and never inside address space reserved with VirtualAlloc, so
// the reservation that region.go makes for Guard and Reserve (growing in
// place) is available to anonymous regions only; see sysSupports and
// fileInReservation.

package mmap

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// errBadAddress is the cause of a fault in a caller's buffer.
var errBadAddress error = syscall.EFAULT

// Memory types reported by VirtualQuery.
const (
	memPrivate = 0x20000 // MEM_PRIVATE: VirtualAlloc memory
	memMapped  = 0x40000 // MEM_MAPPED: a view of a section
)

// fileAccessInformation is the FILE_INFORMATION_CLASS that returns the access
// rights of a handle.
const fileAccessInformation = 8

var (
	modkernel32                = windows.NewLazySystemDLL("kernel32.dll")
	procGetSystemInfo          = modkernel32.NewProc("GetSystemInfo")
	procPrefetchVirtualMemory  = modkernel32.NewProc("PrefetchVirtualMemory")
	errNoPrefetchVirtualMemory = unsupportedf("WillNeed without PrefetchVirtualMemory (before Windows 8)")
)

// systemInfo is the SYSTEM_INFO structure of GetSystemInfo.
type systemInfo struct {
	processorArchitecture     uint16
	reserved                  uint16
	pageSize                  uint32
	minimumApplicationAddress uintptr
	maximumApplicationAddress uintptr
	activeProcessorMask       uintptr
	numberOfProcessors        uint32
	processorType             uint32
	allocationGranularity     uint32
	processorLevel            uint16
	processorRevision         uint16
}

// sysGranularity returns the allocation granularity, the multiple that
// MapViewOfFile requires of file offsets.
func sysGranularity() int {
	var si systemInfo
	procGetSystemInfo.Call(uintptr(unsafe.Pointer(&si)))
	g := int(si.allocationGranularity)
	if g < pageSize || g&(g-1) != 0 {
		// No sane value: fall back to what every mapping is aligned to.
		return pageSize
	}
	return g
}

// hugePageSize is the alignment HugePages would need; HugePages is refused
// by sysSupports, so it is never used.
func hugePageSize() int { return pageSize }

// No flag of the mapping call keeps memory out of core dumps.
const mapConceal = 0

// sysSupports refuses the flags Windows cannot honour:
//   - HugePages: Windows large pages are a different thing (they need the
//     SeLockMemoryPrivilege and are never paged out), not transparent huge
//     pages;
//   - Secret: Windows has no way to keep a range out of crash dumps;
//   - Guard on a file region: a view of a file cannot be placed inside a
//     reservation, so the guard pages around it cannot be held;
//   - NoReserve except on a shared file region (which never takes commit
//     charge): committed memory and copy-on-write views are always charged
//     against the commit limit;
//   - PastEOF: a file mapping object longer than its file either extends
//     the file at once (a writable file) or cannot be made (a read-only
//     one), so no view can reach past the file's end and fault there.
func sysSupports(f Flag, anon bool) error {
	switch {
	case f&PastEOF != 0:
		return unsupportedf("PastEOF on Windows")
	case f&HugePages != 0:
		return unsupportedf("HugePages on Windows")
	case f&Secret != 0:
		return unsupportedf("Secret on Windows")
	case f&Guard != 0 && !anon:
		return unsupportedf("Guard for a file region on Windows")
	case f&NoReserve != 0 && (anon || f&Shared == 0):
		return unsupportedf("NoReserve for anonymous or private memory on Windows")
	}
	return nil
}

// pageProt returns the page protection for p; cow selects the
// copy-on-write protections of a private view.
func pageProt(p Prot, cow bool) uint32 {
	w, r, x := p&Write != 0, p&(Read|Write) != 0, p&Exec != 0
	switch {
	case w && x && cow:
		return windows.PAGE_EXECUTE_WRITECOPY
	case w && x:
		return windows.PAGE_EXECUTE_READWRITE
	case w && cow:
		return windows.PAGE_WRITECOPY
	case w:
		return windows.PAGE_READWRITE
	case r && x:
		return windows.PAGE_EXECUTE_READ
	case r:
		return windows.PAGE_READONLY
	case x:
		return windows.PAGE_EXECUTE
	}
	return windows.PAGE_NOACCESS
}

// sysMap maps length bytes of the file fd at off, or commits anonymous
// memory when fd is ^uintptr(0), at addr inside a reservation made by
// sysReserve if addr is not nil (anonymous memory only).
func sysMap(fd uintptr, off int64, addr unsafe.Pointer, length uintptr, prot Prot, flags Flag) (unsafe.Pointer, error) {
	if fd == ^uintptr(0) {
		typ := uint32(windows.MEM_COMMIT)
		if addr == nil {
			typ |= windows.MEM_RESERVE
		}
		a, err := windows.VirtualAlloc(uintptr(addr), length, typ, pageProt(prot, false))
		if err != nil {
			return nil, allocError(err, length)
		}
		return toPointer(a), nil
	}
	if addr != nil {
		return nil, unsupportedf("a file view inside a reservation on Windows")
	}
	h := windows.Handle(fd)
	size, err := sysFileSize(fd)
	if err != nil {
		return nil, err
	}
	// A view cannot extend past the end of the section, which is the end of
	// the file; the rest of its last page reads as zeros, as on unix.
	viewLen := length
	if rest := size - off; rest < int64(viewLen) {
		viewLen = uintptr(rest)
	}
	cow := flags&Private != 0
	sect, access := uint32(windows.PAGE_WRITECOPY), uint32(windows.FILE_MAP_COPY)
	if !cow {
		sect, access = windows.PAGE_READONLY, windows.FILE_MAP_READ
		// Map writable when the handle allows it, so that Protect can add
		// Write later, as mprotect can on unix.
		if _, writable, err := sysAccess(fd); prot&Write != 0 || (err == nil && writable) {
			sect, access = windows.PAGE_READWRITE, windows.FILE_MAP_WRITE
		}
	}
	if prot&Exec != 0 {
		sect <<= 4 // PAGE_X to PAGE_EXECUTE_X
		access |= windows.FILE_MAP_EXECUTE
	}
	m, err := windows.CreateFileMapping(h, nil, sect, 0, 0, nil)
	if err != nil {
		if m != 0 {
			windows.CloseHandle(m)
		}
		return nil, os.NewSyscallError("CreateFileMapping", err)
	}
	// The view keeps the section alive: its handle is not needed past here.
	v, err := windows.MapViewOfFile(m, access, uint32(uint64(off)>>32), uint32(off), viewLen)
	windows.CloseHandle(m)
	if err != nil {
		return nil, os.NewSyscallError("MapViewOfFile", err)
	}
	if want := pageProt(prot, cow); want != sect {
		var old uint32
		if err := windows.VirtualProtect(v, length, want, &old); err != nil {
			windows.UnmapViewOfFile(v)
			return nil, os.NewSyscallError("VirtualProtect", err)
		}
	}
	return toPointer(v), nil
}

// toPointer turns an address that Windows returned for memory outside the
// Go heap into a pointer.
func toPointer(a uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&a)) }

// sysReserve reserves length bytes of inaccessible address space.
func sysReserve(length uintptr) (unsafe.Pointer, error) {
	a, err := windows.VirtualAlloc(0, length, windows.MEM_RESERVE, windows.PAGE_NOACCESS)
	if err != nil {
		return nil, allocError(err, length)
	}
	return toPointer(a), nil
}

// allocError returns the error of VirtualAlloc for length bytes. Windows
// refuses a length beyond the process's address space as an invalid
// parameter; it is a lack of address space, ENOMEM on unix, and reported as
// ERROR_NOT_ENOUGH_MEMORY.
func allocError(err error, length uintptr) error {
	if err == windows.ERROR_INVALID_PARAMETER {
		var si systemInfo
		procGetSystemInfo.Call(uintptr(unsafe.Pointer(&si)))
		if length > si.maximumApplicationAddress-si.minimumApplicationAddress {
			err = windows.ERROR_NOT_ENOUGH_MEMORY
		}
	}
	return os.NewSyscallError("VirtualAlloc", err)
}

// query returns what VirtualQuery says of the pages at addr.
func query(addr unsafe.Pointer) (windows.MemoryBasicInformation, error) {
	var mbi windows.MemoryBasicInformation
	if err := windows.VirtualQuery(uintptr(addr), &mbi, unsafe.Sizeof(mbi)); err != nil {
		return mbi, os.NewSyscallError("VirtualQuery", err)
	}
	return mbi, nil
}

// isCopyOnWrite reports whether mbi describes a private view of a file.
func isCopyOnWrite(mbi *windows.MemoryBasicInformation) bool {
	return mbi.Type == memMapped &&
		mbi.AllocationProtect&(windows.PAGE_WRITECOPY|windows.PAGE_EXECUTE_WRITECOPY) != 0
}

// viewProt returns the most access a view mapped with the page protection
// prot can be given.
func viewProt(prot uint32) Prot {
	var p Prot
	switch prot &^ (windows.PAGE_GUARD | windows.PAGE_NOCACHE | windows.PAGE_WRITECOMBINE) {
	case windows.PAGE_READONLY:
		p = Read
	case windows.PAGE_READWRITE, windows.PAGE_WRITECOPY:
		p = Read | Write
	case windows.PAGE_EXECUTE_READ:
		p = Read | Exec
	case windows.PAGE_EXECUTE_READWRITE, windows.PAGE_EXECUTE_WRITECOPY:
		p = Read | Write | Exec
	}
	return p
}

// sysUnmap releases what sysMap or sysReserve returned at addr: a view of a
// file, or a whole VirtualAlloc reservation with what is committed in it.
// Pages inside a reservation that do not start it are decommitted: they stay
// reserved and inaccessible until the reservation is released.
func sysUnmap(addr unsafe.Pointer, length uintptr) error {
	mbi, err := query(addr)
	if err != nil {
		return err
	}
	if mbi.Type == memPrivate && mbi.AllocationBase != uintptr(addr) {
		if err := windows.VirtualFree(uintptr(addr), length, windows.MEM_DECOMMIT); err != nil {
			return os.NewSyscallError("VirtualFree", err)
		}
		return nil
	}
	if mbi.Type == memMapped {
		if err := windows.UnmapViewOfFile(uintptr(addr)); err != nil {
			return os.NewSyscallError("UnmapViewOfFile", err)
		}
		return nil
	}
	if err := windows.VirtualFree(uintptr(addr), 0, windows.MEM_RELEASE); err != nil {
		return os.NewSyscallError("VirtualFree", err)
	}
	return nil
}

// sysRelease decommits length bytes at addr, inside a reservation made by
// sysReserve: they stay reserved, inaccessible, and read as zeros once
// committed again.
func sysRelease(addr unsafe.Pointer, length uintptr) error {
	if err := windows.VirtualFree(uintptr(addr), length, windows.MEM_DECOMMIT); err != nil {
		return os.NewSyscallError("VirtualFree", err)
	}
	return nil
}

// A view of a file is placed where the system chooses, never inside a
// reservation (that needs the placeholders of MapViewOfFile3, Windows 10
// 1803 and later), and is unmapped only whole: Reserve is refused for a file
// region, and Resize of one maps a new view and unmaps the old.
const (
	fileInReservation = false
	partialViewUnmap  = false
)

func sysProtect(addr unsafe.Pointer, length uintptr, p Prot) error {
	mbi, err := query(addr)
	if err != nil {
		return err
	}
	if mbi.Type == memMapped && p&^viewProt(mbi.AllocationProtect) != 0 {
		// The view was mapped without the access asked for (the file is
		// not open for it); Windows would say only "invalid parameter".
		return os.NewSyscallError("VirtualProtect", windows.ERROR_ACCESS_DENIED)
	}
	var old uint32
	if err := windows.VirtualProtect(uintptr(addr), length, pageProt(p, isCopyOnWrite(&mbi)), &old); err != nil {
		return os.NewSyscallError("VirtualProtect", err)
	}
	return nil
}

// sysFlush writes the dirty pages of a view to the file (FlushViewOfFile)
// and, unless async, waits for the file's data to reach the disk
// (FlushFileBuffers on f, which needs a handle open for writing; a
// read-only handle cannot have written anything). If f is closed, the pages
// reach the file but nothing can wait for the disk: the error matches
// fs.ErrClosed.
func sysFlush(addr unsafe.Pointer, length uintptr, async bool, f *os.File) error {
	if err := windows.FlushViewOfFile(uintptr(addr), length); err != nil {
		return os.NewSyscallError("FlushViewOfFile", err)
	}
	if async || f == nil {
		return nil
	}
	fd := f.Fd()
	if fd == ^uintptr(0) {
		return os.NewSyscallError("FlushFileBuffers", fs.ErrClosed)
	}
	if _, writable, err := sysAccess(fd); err == nil && !writable {
		return nil
	}
	if err := windows.FlushFileBuffers(windows.Handle(fd)); err != nil {
		return os.NewSyscallError("FlushFileBuffers", err)
	}
	return nil
}

// memoryRange is WIN32_MEMORY_RANGE_ENTRY.
type memoryRange struct {
	addr uintptr
	size uintptr
}

// sysAdvise gives the advice Windows has an equivalent for:
//   - Normal: nothing to do, Windows treats every region so;
//   - WillNeed: PrefetchVirtualMemory;
//   - DontNeed: anonymous memory is decommitted and committed again (it
//     reads as zeros afterwards); a shared view of a file has its pages that
//     are not locked removed from the working set (they stay in the file
//     cache, contents kept); a private view of a file cannot drop its
//     copies and returns ErrUnsupported;
//   - Free: anonymous memory is reset (VirtualAlloc with MEM_RESET): its
//     pages are discarded when memory is short, unless written first.
//
// Sequential, Random, HugePage, NoHugePage, DontDump and DoDump have no
// equivalent and return an error matching errors.ErrUnsupported.
func sysAdvise(addr unsafe.Pointer, length uintptr, a Advice) error {
	switch a {
	case Normal:
		return nil
	case WillNeed:
		if procPrefetchVirtualMemory.Find() != nil {
			return errNoPrefetchVirtualMemory
		}
		entry := memoryRange{uintptr(addr), length}
		ok, _, err := procPrefetchVirtualMemory.Call(uintptr(windows.CurrentProcess()), 1, uintptr(unsafe.Pointer(&entry)), 0)
		if ok == 0 {
			return os.NewSyscallError("PrefetchVirtualMemory", err)
		}
		return nil
	case DontNeed, Free:
		mbi, err := query(addr)
		if err != nil {
			return err
		}
		switch {
		case mbi.Type == memPrivate && a == Free:
			if _, err := windows.VirtualAlloc(uintptr(addr), length, windows.MEM_RESET, windows.PAGE_NOACCESS); err != nil {
				return os.NewSyscallError("VirtualAlloc", err)
			}
			return nil
		case mbi.Type == memPrivate:
			if err := windows.VirtualFree(uintptr(addr), length, windows.MEM_DECOMMIT); err != nil {
				return os.NewSyscallError("VirtualFree", err)
			}
			if _, err := windows.VirtualAlloc(uintptr(addr), length, windows.MEM_COMMIT, mbi.Protect); err != nil {
				return os.NewSyscallError("VirtualAlloc", err)
			}
			return nil
		case a == DontNeed && mbi.Type == memMapped && !isCopyOnWrite(&mbi):
			return trimWorkingSet(addr, length)
		}
	}
	return unsupportedf("advice %v on Windows", a)
}

// trimWorkingSet removes the pages of [addr, addr+length) that are in the
// working set and not locked from it: VirtualUnlock of pages that are not
// locked does that, and reports ERROR_NOT_LOCKED.
func trimWorkingSet(addr unsafe.Pointer, length uintptr) error {
	info, err := workingSet(addr, length)
	if err != nil {
		return err
	}
	// Trim each run of pages that are in the working set and not locked
	// with one call.
	start := -1
	for i := 0; i <= len(info); i++ {
		if i < len(info) && info[i].VirtualAttributes.Valid() && !info[i].VirtualAttributes.Locked() {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		err := windows.VirtualUnlock(uintptr(addr)+uintptr(start*pageSize), uintptr((i-start)*pageSize))
		if err != nil && err != windows.ERROR_NOT_LOCKED {
			return os.NewSyscallError("VirtualUnlock", err)
		}
		start = -1
	}
	return nil
}

func sysLock(addr unsafe.Pointer, length uintptr) error {
	if err := windows.VirtualLock(uintptr(addr), length); err != nil {
		return os.NewSyscallError("VirtualLock", err)
	}
	return nil
}

// sysUnlock unlocks pages with VirtualUnlock. Pages that were not locked
// are no error, as with munlock.
func sysUnlock(addr unsafe.Pointer, length uintptr) error {
	if err := windows.VirtualUnlock(uintptr(addr), length); err != nil && err != windows.ERROR_NOT_LOCKED {
		return os.NewSyscallError("VirtualUnlock", err)
	}
	return nil
}

// workingSet returns the working set information of each page of
// [addr, addr+length).
func workingSet(addr unsafe.Pointer, length uintptr) ([]windows.PSAPI_WORKING_SET_EX_INFORMATION, error) {
	info := make([]windows.PSAPI_WORKING_SET_EX_INFORMATION, length/uintptr(pageSize))
	for i := range info {
		info[i].VirtualAddress = windows.Pointer(unsafe.Add(addr, i*pageSize))
	}
	if len(info) == 0 {
		return info, nil
	}
	size := uint32(len(info)) * uint32(unsafe.Sizeof(info[0]))
	if err := windows.QueryWorkingSetEx(windows.CurrentProcess(), uintptr(unsafe.Pointer(&info[0])), size); err != nil {
		return nil, os.NewSyscallError("QueryWorkingSetEx", err)
	}
	return info, nil
}

// sysResident fills res with whether each page is in the process's working
// set (QueryWorkingSetEx). A page of a file that is in the file cache but
// not in the working set counts as not resident.
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	info, err := workingSet(addr, length)
	if err != nil {
		return err
	}
	for i := range res {
		res[i] = info[i].VirtualAttributes.Valid()
	}
	return nil
}

// sysFileSize returns the size of the file fd.
func sysFileSize(fd uintptr) (int64, error) {
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(fd), &fi); err != nil {
		return 0, os.NewSyscallError("GetFileInformationByHandle", err)
	}
	return int64(fi.FileSizeHigh)<<32 | int64(fi.FileSizeLow), nil
}

// sysAccess reports whether the file fd is open for reading and for writing,
// from the handle's access rights. Where the system cannot tell, it reports
// both, and the system refuses a mapping that the handle does not allow.
func sysAccess(fd uintptr) (readable, writable bool, err error) {
	var (
		iosb   windows.IO_STATUS_BLOCK
		access uint32
	)
	st := windows.NtQueryInformationFile(windows.Handle(fd), &iosb, (*byte)(unsafe.Pointer(&access)), uint32(unsafe.Sizeof(access)), fileAccessInformation)
	if st != nil && st != windows.STATUS_SUCCESS {
		var status windows.NTStatus
		if errors.As(st, &status) && (status == windows.STATUS_INVALID_INFO_CLASS || status == windows.STATUS_NOT_IMPLEMENTED || status == windows.STATUS_INVALID_PARAMETER) {
			return true, true, nil
		}
		return false, false, os.NewSyscallError("NtQueryInformationFile", st)
	}
	return access&windows.FILE_READ_DATA != 0, access&windows.FILE_WRITE_DATA != 0, nil
}

// classify returns the class of error a Windows error code stands for,
// beyond what syscall.Errno's own Is method tells, or nil: fs.ErrInvalid,
// or syscall.ENOMEM for a lack of memory or of working set to lock pages in
// (mlock's ENOMEM beyond RLIMIT_MEMLOCK), so that portable code can test
// errors.Is(err, syscall.ENOMEM) as on unix.
func classify(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil
	}
	switch errno {
	case windows.ERROR_NOT_ENOUGH_MEMORY, windows.ERROR_OUTOFMEMORY, windows.ERROR_COMMITMENT_LIMIT,
		windows.ERROR_WORKING_SET_QUOTA:
		// Out of memory, of commit charge or of working set, as ENOMEM on
		// unix.
		return syscall.ENOMEM
	case windows.ERROR_INVALID_PARAMETER, windows.ERROR_INVALID_HANDLE, windows.ERROR_INVALID_ADDRESS,
		windows.ERROR_MAPPED_ALIGNMENT, windows.ERROR_FILE_INVALID, syscall.EBADF:
		return fs.ErrInvalid
	}
	return nil
}

// sysWriteAt writes b at offset off of f, the file's end (see fillZeros).
// os.File.WriteAt refuses a file opened with O_APPEND with an error that is
// not an *fs.PathError (every error of the system is one); the writes to
// such a file all go to its end, so Write puts b where it belongs. Windows
// refuses a write through a handle not open for writing as access denied;
// that is EBADF, as write(2) says on unix.
func sysWriteAt(f *os.File, b []byte, off int64) (int, error) {
	n, err := f.WriteAt(b, off)
	if err == nil {
		return n, nil
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		if n == 0 {
			return f.Write(b)
		}
		return n, err
	}
	if pe.Err == windows.ERROR_ACCESS_DENIED {
		if _, writable, aerr := sysAccess(f.Fd()); aerr == nil && !writable {
			return n, &fs.PathError{Op: pe.Op, Path: pe.Path, Err: syscall.EBADF}
		}
	}
	return n, err
}

// fileStat returns the size and the mode of f.
func fileStat(f *os.File) (int64, fs.FileMode, error) { return statByOS(f) }

// openNonblock is added to the flags with which Open opens a file.
const openNonblock = 0
