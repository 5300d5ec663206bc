//go:build linux

// This file holds the tests of what only Linux has: transparent huge pages,
// the RLIMIT_MEMLOCK limit, a file system that runs out of space under
// Grow, and the size of a file that Open closed, found through its mapping.

package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHugePages(t *testing.T) {
	needSmaps(t)
	hps := hugePageSize()
	for _, flags := range []Flag{Private | HugePages, Shared | HugePages, Private | HugePages | Populate} {
		t.Run(flags.String(), func(t *testing.T) {
			file, counter := "enabled", "AnonHugePages"
			if flags&Shared != 0 {
				file, counter = "shmem_enabled", "ShmemPmdMapped"
			}
			mode := thpMode(file)
			r, err := NewAnon(2*hps, Read|Write, flags)
			if errors.Is(err, errors.ErrUnsupported) {
				if mode != "" && mode != "never" && mode != "deny" && !emulated() {
					t.Fatalf("NewAnon: %v, but the huge page mode in %s is %q", err, file, mode)
				}
				t.Skipf("transparent huge pages are disabled (%s: %q): %v", file, mode, err)
			}
			mapRegion(t, r, err)
			addr := regionAddr(r)
			if uintptr(addr)%uintptr(hps) != 0 {
				t.Errorf("address %p is not aligned to the huge page size %d", addr, hps)
			}
			skipUnderEmulator(t, "qemu-user ignores madvise(MADV_HUGEPAGE), and smaps shows the host's mapping")
			checkSmapsFlags(t, r, "hg", "!nh")
			if flags&Populate == 0 {
				b := r.Bytes()
				for off := 0; off < len(b); off += pageSize {
					b[off] = 1
				}
			}
			m := smapsAt(t, addr)
			if m.counters[counter] == 0 {
				t.Errorf("%s is 0 after touching %d bytes advised for huge pages (%s %q; Rss %d)",
					counter, 2*hps, file, mode, m.counters["Rss"])
			}
		})
	}
}

func TestTHPMode(t *testing.T) {
	dir := tempDir(t)
	for _, tt := range []struct{ text, want string }{
		{"always [madvise] never\n", "madvise"},
		{"[always] within_size advise never deny force\n", "always"},
		{"always madvise never\n", ""},
		{"[never", ""},
	} {
		name := dir + "/mode"
		if err := os.WriteFile(name, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := bracketed(name); got != tt.want {
			t.Errorf("bracketed(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	if got := bracketed(dir + "/missing"); got != "" {
		t.Errorf("bracketed of a missing file = %q, want \"\"", got)
	}
}

func init() {
	childFuncs["lockLimit"] = childLockLimit
}

// childLockLimit lowers RLIMIT_MEMLOCK to two pages, drops CAP_IPC_LOCK
// (which lifts the limit) from its thread, and checks that Locked and Secret
// regions larger than the limit fail to map with the documented error while
// a smaller one maps. It exits with 2 if it could not drop the capability.
func childLockLimit() int {
	runtime.LockOSThread() // capabilities are per thread: Map runs on this one
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		fmt.Fprintln(os.Stderr, "child: capget:", err)
		return 1
	}
	data[0].Effective &^= 1 << unix.CAP_IPC_LOCK
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		fmt.Fprintln(os.Stderr, "child: capset:", err)
		return 1
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "child: getrlimit:", err)
		return 1
	}
	lim.Cur = uint64(2 * pageSize)
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "child: setrlimit:", err)
		return 1
	}

	small, err := NewAnon(pageSize, Read|Write, Private|Locked)
	if small = childMap("child: a locked region within the limit", small, err); small == nil {
		return 1
	}
	defer small.Unmap()
	status := 0
	for _, flags := range []Flag{Private | Locked, Private | Secret} {
		r, err := NewAnon(16*pageSize, Read|Write, flags)
		if unsupportedHere(err) {
			continue // Secret under an emulator that ignores its advice
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		err = r.Map()
		if err == nil {
			r.Unmap()
			fmt.Fprintln(os.Stderr, "child: the memory lock limit does not apply")
			return 2
		}
		// Secret memory (memfd_secret) is locked by mmap itself, which
		// refuses it with EAGAIN beyond the limit.
		var pe *fs.PathError
		locked := errors.As(err, &pe) && pe.Op == "mlock" && (errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EPERM))
		secret := flags&Secret != 0 && errors.As(err, &pe) && pe.Op == "mmap" && errors.Is(err, unix.EAGAIN)
		if !locked && !secret || r.Mapped() {
			fmt.Fprintf(os.Stderr, "child: Map(%v) beyond RLIMIT_MEMLOCK: %v, mapped %v; want an *fs.PathError of mlock with ENOMEM or EPERM (or of mmap with EAGAIN for Secret), unmapped\n",
				flags, err, r.Mapped())
			status = 1
		}
	}
	return status
}

func TestLockedOverMemlockLimit(t *testing.T) {
	t.Parallel() // the child's start is slow under the race detector
	err := childCommand(t, "lockLimit", nil).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		t.Skip("the child could not give up CAP_IPC_LOCK")
	}
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

// mountTmpfs mounts a tmpfs of 1 MiB on dir.
func mountTmpfs(dir string) error {
	return unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m")
}

// unmount unmounts dir, detaching it if it is still busy.
func unmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return unix.Unmount(dir, unix.MNT_DETACH)
	}
	return nil
}

// TestGrowOnFullDisk grows a file on a file system too small for it: Grow
// fails with ENOSPC and the region stays usable.
func TestGrowOnFullDisk(t *testing.T) {
	dir := smallFS(t)
	ps := PageSize()
	f, err := os.OpenFile(dir+"/log", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(pattern(ps, 2)); err != nil {
		t.Fatal(err)
	}
	r, err := NewFile(f, 0, ps, Read|Write, Shared)
	r = mapRegion(t, r, err)

	err = r.Grow(4 << 20) // the file system holds 1 MiB
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Grow on a full file system = %v, want ENOSPC", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || (pe.Op != "fallocate" && pe.Op != "write") {
		t.Errorf("Grow error %v is not an *fs.PathError from fallocate or write", err)
	}
	checkContents(t, r, pattern(ps, 2))

	// What fits still grows, and the new memory can be written.
	if err := r.Grow(8 * ps); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteAt(pattern(7*ps, 4), int64(ps)); err != nil {
		t.Fatal(err)
	}
	checkContents(t, r, append(pattern(ps, 2), pattern(7*ps, 4)...))

	// The portable fallback, writing zeros, fails the same way.
	if err := fillZeros(f, 8*int64(ps), 4<<20); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("fillZeros on a full file system = %v, want ENOSPC", err)
	}
}

// smallFS mounts a 1 MiB tmpfs for the test and returns its directory,
// or skips the test where mounting is not allowed.
func smallFS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root; run as root to test Grow on a full disk")
	}
	dir := tempDir(t)
	if err := mountTmpfs(dir); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): Grow on a full disk is not tested", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestOpenedRegionFaultMatchesPastEOF checks that a fault past the end of
// the file in a region from Open, whose file is closed once mapped, matches
// ErrPastEOF as it does for NewFile: the size comes from the file the
// mapping leads to, not from the path, which by then names another, larger
// file.
func TestOpenedRegionFaultMatchesPastEOF(t *testing.T) {
	skipUnderEmulator(t, "the emulator's /proc/self/maps shows the guest's addresses, /proc/self/map_files the host's")
	ps := PageSize()
	_, name := tempFile(t, pattern(4*ps, 3), os.O_RDONLY)
	r, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(name, int64(ps)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(name, name+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, pattern(16*ps, 4), 0o644); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 2*ps)
	n, err := r.ReadAt(buf, int64(ps/2))
	checkPastEOFFault(t, "ReadAt across the end", err, int64(ps))
	if n != ps/2 {
		t.Errorf("ReadAt across the end copied %d bytes, want the %d before the end", n, ps/2)
	}
	err = r.Access(2*ps, 10, func(b []byte) error {
		sink = b[3] // faults
		return nil
	})
	checkPastEOFFault(t, "Access past the end", err, int64(2*ps+3))
	if err := r.Advise(PopulateRead); !errors.Is(err, ErrFault) || !errors.Is(err, ErrPastEOF) {
		t.Errorf("Advise(PopulateRead) past the end = %v, want an error matching ErrFault and ErrPastEOF", err)
	}
}

// TestAdviceProbeReadsSmaps checks the probe behind refusing HugePages and
// Secret where their advice is accepted and ignored: on this kernel it finds
// its page in smaps, sees the flag the advice sets, and not another.
func TestAdviceProbeReadsSmaps(t *testing.T) {
	needSmaps(t)
	skipUnderEmulator(t, "the emulator may accept advice and ignore it: the probe's answer is what it should say there")
	if !adviceSets(unix.MADV_DONTDUMP, "dd") {
		t.Error("MADV_DONTDUMP does not set dd, as the probe reads smaps")
	}
	if adviceSets(unix.MADV_DONTDUMP, "hg") {
		t.Error("MADV_DONTDUMP sets hg, as the probe reads smaps: it does not find its page")
	}
	if a := adviceTakesEffect(); !a.dontDumpWipe {
		t.Errorf("adviceTakesEffect = %+v on a kernel that honours MADV_DONTDUMP and MADV_WIPEONFORK", a)
	}
}

// TestVMAAt checks that vmaAt finds the mapping that holds an address in
// the text of smaps, with the fields that follow its line, and no mapping
// for an address between two.
func TestVMAAt(t *testing.T) {
	const text = "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n" +
		"Size:                328 kB\n" +
		"VmFlags: rd ex mr mw me dw\n" +
		"f7001000-f7003000 rw-p 00000000 00:00 0 \n" +
		"Size:                  8 kB\n" +
		"VmFlags: rd wr mr mw me ac dd\n"
	span, after, ok := vmaAt(text, 0xf7002fff)
	if !ok || span != "f7001000-f7003000" || !strings.HasPrefix(after, "Size:                  8 kB\nVmFlags: rd wr mr mw me ac dd") {
		t.Errorf("vmaAt(0xf7002fff) = %q, %q, %v; want the second mapping", span, after, ok)
	}
	if span, _, ok := vmaAt(text, 0x400000); !ok || span != "00400000-00452000" {
		t.Errorf("vmaAt(0x400000) = %q, %v; want the first mapping", span, ok)
	}
	for _, addr := range []uintptr{0x452000, 0xf7000fff, 0xf7003000} {
		if span, _, ok := vmaAt(text, addr); ok {
			t.Errorf("vmaAt(%#x) = %q; want no mapping", addr, span)
		}
	}
}
