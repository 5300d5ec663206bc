//go:build linux

// This example is Linux only because NewSharedMemory is: elsewhere it
// returns errors.ErrUnsupported and the output would differ.

package mmap_test

import (
	"fmt"
	"log"
	"os"

	"github.com/mmapkit/mmap"
)

// Example_sharedMemory shares memory with another process with no file on
// disk. The receiving side would normally be a child process started with
// cmd.ExtraFiles = []*os.File{shm.File()}, which finds the file as
// descriptor 3 (os.NewFile(3, "shm")); to keep the example runnable on its
// own, the same process plays the receiver by mapping the file a second time.
func Example_sharedMemory() {
	shm, err := mmap.NewSharedMemory("example", 1000)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Close() // unmaps the memory and closes its file
	if err := shm.Map(); err != nil {
		log.Fatal(err)
	}
	copy(shm.Bytes(), "ping")
	// Fix the size, so that the receiver can trust it.
	if err := shm.Seal(mmap.SealShrink | mmap.SealGrow); err != nil {
		log.Fatal(err)
	}

	// The receiver's side, given the file f.
	receive := func(f *os.File) {
		seals, err := mmap.Seals(f)
		if err != nil {
			log.Fatal(err)
		}
		if seals&(mmap.SealShrink|mmap.SealGrow) != mmap.SealShrink|mmap.SealGrow {
			log.Fatalf("the memory can change size underneath us: seals %v", seals)
		}
		fi, err := f.Stat()
		if err != nil {
			log.Fatal(err)
		}
		view, err := mmap.NewFile(f, 0, int(fi.Size()), mmap.Read|mmap.Write, mmap.Shared)
		if err != nil {
			log.Fatal(err)
		}
		if err := view.Map(); err != nil {
			log.Fatal(err)
		}
		defer view.Unmap()
		fmt.Printf("receiver got %q in %d bytes\n", view.Bytes()[:4], view.Len())
		copy(view.Bytes(), "pong")
	}
	receive(shm.File())

	// No Flush: both mappings are the same memory.
	fmt.Printf("sender reads %q\n", shm.Bytes()[:4])
	// Output:
	// receiver got "ping" in 1000 bytes
	// sender reads "pong"
}
