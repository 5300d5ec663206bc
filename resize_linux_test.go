package mmap

import "golang.org/x/sys/unix"

// storMount mounts a tmpfs of 1 MiB on dir.
func storMount(dir string) error {
	return unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m")
}

// storUnmount unmounts dir, detaching it if it is still busy.
func storUnmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return unix.Unmount(dir, unix.MNT_DETACH)
	}
	return nil
}
