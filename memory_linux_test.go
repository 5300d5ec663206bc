package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests of transparent huge pages, which only Linux has: see
// memory_test.go for the smaps helpers.

func TestMemHugePages(t *testing.T) {
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
				if mode != "" && mode != "never" && mode != "deny" {
					t.Fatalf("NewAnon: %v, but the huge page mode in %s is %q", err, file, mode)
				}
				t.Skipf("transparent huge pages are disabled (%s: %q): %v", file, mode, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Map(); err != nil {
				t.Fatal(err)
			}
			defer r.Unmap()
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

func TestMemTHPMode(t *testing.T) {
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
	if err == nil {
		err = small.Map()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: a locked region within the limit:", err)
		return 1
	}
	defer small.Unmap()
	status := 0
	for _, flags := range []Flag{Private | Locked, Private | Secret} {
		r, err := NewAnon(16*pageSize, Read|Write, flags)
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
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "mlock" || !(errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EPERM)) || r.Mapped() {
			fmt.Fprintf(os.Stderr, "child: Map(%v) beyond RLIMIT_MEMLOCK: %v, mapped %v; want an *fs.PathError of mlock with ENOMEM or EPERM, unmapped\n",
				flags, err, r.Mapped())
			status = 1
		}
	}
	return status
}

func TestMemLockLimit(t *testing.T) {
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
