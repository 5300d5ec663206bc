//go:build linux

// The tests in this file use Linux: posix_fadvise, /proc, pseudo-terminals,
// FIFOs and mount points, fincore and vmtouch.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// pcNeedTools skips the test unless util-linux's fincore and vmtouch are
// installed.
func pcNeedTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"fincore", "vmtouch"} {
		if _, err := exec.LookPath(tool); err != nil {
			pcSkip(t, "%s is not installed: run scripts/test-pagecache.sh to install vmtouch and util-linux and run this test", tool)
		}
	}
}

// pcFincore returns what util-linux's fincore says about a file: its size
// and its resident pages. Its PAGES column counts resident pages, and RES
// the same in bytes.
func pcFincore(t *testing.T, path string) (size, resident int64) {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--raw", "-o", "PAGES,SIZE,RES", path).Output()
	if err != nil {
		t.Fatalf("fincore %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		t.Fatalf("fincore %s: output %q, want PAGES SIZE RES", path, out)
	}
	var n [3]int64
	for i, s := range f {
		if n[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("fincore %s: output %q: %v", path, out, err)
		}
	}
	if n[2] != n[0]*pageSize {
		t.Fatalf("fincore %s: RES %d is not PAGES %d times the page size", path, n[2], n[0])
	}
	return n[1], n[0]
}

var pcVmtouchRE = regexp.MustCompile(`Resident Pages: (\d+)/(\d+) `)

// pcVmtouch returns what vmtouch says about a file: its resident pages and
// its pages.
func pcVmtouch(t *testing.T, path string) (resident, pages int64) {
	t.Helper()
	out, err := exec.Command("vmtouch", path).Output()
	if err != nil {
		t.Fatalf("vmtouch %s: %v", path, err)
	}
	m := pcVmtouchRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("vmtouch %s: no resident pages in %q", path, out)
	}
	resident, _ = strconv.ParseInt(string(m[1]), 10, 64)
	pages, _ = strconv.ParseInt(string(m[2]), 10, 64)
	return resident, pages
}

// pcEventually runs check, which sets up a state of the page cache and
// returns what is wrong with it, until it finds nothing wrong, at most five
// times. The page cache changes under the tests: memory pressure, and on
// some machines a proactive reclaimer (DAMON's pageout scheme) evicts pages
// soon after they are read. A real disagreement between the tools shows on
// every attempt.
func pcEventually(t *testing.T, check func() []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		problems := check()
		if len(problems) == 0 {
			return
		}
		if attempt == 5 {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		t.Logf("attempt %d: %s (and %d more problems); the page cache may have changed underneath, trying again",
			attempt, problems[0], len(problems)-1)
	}
}

// pcCompare runs the tool on dir, and fincore and vmtouch on each file,
// and returns the tool's counts and every disagreement between them, file
// by file. The tool runs before and after the others: if its counts
// changed meanwhile, the page cache changed and that is reported too.
func pcCompare(t *testing.T, dir string, files []string) (map[string]pcCounts, []string) {
	t.Helper()
	var problems []string
	before, total := pcJSON(t, dir)
	if total.Files != len(files) || total.Skipped != 0 {
		t.Fatalf("total %+v, want %d files", total, len(files))
	}
	for _, f := range files {
		fsize, fres := pcFincore(t, f)
		vres, vpages := pcVmtouch(t, f)
		c, ok := before[f]
		switch {
		case !ok:
			t.Fatalf("%s: no record from the tool", f)
		case c.size != fsize || c.pages != pagesOf(fsize) || c.pages != vpages:
			problems = append(problems, fmt.Sprintf("%s: tool %v; fincore size %d (%d pages); vmtouch %d pages",
				f, c, fsize, pagesOf(fsize), vpages))
		case c.resident != fres || c.resident != vres:
			problems = append(problems, fmt.Sprintf("%s: tool %v; fincore %d resident; vmtouch %d resident",
				f, c, fres, vres))
		}
	}
	after, _ := pcJSON(t, dir)
	for f, c := range before {
		if after[f] != c {
			problems = append(problems, fmt.Sprintf("%s: tool %v before fincore and vmtouch, %v after", f, c, after[f]))
		}
	}
	return before, problems
}

// pcCompareFiles makes files of sizes around page boundaries, one of more
// than a page, and a sparse one larger than a mapping window.
func pcCompareFiles(t *testing.T, dir string) (files []string, mid, sparse string) {
	t.Helper()
	ps := pageSize
	for i, size := range []int64{0, 1, ps - 1, ps, ps + 1, 3 * ps} {
		files = append(files, pcWriteFile(t, dir, "f"+strconv.Itoa(i), size, false))
	}
	mid = pcWriteFile(t, dir, "mid", 1<<20+123, false)
	sparse = pcWriteFile(t, dir, "sparse", window+3*ps+5, true)
	return append(files, mid, sparse), mid, sparse
}

func TestPagecacheCompare(t *testing.T) {
	pcNeedTools(t)
	dir := pcDiskDir(t)
	files, mid, sparse := pcCompareFiles(t, dir)
	evictAll := func() {
		for _, f := range files {
			pcEvict(t, f)
		}
	}
	sparsePages := pagesOf(window + 3*pageSize + 5)
	winPages := window / pageSize

	t.Run("evicted", func(t *testing.T) {
		pcEventually(t, func() []string {
			evictAll()
			counts, problems := pcCompare(t, dir, files)
			for f, c := range counts {
				if c.resident != 0 {
					problems = append(problems, fmt.Sprintf("%s: %v after eviction", f, c))
				}
			}
			return problems
		})
	})
	t.Run("cached", func(t *testing.T) {
		pcEventually(t, func() []string {
			evictAll()
			for _, f := range files {
				if f == sparse {
					pcReadPages(t, f, 0, winPages-1, winPages, sparsePages-1)
					continue
				}
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range b {
					pcSink += c
				}
			}
			counts, problems := pcCompare(t, dir, files)
			for f, c := range counts {
				if f != sparse && c.resident != c.pages || f == sparse && (c.resident < 4 || c.resident == c.pages) {
					problems = append(problems, fmt.Sprintf("%s: %v after reading it (the sparse file: 4 pages)", f, c))
				}
			}
			return problems
		})
	})
	partial := func(t *testing.T, files []string, withSparse bool) {
		pcEventually(t, func() []string {
			for _, f := range files {
				pcEvict(t, f)
			}
			pcReadPages(t, mid, 3, 50, 51, 200)
			pcReadPages(t, files[4], 1) // second page of a file of a page and a byte
			if withSparse {
				pcReadPages(t, sparse, 7, winPages, sparsePages-1)
			}
			counts, problems := pcCompare(t, dir, files)
			for f, c := range counts {
				if (f == mid || f == sparse) && (c.resident == 0 || c.resident == c.pages) {
					problems = append(problems, fmt.Sprintf("%s: %v after reading a few pages", f, c))
				}
			}
			return problems
		})
	}
	t.Run("partial", func(t *testing.T) { partial(t, files, true) })
	t.Run("partial/small windows", func(t *testing.T) {
		// Windows of 3 pages: every file of more than 3 pages is counted in
		// several windows, the last one partial. The sparse file would take
		// 87000 windows: it goes.
		old := window
		window = 3 * pageSize
		t.Cleanup(func() { window = old })
		if err := os.Remove(sparse); err != nil {
			t.Fatal(err)
		}
		partial(t, files[:len(files)-1], false)
	})
}

func TestPagecacheTouchEvict(t *testing.T) {
	pcNeedTools(t)
	dir := pcDiskDir(t)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i, size := range []int64{0, 1, pageSize + 1, 8<<20 + 7} {
		files = append(files, pcWriteFile(t, dir, "f"+strconv.Itoa(i), size, false))
	}
	files = append(files, pcWriteFile(t, dir, "sub/g", 100*pageSize, false))
	// A sparse file: touching it loads zero pages for the holes.
	files = append(files, pcWriteFile(t, dir, "sparse", 5<<20+3, true))

	// check runs the tool with args on dir, then checks with fincore and
	// vmtouch that every page of every file is resident (or none is).
	check := func(t *testing.T, args []string, wantResident bool) {
		t.Helper()
		pcEventually(t, func() []string {
			code, out, errs := pcRun(t, append(append([]string{"-json"}, args...), dir)...)
			if code != exitOK || errs != "" {
				t.Fatalf("pagecache %q: exit %d, stderr %q", args, code, errs)
			}
			recs, total := pcParseJSON(t, out)
			if total.Files != len(files) || total.Directories != 2 || len(recs) != len(files) {
				t.Fatalf("pagecache %q: total %+v, %d records; want %d files, 2 directories", args, total, len(recs), len(files))
			}
			var problems []string
			for _, f := range files {
				size, fres := pcFincore(t, f)
				vres, vpages := pcVmtouch(t, f)
				want := int64(0)
				if wantResident {
					want = pagesOf(size)
				}
				c := recs[f]
				if fres != want || vres != want || vpages != pagesOf(size) || c.resident != want || c.pages != vpages {
					problems = append(problems, fmt.Sprintf("%s after pagecache %q: fincore %d resident, vmtouch %d/%d, the tool reported %v; want %d resident",
						f, args, fres, vres, vpages, c, want))
				}
			}
			return problems
		})
	}
	for _, f := range files {
		pcEvict(t, f)
	}
	t.Run("touch", func(t *testing.T) { check(t, []string{"-touch"}, true) })
	t.Run("evict", func(t *testing.T) { check(t, []string{"-evict"}, false) })
	t.Run("small windows", func(t *testing.T) {
		old := window
		window = 3 * pageSize
		t.Cleanup(func() { window = old })
		check(t, []string{"-touch"}, true)
		check(t, []string{"-evict"}, false)
	})
}
