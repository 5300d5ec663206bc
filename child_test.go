package mmap

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Some tests need a second process: they run this test binary again with
// the name of a child function in childEnv. Test files register their child
// functions in childFuncs from an init function.

const childEnv = "MMAP_TEST_CHILD"

// emulatorEnv names the emulator command (such as "qemu-aarch64 -p 65536")
// that runs this test binary when it is not native to the machine
// (scripts/test-qemu.sh sets it); childCommand runs children under it too.
const emulatorEnv = "MMAP_TEST_EMULATOR"

// noChildEnv, when set, says why tests that need a child process cannot run
// (an emulator that cannot run them), and makes childCommand skip them.
const noChildEnv = "MMAP_TEST_NO_CHILD"

// childFuncs maps a name to the function that a child process runs; its
// result is the child's exit status.
var childFuncs = map[string]func() int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		fn, ok := childFuncs[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child %q\n", name)
			os.Exit(3)
		}
		os.Exit(fn())
	}
	os.Exit(m.Run())
}

// childCommand returns a command that runs the child function name in a new
// process of this test binary, with files passed as descriptors 3, 4... and
// env added to the environment.
func childCommand(t *testing.T, name string, files []*os.File, env ...string) *exec.Cmd {
	t.Helper()
	if reason := os.Getenv(noChildEnv); reason != "" {
		t.Skipf("no child processes here: %s", reason)
	}
	args, err := selfArgs("-test.run=^$")
	if err != nil {
		t.Skipf("cannot find the test binary to run a child: %v", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), childEnv+"="+name), env...)
	cmd.ExtraFiles = files
	cmd.Stderr = os.Stderr
	return cmd
}

// selfArgs returns the command line that runs this test binary again with
// args, under the emulator of emulatorEnv where there is one (under
// qemu-user the kernel cannot run the binary by itself), or the error of
// finding the binary.
func selfArgs(args ...string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return append(strings.Fields(os.Getenv(emulatorEnv)), append([]string{exe}, args...)...), nil
}

// childMap maps r, which a constructor returned with err, for a child
// function: it returns the mapped region, or says on standard error that
// what could not be mapped, and why, and returns nil.
func childMap(what string, r *Region, err error) *Region {
	if err == nil {
		err = r.Map()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return nil
	}
	return r
}
