//go:build linux

// Tests of what a hostile user may do: output that cannot be written,
// odd arguments, lists that never come, signals at awkward times. They use
// Linux: FIFOs, signals, and the helpers of util_test.go.

package main

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
)

// pcFailWriter fails every write, as a full disk does.
type pcFailWriter struct{}

func (pcFailWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestPagecacheWriteError(t *testing.T) {
	// Output lost is a failure, not a success.
	dir := t.TempDir()
	pcWriteFile(t, dir, "f", pageSize, false)
	for _, args := range [][]string{{dir}, {"-json", dir}, {"-v", dir}} {
		var stderr bytes.Buffer
		code := run(t.Context(), args, pcFailWriter{}, &stderr)
		if code != exitSkipped || !strings.Contains(stderr.String(), syscall.ENOSPC.Error()) {
			t.Errorf("pagecache %q to a full disk: exit %d, stderr %q; want 1 and the write error", args, code, stderr.String())
		}
	}
}

func TestPagecacheFlagValueDashDash(t *testing.T) {
	// "--" as the value of a flag does not end the flags.
	dir := t.TempDir()
	f := pcWriteFile(t, dir, "f", pageSize, false)
	code, out, errs := pcRun(t, "-i", "--", f, "-json")
	if code != exitOK || errs != "" {
		t.Fatalf("pagecache -i -- FILE -json: exit %d, stderr %q", code, errs)
	}
	if files, _ := pcParseJSON(t, out); len(files) != 1 {
		t.Errorf("records %v, want %s", files, f)
	}
	// After the end of the flags, a path that looks like a flag is a path.
	code, _, errs = pcRun(t, "-s", "--", "-json")
	if code != exitSkipped || !strings.Contains(errs, "-json") {
		t.Errorf("pagecache -s -- -json: exit %d, stderr %q; want 1, -json not found", code, errs)
	}
}
