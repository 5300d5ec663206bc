package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mmapkit/mmap"
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
		width := min(32, pages)
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

func TestPagecacheResidencyMap(t *testing.T) {
	r := result{pages: 6, from: cachestat, buckets: []int64{1, 0, 1, 1, 0, 1}}
	if got, want := string(residencyMap(nil, r, 6)), "[█ ██ █]"; got != want {
		t.Errorf("map of 6 pages = %q, want %q", got, want)
	}
	// 64 pages in 8 slices of 8: full, 1/8, 4/8, 7/8, empty.
	r = result{pages: 64, from: cachestat, buckets: []int64{8, 1, 4, 7, 0, 0, 0, 0}}
	if got, want := string(residencyMap(nil, r, 8)), "[█▁▄▇    ]"; got != want {
		t.Errorf("map = %q, want %q", got, want)
	}
	r.from = unknown
	if got, want := string(residencyMap(nil, r, 8)), "[????????]"; got != want {
		t.Errorf("map of an unknown file = %q, want %q", got, want)
	}
	if got := string(residencyMap(nil, result{from: cachestat}, 8)); got != "[]" {
		t.Errorf("map of an empty file = %q, want []", got)
	}
}

func TestPagecacheTextFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &textReporter{w: &b}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, from: cachestat, stat: mmap.CacheStat{Cached: 1}})
	rep.file(result{path: "dir/empty", size: 0, from: cachestat})
	rep.file(result{path: "new\nline", size: 1, pages: 1, from: mincore, stat: mmap.CacheStat{Cached: 1}})
	rep.file(result{path: "secret", size: 8192, pages: 2, from: unknown})
	tot := totals{files: 4, dirs: 1, skipped: 2, size: 13193, pages: 5, unknown: 1, unknownPages: 2, stat: resultStat{cached: 2}}
	rep.total(tot)
	want := `      SIZE      PAGES   RESIDENT   RES_SIZE PERCENT  PATH
      4.9K          2          1       4.0K   50.0%  a
        0B          0          0         0B       -  dir/empty
        1B          1          1       4.0K    100%  "new\nline"
      8.0K          2          ?          ?       ?  secret
     12.9K          5          2       8.0K   66.6%  total (4 files, 1 directory, 2 skipped, 1 unknown)
residency unknown for 1 file (2 pages), left out of the resident total and percent: the kernel tells only their owner, a user who may write them, or root
`
	if pageSize == 4096 && b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	rep = &textReporter{w: &b, bytes: true, mapWidth: 2}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, from: cachestat, stat: mmap.CacheStat{Cached: 1}, buckets: []int64{1, 0}})
	rep.total(totals{files: 1, dirs: 0, size: 5000, pages: 2, stat: resultStat{cached: 1}, detail: true})
	want = `      SIZE      PAGES   RESIDENT   RES_SIZE PERCENT  RESIDENCY PATH
      5000          2          1       4096   50.0%  [█ ]      a
      5000          2          1       4096   50.0%            total (1 file, 0 directories)
`
	if pageSize == 4096 && b.String() != want {
		t.Errorf("table with -v -bytes:\n%s\nwant:\n%s", b.String(), want)
	}

	// Chosen columns, raw numbers, dirty and the like: '-' where mincore
	// counted, '?' where nothing did.
	b.Reset()
	cols, err := parseColumns("path,resident,dirty,evicted,percent")
	if err != nil {
		t.Fatal(err)
	}
	rep = &textReporter{w: &b, cols: cols, raw: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, from: cachestat, stat: mmap.CacheStat{Cached: 1, Dirty: 1, Evicted: 3}})
	rep.file(result{path: "m", size: 5000, pages: 2, from: mincore, stat: mmap.CacheStat{Cached: 2}})
	rep.file(result{path: "u", size: 5000, pages: 2, from: unknown})
	want = "a 1 1 3 50.00\nm 2 - - 100.00\nu ? ? ? ?\n"
	if b.String() != want {
		t.Errorf("-raw -o path,resident,dirty,evicted,percent:\n%s\nwant:\n%s", b.String(), want)
	}
	if _, err := parseColumns("size,nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown column: error %v", err)
	}

	b.Reset()
	rep = &textReporter{w: &b, summary: true}
	rep.header()
	rep.file(result{path: "a", size: 5000, pages: 2, from: cachestat, stat: mmap.CacheStat{Cached: 1}})
	rep.total(totals{files: 1, size: 5000, pages: 2, stat: resultStat{cached: 1}})
	if strings.Contains(b.String(), " a\n") || !strings.Contains(b.String(), "total (1 file, 0 directories)") {
		t.Errorf("-s table:\n%s", b.String())
	}
}

func TestPagecacheJSONFormat(t *testing.T) {
	var b bytes.Buffer
	rep := &jsonReporter{w: &b}
	rep.header()
	rep.file(result{path: "a\"b", size: 5000, pages: 2, from: cachestat, stat: mmap.CacheStat{Cached: 1, Dirty: 1}, buckets: []int64{1, 0}})
	rep.file(result{path: "m\x01", size: 5000, pages: 2, from: mincore, stat: mmap.CacheStat{Cached: 2}})
	rep.file(result{path: "u\xff/\xfe", size: 5000, pages: 2, from: unknown})
	rep.total(totals{files: 3, dirs: 2, skipped: 3, unknown: 1, size: 15000, pages: 6, stat: resultStat{cached: 3}})
	want := `{"path":"a\"b","size":5000,"pages":2,"resident":1,"dirty":1,"writeback":0,"evicted":0,"recently_evicted":0}
{"path":"m\u0001","size":5000,"pages":2,"resident":2}
{"path":"u�/�","path_base64":"df8v/g==","size":5000,"pages":2,"resident":null}
{"total":true,"files":3,"directories":2,"skipped":3,"over_max":0,"unknown":1,"size":15000,"pages":6,"resident":3}
`
	if b.String() != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b.String(), want)
	}
	// Every line is JSON, and the path comes back byte for byte.
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		var f jsonFile
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		if f.PathBase64 != "" {
			if p, err := base64.StdEncoding.DecodeString(f.PathBase64); err != nil || string(p) != "u\xff/\xfe" {
				t.Errorf("path_base64 %q decodes to %q, %v", f.PathBase64, p, err)
			}
		}
	}
}
