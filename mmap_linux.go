// This file holds everything the package does differently on Linux: the
// full set of madvise advice, MAP_POPULATE and the populate advice,
// transparent huge pages and MADV_COLLAPSE, the huge page pool (HugeTLB),
// MADV_REMOVE, mincore, cachestat, the checks behind the memory flags,
// MADV_WIPEONFORK, guard regions, memfd_secret, fallocate, mremap, memfd
// shared memory with seals, the size of a mapped file whose descriptor is
// closed, and whether faults come with their address. Its stand-ins for
// other systems are in mmap_notlinux.go.

package mmap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The flags of mmap behind Populate, NoReserve, Secret and HugeTLB here (0:
// none).
const mapPopulate, mapNoReserve, mapConceal, mapHugeTLB = unix.MAP_POPULATE, unix.MAP_NORESERVE, 0, unix.MAP_HUGETLB

// wipesOnFork tells whether sysWipeOnFork keeps memory from a child created
// by a raw fork (MADV_WIPEONFORK), which Secret needs.
const wipesOnFork = true

var adviceTable = posixAdvice(map[Advice]int{
	HugePage:   unix.MADV_HUGEPAGE,
	NoHugePage: unix.MADV_NOHUGEPAGE,
	DontDump:   unix.MADV_DONTDUMP,
	DoDump:     unix.MADV_DODUMP,
	Free:       unix.MADV_FREE,
})

// hugePageSize returns the size of a transparent huge page.
var hugePageSize = sync.OnceValue(func() int {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 && n&(n-1) == 0 {
			return n
		}
	}
	return 2 << 20
})

// sysResident fills res with the residency of each page (mincore).
//
// The vector has room for one entry per 4 KiB, the smallest page of any
// Linux port, whatever the page size: qemu-user run with a larger page size
// (-p 65536) answers mincore per 4 KiB, and would otherwise write past the
// end of a vector sized by the page size. When it does, a page counts as
// resident if any of its 4 KiB pieces is.
func sysResident(addr unsafe.Pointer, length uintptr, res []bool) error {
	const piece = 4096
	vec := make([]byte, max(uintptr(len(res)), length/piece))
	const unwritten = 0xfe // mincore sets no bit but the lowest
	for i := len(res); i < len(vec); i++ {
		vec[i] = unwritten
	}
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(addr), length, uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	per := 1
	if len(vec) > len(res) && vec[len(res)] != unwritten {
		per = len(vec) / len(res)
	}
	for i := range res {
		res[i] = false
		for _, v := range vec[i*per : (i+1)*per] {
			res[i] = res[i] || v&mincoreInCore != 0
		}
	}
	return nil
}

// sysCachestat counts the cached pages of n bytes of the file fd at off (n
// 0: to the end of the file) with cachestat(2).
func sysCachestat(fd uintptr, off, n int64) (CacheStat, error) {
	rng := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(fd), &rng, &cs, 0); err != nil {
		return CacheStat{}, err
	}
	return CacheStat{
		Cached:          int64(cs.Cache),
		Dirty:           int64(cs.Dirty),
		Writeback:       int64(cs.Writeback),
		Evicted:         int64(cs.Evicted),
		RecentlyEvicted: int64(cs.Recently_evicted),
	}, nil
}

const thpDir = "/sys/kernel/mm/transparent_hugepage/"

// linuxSupports reports whether the flags can be honoured now: HugePages
// needs transparent huge pages that are not disabled for the kind of memory
// (anonymous, or shared memory for Shared), and NoReserve needs an
// overcommit policy other than strict, under which the kernel reserves
// anyway.
func linuxSupports(f Flag) error {
	if f&HugePages != 0 {
		file, kind := "enabled", "anonymous memory"
		if f&Shared != 0 {
			file, kind = "shmem_enabled", "shared memory"
		}
		switch mode := thpMode(file); mode {
		case "":
			return unsupportedf("HugePages: this kernel has no transparent huge pages")
		case "never", "deny":
			return unsupportedf("HugePages: transparent huge pages for %s are disabled (%s%s is %q)", kind, thpDir, file, mode)
		}
	}
	if f&NoReserve != 0 {
		if b, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err == nil && strings.TrimSpace(string(b)) == "2" {
			return unsupportedf("NoReserve: vm.overcommit_memory is 2 (strict), the kernel reserves swap regardless")
		}
	}
	if f&(HugePages|Secret) != 0 {
		a := adviceTakesEffect()
		if f&HugePages != 0 && !a.hugePage {
			return unsupportedf("HugePages: MADV_HUGEPAGE is accepted but has no effect here (an emulator?)")
		}
		if f&Secret != 0 && !a.dontDumpWipe {
			return unsupportedf("Secret: MADV_DONTDUMP and MADV_WIPEONFORK are accepted but have no effect here (an emulator?)")
		}
	}
	return nil
}

// adviceTakesEffect tells whether the advice behind HugePages
// (MADV_HUGEPAGE) and Secret's plain layout (MADV_DONTDUMP,
// MADV_WIPEONFORK) takes effect: whether the flags they set show in
// /proc/self/smaps ("hg", "dd", "wf") on a page advised once. A kernel
// either refuses advice it lacks or sets them, but an emulator (qemu-user)
// may accept advice and do nothing, and a flag must not be a silent no-op.
// Where smaps cannot tell (no /proc), the advice is taken to work.
var adviceTakesEffect = sync.OnceValue(func() (a struct{ hugePage, dontDumpWipe bool }) {
	a.hugePage = adviceSets(unix.MADV_HUGEPAGE, "hg")
	a.dontDumpWipe = adviceSets(unix.MADV_DONTDUMP, "dd") && adviceSets(unix.MADV_WIPEONFORK, "wf")
	return a
})

// adviceSets reports whether advice, given to a page of private anonymous
// memory, sets the flag in the page's VmFlags in /proc/self/smaps. It
// reports false if the kernel refuses the advice, true if smaps cannot be
// read or does not show the page.
func adviceSets(advice int, flag string) bool {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return false
	}
	defer unix.MunmapPtr(p, uintptr(pageSize))
	if unix.Madvise(mem(p, uintptr(pageSize)), advice) != nil {
		return false
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return true
	}
	_, fields, ok := vmaAt(string(smaps), uintptr(p))
	if !ok {
		return true
	}
	for line := range strings.Lines(fields) {
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			return slices.Contains(strings.Fields(rest), flag)
		}
	}
	return true
}

// vmaAt finds, in the text of /proc/self/maps or /proc/self/smaps, the
// line of the mapping that holds addr. It returns the address range that
// starts the line ("start-end", as /proc/self/map_files names the mapping)
// and the text after the line, which in smaps begins with the mapping's
// fields; ok is false if no mapping holds addr.
func vmaAt(text string, addr uintptr) (span, after string, ok bool) {
	for len(text) > 0 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		span, _, _ = strings.Cut(line, " ")
		lo, hi, found := strings.Cut(span, "-")
		if !found {
			continue // a field of smaps
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(addr) >= start && uint64(addr) < end {
			return span, text, true
		}
	}
	return "", "", false
}

// thpMode returns the transparent huge page mode that applies to pages of
// hugePageSize, from file ("enabled" for anonymous memory, "shmem_enabled"
// for shared memory): the size's own setting unless it is "inherit", else
// the global one. It returns "" where the kernel has no such setting.
func thpMode(file string) string {
	mode := bracketed(fmt.Sprintf("%shugepages-%dkB/%s", thpDir, hugePageSize()>>10, file))
	if mode == "" || mode == "inherit" {
		mode = bracketed(thpDir + file)
	}
	return mode
}

// bracketed returns the word in brackets in the file name, such as
// "madvise" from "always [madvise] never", or "".
func bracketed(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	_, rest, ok := strings.Cut(string(b), "[")
	mode, _, ok2 := strings.Cut(rest, "]")
	if !ok || !ok2 {
		return ""
	}
	return mode
}

// sysWipeOnFork makes a child created by fork see zeros in place of the
// memory (MADV_WIPEONFORK, Linux 4.14). Older kernels, which reject it with
// EINVAL, leave the memory as it is: Go programs start processes with
// clone(CLONE_VM|CLONE_VFORK), which copies no memory.
func sysWipeOnFork(addr unsafe.Pointer, length uintptr) error {
	err := unix.Madvise(mem(addr, length), unix.MADV_WIPEONFORK)
	if errors.Is(err, unix.EINVAL) {
		return nil
	}
	return err
}

// sysDontFork keeps a child created by fork from inheriting the memory
// (MADV_DONTFORK).
func sysDontFork(addr unsafe.Pointer, length uintptr) error {
	return unix.Madvise(mem(addr, length), unix.MADV_DONTFORK)
}

// sysHugeTLBSize returns the default size of the pages of the huge page
// pool: Hugepagesize in /proc/meminfo, else the smallest size listed in
// /sys/kernel/mm/hugepages, else 0.
func sysHugeTLBSize() int {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "Hugepagesize:"); ok {
				if f := strings.Fields(rest); len(f) == 2 && f[1] == "kB" {
					if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
						return n << 10
					}
				}
			}
		}
	}
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		return 0
	}
	size := 0
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		kb, ok2 := strings.CutSuffix(kb, "kB")
		if n, err := strconv.Atoi(kb); ok && ok2 && err == nil && n > 0 && (size == 0 || n<<10 < size) {
			size = n << 10
		}
	}
	return size
}

// hasPopulateAdvice tells whether the kernel has MADV_POPULATE_READ and
// MADV_POPULATE_WRITE (Linux 5.14): madvise checks the advice before the
// range, so an empty range gets EINVAL where the advice is unknown. The page
// is then populated for real, as an emulator may accept advice and ignore it.
var hasPopulateAdvice = sync.OnceValue(func() bool {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, 0, 0, unix.MADV_POPULATE_WRITE); errno != 0 {
		return false
	}
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return false
	}
	defer unix.MunmapPtr(p, uintptr(pageSize))
	if unix.Madvise(mem(p, uintptr(pageSize)), unix.MADV_POPULATE_WRITE) != nil {
		return false
	}
	res := make([]bool, 1)
	return sysResident(p, uintptr(pageSize), res) == nil && res[0]
})

// sysPopulateByMap tells whether mmap should prefault the pages of a
// Populate region (MAP_POPULATE): only where the populate advice, which
// reports the pages it cannot fault in, is missing.
func sysPopulateByMap() bool { return !hasPopulateAdvice() }

// sysPopulate faults the pages in for reading or writing with the populate
// advice, and reports whether an error is EFAULT: a page could not be
// faulted in. It returns errors.ErrUnsupported where the kernel lacks the
// advice.
func sysPopulate(addr unsafe.Pointer, length uintptr, write bool) (fault bool, err error) {
	if !hasPopulateAdvice() {
		return false, errors.ErrUnsupported
	}
	advice := unix.MADV_POPULATE_READ
	if write {
		advice = unix.MADV_POPULATE_WRITE
	}
	err = unix.Madvise(mem(addr, length), advice)
	for err == unix.EINTR { // a signal interrupted it; what is populated stays
		err = unix.Madvise(mem(addr, length), advice)
	}
	return err == unix.EFAULT, err
}

// sysCollapse asks the kernel to collapse the range into transparent huge
// pages now (MADV_COLLAPSE, Linux 6.1). It is a hint: older kernels reject
// it, and a range that cannot be collapsed stays as it is.
func sysCollapse(addr unsafe.Pointer, length uintptr) {
	_ = unix.Madvise(mem(addr, length), unix.MADV_COLLAPSE)
}

// sysFreeShared frees the pages of shared memory at addr, which the caller
// is about to unmap, from the object behind them (MADV_REMOVE): unmapping
// alone leaves them held for as long as the object stays mapped elsewhere.
// The kernel refuses to remove locked pages, so they are unlocked first. It
// is a hint: pages it cannot free are freed with the object.
func sysFreeShared(addr unsafe.Pointer, length uintptr, locked bool) {
	if locked {
		_ = unix.Munlock(mem(addr, length))
	}
	_ = unix.Madvise(mem(addr, length), unix.MADV_REMOVE)
}

// sysHasGuardMarkers tells whether the kernel has guard regions
// (MADV_GUARD_INSTALL, Linux 6.13): a page with one installed must fault,
// as an emulator may accept advice and ignore it.
var sysHasGuardMarkers = sync.OnceValue(func() bool {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return false
	}
	defer unix.MunmapPtr(p, uintptr(pageSize))
	if sysGuard(p, uintptr(pageSize), true) != nil {
		return false
	}
	// A read of the guarded page must fault.
	return faultSafe(func() { runtime.KeepAlive(*(*byte)(p)) }) != 0
})

// sysGuard installs guard regions on the pages, which then fault at any
// access while staying part of their mapping, or removes them, after
// which the pages read as zeros (MADV_GUARD_INSTALL, MADV_GUARD_REMOVE).
func sysGuard(addr unsafe.Pointer, length uintptr, install bool) error {
	advice := unix.MADV_GUARD_REMOVE
	if install {
		advice = unix.MADV_GUARD_INSTALL
	}
	err := unix.Madvise(mem(addr, length), advice)
	for err == unix.EINTR {
		err = unix.Madvise(mem(addr, length), advice)
	}
	return err
}

// sysMemfdSecret is the number of memfd_secret(2): the same in every
// system call table with the common numbering (on the others, such as MIPS,
// it names no call and gets ENOSYS).
const sysMemfdSecret = 447

// noSecretMemory is set once memfd_secret has answered ENOSYS: the kernel
// lacks it or was booted without it (secretmem.enable=0).
var noSecretMemory atomic.Bool

// sysSecretMemory returns a new memfd_secret file of size bytes, or
// errors.ErrUnsupported where the kernel does not allow secret memory.
func sysSecretMemory(size int) (*os.File, error) {
	if noSecretMemory.Load() {
		return nil, errors.ErrUnsupported
	}
	fd, _, errno := unix.Syscall(sysMemfdSecret, unix.O_CLOEXEC, 0, 0)
	if errno == unix.ENOSYS {
		noSecretMemory.Store(true)
		return nil, errors.ErrUnsupported
	}
	if errno != 0 {
		return nil, pathError("memfd_secret", anonName, errno)
	}
	f := os.NewFile(fd, "memfd_secret")
	if err := unix.Ftruncate(int(fd), int64(size)); err != nil {
		f.Close()
		return nil, pathError("ftruncate", f.Name(), err)
	}
	return f, nil
}

// sysAllocate allocates the blocks of the n bytes of f at off, extending the
// file if they lie beyond its end. File systems without fallocate get
// zeros written past the file's end instead.
func sysAllocate(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	for err == unix.EINTR { // the runtime's preemption signals interrupt long calls
		err = unix.Fallocate(int(f.Fd()), 0, off, n)
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return fillZeros(f, off, n)
	}
	if err != nil {
		return pathError("fallocate", f.Name(), err)
	}
	return nil
}

// sysRemap resizes the oldLen bytes mapped at addr to newLen bytes: in
// place or anywhere if to is nil, else moved to to (over a reservation of
// the caller's, which it replaces). It returns an error matching
// errors.ErrUnsupported where mremap cannot do it and the caller should map
// again and copy.
func sysRemap(addr unsafe.Pointer, oldLen uintptr, to unsafe.Pointer, newLen uintptr) (unsafe.Pointer, error) {
	flags := unix.MREMAP_MAYMOVE
	if to != nil {
		flags |= unix.MREMAP_FIXED
	}
	p, err := unix.MremapPtr(addr, oldLen, to, newLen, flags)
	if err == unix.EFAULT {
		// The range is made of several mappings (growing inside a
		// reservation maps the new pages separately), which mremap
		// cannot move as one.
		return nil, fmt.Errorf("mmap: mremap of several mappings: %w (%w)", errors.ErrUnsupported, err)
	}
	return p, err
}

// sysFaultsHaveAddresses reports whether a memory fault past the end of a
// mapped file (SIGBUS) comes with its address, as it does from the kernel;
// qemu-user gives it none. It is found once, when Access first needs to
// know, by reading a page of a memfd cut to zero bytes; where that cannot
// be set up, it reports true, as on a real kernel.
var sysFaultsHaveAddresses = sync.OnceValue(func() bool {
	fd, err := unix.MemfdCreate("mmap-fault-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if unix.Ftruncate(fd, int64(pageSize)) != nil {
		return true
	}
	p, err := sysMap(uintptr(fd), 0, nil, uintptr(pageSize), Read, Shared)
	if err != nil {
		return true
	}
	defer sysUnmap(p, uintptr(pageSize))
	if unix.Ftruncate(fd, 0) != nil {
		return true
	}
	var one [1]byte
	_, fault := tryCopy(one[:], unsafe.Slice((*byte)(p), 1))
	return fault == 0 || fault == uintptr(p)
})

// sysSharedMemory returns a new anonymous memory file of size bytes, of
// pages of the huge page pool if huge is set (MFD_HUGETLB).
func sysSharedMemory(name string, size int64, huge bool) (*os.File, error) {
	// MFD_NOEXEC_SEAL (Linux 6.3) keeps the data from ever being executed
	// as a program; older kernels reject the flag with EINVAL.
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	if huge {
		flags |= unix.MFD_HUGETLB
	}
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, pathError("memfd_create", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, pathError("ftruncate", f.Name(), err)
	}
	return f, nil
}

// sealBits pairs each Seal with its fcntl value.
var sealBits = [...]struct {
	seal Seal
	bit  int
}{
	{SealShrink, unix.F_SEAL_SHRINK},
	{SealGrow, unix.F_SEAL_GROW},
	{SealWrite, unix.F_SEAL_WRITE},
	{SealFutureWrite, unix.F_SEAL_FUTURE_WRITE},
	{SealSeal, unix.F_SEAL_SEAL},
	{SealExec, unix.F_SEAL_EXEC},
}

func sysAddSeals(f *os.File, s Seal) error {
	bits := 0
	for _, b := range sealBits {
		if s&b.seal != 0 {
			bits |= b.bit
		}
	}
	fd, err := sealFd(f)
	if err != nil {
		return err
	}
	_, err = unix.FcntlInt(fd, unix.F_ADD_SEALS, bits)
	return err
}

// sealFd returns f's descriptor, or os.ErrClosed if the caller closed f.
func sealFd(f *os.File) (uintptr, error) {
	fd := f.Fd()
	if fd == ^uintptr(0) {
		return 0, os.ErrClosed
	}
	return fd, nil
}

func sysGetSeals(f *os.File) (Seal, error) {
	fd, err := sealFd(f)
	if err != nil {
		return 0, err
	}
	bits, err := unix.FcntlInt(fd, unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, err
	}
	var s Seal
	for _, b := range sealBits {
		if bits&b.bit != 0 {
			s |= b.seal
		}
	}
	return s, nil
}

// sysMappedFileSize returns the size of the file mapped at addr, found
// through the mapping itself: the line of /proc/self/maps whose range holds
// addr names an entry of /proc/self/map_files, a link to the very file that
// is mapped (renamed, unlinked or replaced at its path since, it does not
// matter). It serves a region from Open, whose descriptor is closed, when a
// fault must be classified: a cold path.
func sysMappedFileSize(addr uintptr) (int64, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	span, _, ok := vmaAt(string(maps), addr)
	if !ok {
		return 0, unix.ENOENT
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/map_files/"+span, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}
