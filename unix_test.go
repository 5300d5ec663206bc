//go:build unix

// This file holds the tests that need unix: named pipes, /dev/null, a
// file truncated under a mapping, a child process killed with SIGKILL, and
// descriptors passed to a child.

package mmap

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Environment of the child processes of this file.
const (
	patternSizeEnv = "MMAP_CORE_SIZE"
	patternSeedEnv = "MMAP_CORE_SEED"
)

func init() {
	childFuncs["core-verify"] = childVerifyPattern
	childFuncs["core-write-and-wait"] = childWriteAndWait

	systemBadInputs = append(systemBadInputs,
		badInput{name: "NewFile/named pipe", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			name := namedPipe(t)
			// O_NONBLOCK: opening a named pipe for reading does not wait
			// for a writer then.
			f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = NewFile(f, 0, PageSize(), Read, Shared)
			return err
		}},
		badInput{name: "Open/named pipe", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			_, err := Open(namedPipe(t)) // must not block waiting for a writer
			return err
		}},
		badInput{name: "Map/dev null", want: []error{fs.ErrInvalid, syscall.ENODEV}, op: "mmap", run: func(t *testing.T) error {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewFile(f, 0, PageSize(), Read, Shared)
			if err != nil {
				t.Fatalf("NewFile of %s: %v", os.DevNull, err)
			}
			skipUnderLargePages(t, whyNoDevice)
			err = r.Map()
			if err == nil {
				r.Unmap()
			}
			return err
		}},
		badInput{name: "NewFile/dev null unaligned length", want: []error{ErrUnaligned}, run: func(t *testing.T) error {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = NewFile(f, 0, 10, Read, Shared)
			return err
		}},
		badInput{name: "Open/dev null", want: []error{fs.ErrInvalid}, run: func(t *testing.T) error {
			_, err := Open(os.DevNull)
			return err
		}},
	)
}

// namedPipe makes a named pipe in a temporary directory.
func namedPipe(t *testing.T) string {
	t.Helper()
	name := filepath.Join(tempDir(t), "fifo")
	if err := unix.Mkfifo(name, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return name
}

// childPatternArgs reads the size and seed that a child is given.
func childPatternArgs() (size int, seed byte, err error) {
	size, err = strconv.Atoi(os.Getenv(patternSizeEnv))
	if err != nil {
		return 0, 0, err
	}
	s, err := strconv.Atoi(os.Getenv(patternSeedEnv))
	return size, byte(s), err
}

// childMapShared maps the file passed as descriptor 3, shared with
// protection prot, for a child function named name: it returns the region,
// and the size and seed of the pattern the child works with, or reports
// the error on standard error and returns nil.
func childMapShared(name string, prot Prot) (r *Region, size int, seed byte) {
	size, seed, err := childPatternArgs()
	if err == nil {
		r, err = NewFile(os.NewFile(3, "shared"), 0, size, prot, Shared)
	}
	if r = childMap(name, r, err); r == nil {
		return nil, 0, 0
	}
	return r, size, seed
}

// childVerifyPattern maps the file passed as descriptor 3, shared and
// read-only, and exits 0 if it holds pattern(size, seed), 1 if not.
func childVerifyPattern() int {
	r, size, seed := childMapShared("verify-pattern", Read)
	if r == nil {
		return 2
	}
	defer r.Unmap()
	if !bytes.Equal(r.Bytes(), pattern(size, seed)) {
		return 1
	}
	return 0
}

// childWriteAndWait maps the file passed as descriptor 3, shared and
// writable, writes pattern(size, seed) through the mapping, says "ready"
// on its standard output and waits to be killed. It never flushes.
func childWriteAndWait() int {
	r, size, seed := childMapShared("write-and-wait", Read|Write)
	if r == nil {
		return 2
	}
	if _, err := r.WriteAt(pattern(size, seed), 0); err != nil {
		os.Stderr.WriteString("write-and-wait: " + err.Error() + "\n")
		return 2
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute)
	return 3
}

// TestSharedWritesSeenByChild writes through a shared mapping, flushes it,
// and has a second process map the file and compare.
func TestSharedWritesSeenByChild(t *testing.T) {
	ps := PageSize()
	const seed = 41
	size := 3*ps + 17
	r, f, _ := mapFile(t, make([]byte, size), os.O_RDWR, 0, size, Read|Write, Shared)
	if n, err := r.WriteAt(pattern(size, seed), 0); n != size || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	cmd := childCommand(t, "core-verify", []*os.File{f},
		patternSizeEnv+"="+strconv.Itoa(size), patternSeedEnv+"="+strconv.Itoa(seed))
	if err := cmd.Run(); err != nil {
		t.Fatalf("the child did not see the flushed writes: %v (exit status 1: different bytes, 2: error)", err)
	}
	// The child must also tell a difference: change one byte.
	r.Bytes()[size-1] ^= 1
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	cmd = childCommand(t, "core-verify", []*os.File{f},
		patternSizeEnv+"="+strconv.Itoa(size), patternSeedEnv+"="+strconv.Itoa(seed))
	var exit *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child comparing changed bytes: %v, want exit status 1", err)
	}
}

// TestKilledWriterLosesNothing has a child write through a shared mapping
// and be killed with SIGKILL before it flushes or unmaps: the file holds
// every byte it wrote.
func TestKilledWriterLosesNothing(t *testing.T) {
	ps := PageSize()
	const seed = 43
	size := 5*ps + 3
	f, name := tempFile(t, make([]byte, size), os.O_RDWR)
	cmd := childCommand(t, "core-write-and-wait", []*os.File{f},
		patternSizeEnv+"="+strconv.Itoa(size), patternSeedEnv+"="+strconv.Itoa(seed))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	watchdog := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child said %q, %v; want \"ready\"", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	if got, want := readFile(t, name), pattern(size, seed); !bytes.Equal(got, want) {
		t.Fatalf("file after the writer was killed (-want +got):\n%s", diff(got, want))
	}
}

// TestTruncatedFile truncates a mapped file to one page: ReadAt and
// WriteAt past the new end return ErrFault with the offset, copy what is
// before it, and leave the goroutine's panic-on-fault setting as it was;
// the remaining page still reads, and Map refuses the region afterwards.
func TestTruncatedFile(t *testing.T) {
	ps := PageSize()
	data := pattern(3*ps, 47)
	for _, flags := range []Flag{Shared, Private} {
		t.Run(flags.String(), func(t *testing.T) {
			r, f, _ := mapFile(t, data, os.O_RDWR, 0, len(data), Read|Write, flags)
			if err := f.Truncate(int64(ps)); err != nil {
				t.Fatal(err)
			}
			fault := func(what string, n int, err error, op string, wantN int, wantOff int64) {
				t.Helper()
				var fe *FaultError
				if !errors.Is(err, ErrFault) || !errors.As(err, &fe) {
					t.Errorf("%s: got %d, %v; want a *FaultError matching ErrFault", what, n, err)
					return
				}
				if n != wantN || fe.Op != op || fe.Offset != wantOff || fe.Addr == 0 {
					t.Errorf("%s: got n = %d, Op %q, Offset %d, Addr %#x; want n = %d, Op %q, Offset %d, an address",
						what, n, fe.Op, fe.Offset, fe.Addr, wantN, op, wantOff)
				}
			}
			buf := make([]byte, ps)
			n, err := r.ReadAt(buf, int64(ps))
			fault("ReadAt of the second page", n, err, "read", 0, int64(ps))
			n, err = r.ReadAt(buf, int64(2*ps+5))
			fault("ReadAt in the third page", n, err, "read", 0, int64(2*ps+5))

			big := make([]byte, 2*ps)
			n, err = r.ReadAt(big, int64(ps/2))
			fault("ReadAt across the new end", n, err, "read", ps/2, int64(ps))
			if !bytes.Equal(big[:n], data[ps/2:ps]) {
				t.Errorf("ReadAt across the new end copied the wrong bytes")
			}

			n, err = r.WriteAt(buf, int64(ps))
			fault("WriteAt to the second page", n, err, "write", 0, int64(ps))
			w := pattern(2*ps, 99)
			n, err = r.WriteAt(w, int64(ps/2))
			fault("WriteAt across the new end", n, err, "write", ps/2, int64(ps))

			for _, before := range []bool{false, true} {
				old := debug.SetPanicOnFault(before)
				_, err := r.ReadAt(buf, int64(ps))
				_, werr := r.WriteAt(buf, int64(ps))
				if !errors.Is(err, ErrFault) || !errors.Is(werr, ErrFault) {
					t.Errorf("ReadAt and WriteAt past the new end = %v, %v; want faults", err, werr)
				}
				if after := debug.SetPanicOnFault(old); after != before {
					t.Errorf("panic-on-fault was %v before ReadAt and WriteAt, %v after (errors %v, %v)", before, after, err, werr)
				}
			}

			want := bytes.Clone(data[:ps])
			copy(want[ps/2:], w)
			if n, err := r.ReadAt(buf, 0); n != ps || err != nil || !bytes.Equal(buf, want) {
				t.Errorf("ReadAt of the remaining page = %d, %v (equal: %v)", n, err, bytes.Equal(buf, want))
			}
			sink = r.Bytes()[ps-1]
			if sink != want[ps-1] {
				t.Errorf("last byte of the remaining page = %#x, want %#x", sink, want[ps-1])
			}
			if err := r.Unmap(); err != nil {
				t.Fatal(err)
			}
			checkErr(t, "Map of the truncated file", r.Map(), "", ErrPastEOF, fs.ErrInvalid)
		})
	}
}

// TestWriteToReadOnlyRegion is the classic C demonstration of anonymous
// mmap, which maps pages PROT_READ|PROT_EXEC and then writes to them:
// the write through Bytes faults, while the same write through WriteAt
// returns an error.
func TestWriteToReadOnlyRegion(t *testing.T) {
	ps := PageSize()
	for _, c := range []struct {
		name    string
		prot    Prot
		protect bool // map writable, then Protect(prot)
	}{
		{"Read|Exec", Read | Exec, false},
		{"Read", Read, false},
		{"Protect Read", Read, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			prot := c.prot
			if c.protect {
				prot = Read | Write
			}
			r, err := NewAnon(4*ps, prot, Private)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Map(); err != nil {
				if errors.Is(err, fs.ErrPermission) {
					t.Skipf("the system refuses this mapping: %v", err)
				}
				t.Fatal(err)
			}
			defer r.Unmap()
			if c.protect {
				if _, err := r.WriteAt([]byte("x"), 0); err != nil {
					t.Fatal(err)
				}
				if err := r.Protect(c.prot); err != nil {
					t.Fatal(err)
				}
			}
			n, err := r.WriteAt([]byte("y"), 0)
			checkErr(t, "WriteAt", err, "", ErrFault, fs.ErrPermission)
			if n != 0 {
				t.Errorf("WriteAt wrote %d bytes", n)
			}
			b := r.Bytes()
			if faultAddress(func() { b[0] = 'y' }) == 0 {
				t.Errorf("a write through Bytes into a %v region did not fault", c.prot)
			}
			if faultAddress(func() { b[3*ps+1] = 'y' }) == 0 {
				t.Errorf("a write through Bytes into the last page of a %v region did not fault", c.prot)
			}
			sink = b[0]
			want := byte(0)
			if c.protect {
				want = 'x'
			}
			if sink != want {
				t.Errorf("byte 0 = %q, want %q", sink, want)
			}
			// The classic program's intent, done right: writable pages.
			if err := r.Protect(Read | Write); err != nil {
				t.Fatal(err)
			}
			if faultAddress(func() { b[0] = 'y' }) != 0 {
				t.Errorf("a write through Bytes after Protect(Read|Write) faulted")
			}
			if _, err := r.WriteAt([]byte("y"), 1); err != nil {
				t.Errorf("WriteAt after Protect(Read|Write): %v", err)
			}
			if got := string(b[:2]); got != "yy" {
				t.Errorf("bytes 0 and 1 = %q, want \"yy\"", got)
			}
		})
	}
}

// TestDevice maps /dev/zero, a device that supports mapping: NewFile
// takes a page-multiple length without an end-of-file check, and the
// region reads as zeros and takes writes.
func TestDevice(t *testing.T) {
	ps := PageSize()
	f, err := os.OpenFile("/dev/zero", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/zero: %v", err)
	}
	defer f.Close()
	r, err := NewFile(f, 0, 4*ps, Read|Write, Private)
	if err != nil {
		t.Fatalf("NewFile of /dev/zero: %v", err)
	}
	skipUnderLargePages(t, whyNoDevice)
	if err := r.Map(); err != nil {
		t.Fatalf("Map of /dev/zero: %v", err)
	}
	defer r.Unmap()
	if i := firstNonZero(r.Bytes()); i >= 0 {
		t.Fatalf("byte %d of /dev/zero is %#x", i, r.Bytes()[i])
	}
	p := pattern(ps, 61)
	if n, err := r.WriteAt(p, int64(3*ps)); n != ps || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	if got := r.Bytes()[3*ps:]; !bytes.Equal(got, p) {
		t.Fatalf("last page after WriteAt (-want +got):\n%s", diff(got, p))
	}
}

// whyNoDevice is why devices cannot be mapped under qemu-user with pages
// larger than the host's.
const whyNoDevice = "qemu-user with pages larger than the host's cuts a file mapping at the file's size, " +
	"which fstat gives as 0 for a device, and fails the mmap with EINVAL"
