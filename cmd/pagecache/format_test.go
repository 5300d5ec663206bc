package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPagecachePagesOf(t *testing.T) {
	ps := pageSize
	for _, tc := range []struct{ size, want int64 }{
		{0, 0}, {1, 1}, {ps - 1, 1}, {ps, 1}, {ps + 1, 2}, {3 * ps, 3},
		{1 << 40, (1 << 40) / ps}, {1<<40 + 1, (1<<40)/ps + 1},
		{1<<63 - 1, (1<<63-1)/ps + 1},
	} {
		if got := pagesOf(tc.size); got != tc.want {
			t.Errorf("pagesOf(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestPagecachePercent(t *testing.T) {
	for _, tc := range []struct {
		resident, pages int64
		want            string
	}{
		{0, 0, "-"}, {0, 5, "0%"}, {5, 5, "100%"}, {1, 2, "50.0%"}, {1, 3, "33.3%"},
		{2, 3, "66.6%"}, {999, 1000, "99.9%"}, {9999, 10000, "99.9%"}, {1, 1000, "0.1%"},
		{1, 1001, "<0.1%"}, {1, 1 << 51, "<0.1%"}, {1<<51 - 1, 1 << 51, "99.9%"},
	} {
		if got := percent(tc.resident, tc.pages); got != tc.want {
			t.Errorf("percent(%d, %d) = %q, want %q", tc.resident, tc.pages, got, tc.want)
		}
	}
}

func TestPagecacheHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0K"}, {1536, "1.5K"}, {1 << 20, "1.0M"},
		{3 << 30, "3.0G"}, {1 << 40, "1.0T"}, {1<<63 - 1, "8.0E"},
	} {
		if got := humanSize(tc.n); got != tc.want {
			t.Errorf("humanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPagecacheBuckets(t *testing.T) {
	// Every page falls in exactly one slice, slices are in page order, and
	// bucketPages agrees with bucketOf.
	for _, pages := range []int64{1, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 12345} {
		width := min(int64(barWidth), pages)
		counts := make([]int64, width)
		last := int64(0)
		for i := range pages {
			b := bucketOf(i, pages, width)
			if b < last || b >= width {
				t.Fatalf("pages %d: page %d in slice %d after slice %d (width %d)", pages, i, b, last, width)
			}
			last = b
			counts[b]++
		}
		for b, n := range counts {
			if want := bucketPages(int64(b), pages, width); n != want || n == 0 {
				t.Errorf("pages %d: slice %d has %d pages, bucketPages says %d", pages, b, n, want)
			}
		}
	}
}

func TestPagecacheResidencyBar(t *testing.T) {
	r := result{pages: 6, buckets: []int64{1, 0, 1, 1, 0, 1}}
	if got, want := residencyBar(r), "[O OO O]"; got != want {
		t.Errorf("bar of 6 pages = %q, want %q", got, want)
	}
	// 64 pages in 32 slices of 2: full, partial, empty.
	r = result{pages: 64, buckets: make([]int64, 32)}
	r.buckets[0], r.buckets[1] = 2, 1
	want := "[Oo" + strings.Repeat(" ", 30) + "]"
	if got := residencyBar(r); got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	if got := residencyBar(result{}); got != "[]" {
		t.Errorf("bar of an empty file = %q, want []", got)
	}
}

func TestPagecacheTextFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &textReporter{w: &b}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1})
	rep.file(result{path: "dir/empty", size: 0})
	rep.file(result{path: "new\nline", size: 1, pages: 1, resident: 1})
	rep.total(totals{files: 3, dirs: 1, skipped: 2, size: 5001, pages: 3, resident: 2})
	want := `      SIZE      PAGES   RESIDENT PERCENT  PATH
      4.9K          2          1   50.0%  a
        0B          0          0       -  dir/empty
        1B          1          1    100%  "new\nline"
      4.9K          3          2   66.6%  total (3 files, 1 directory, 2 skipped)
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	rep = &textReporter{w: &b, bytes: true, bar: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1, buckets: []int64{1, 0}})
	rep.total(totals{files: 1, dirs: 0, size: 5000, pages: 2, resident: 1})
	want = `      SIZE      PAGES   RESIDENT PERCENT  RESIDENCY                           PATH
      5000          2          1   50.0%  [O ]                                a
      5000          2          1   50.0%                                      total (1 file, 0 directories)
`
	if b.String() != want {
		t.Errorf("table with -v -bytes:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	rep = &textReporter{w: &b, summary: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, resident: 1})
	rep.total(totals{files: 1, size: 5000, pages: 2, resident: 1})
	if strings.Contains(b.String(), " a\n") || !strings.Contains(b.String(), "total (1 file, 0 directories)") {
		t.Errorf("-s table:\n%s", b.String())
	}
}

func TestPagecacheJSONFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &jsonReporter{enc: json.NewEncoder(&b)}
	rep.header()
	rep.file(result{path: "a\"b", size: 5000, pages: 2, resident: 1, buckets: []int64{1, 0}})
	rep.total(totals{files: 1, dirs: 2, skipped: 3, size: 5000, pages: 2, resident: 1})
	want := `{"path":"a\"b","size":5000,"pages":2,"resident":1}
{"total":true,"files":1,"directories":2,"skipped":3,"size":5000,"pages":2,"resident":1}
`
	if b.String() != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b.String(), want)
	}
}
