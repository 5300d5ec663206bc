//go:build !linux

package mmap

import "errors"

// storMount mounts nothing: the tests that need a small file system run on
// Linux only.
func storMount(string) error { return errors.ErrUnsupported }

func storUnmount(string) error { return errors.ErrUnsupported }
