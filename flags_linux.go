// This file checks, on Linux, that the flags which depend on the system's
// settings can be honoured (transparent huge pages, overcommit), and adds
// the fork wipe of Secret regions.

package mmap

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const thpDir = "/sys/kernel/mm/transparent_hugepage/"

// sysSupports reports whether the flags can be honoured now: HugePages
// needs transparent huge pages that are not disabled for the kind of memory
// (anonymous, or shared memory for Shared), and NoReserve needs an
// overcommit policy other than strict, under which the kernel reserves
// anyway.
func sysSupports(f Flag, _ bool) error {
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
	return nil
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
