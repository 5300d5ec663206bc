package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// totals sums the results of a run.
type totals struct {
	files, dirs, skipped int
	large                int   // files over -max, left out
	unknown              int   // files whose residency the kernel would not tell
	unknownPages         int64 // their pages
	size, pages          int64
	stat                 resultStat // sums over the files whose residency is known
	detail               bool       // every known file was counted with cachestat
}

// resultStat is the sum of the counts of files.
type resultStat struct{ cached, dirty, writeback, evicted, recent int64 }

func (t *totals) add(r result) {
	t.files++
	t.size += r.size
	t.pages += r.pages
	switch r.from {
	case unknown:
		t.unknown++
		t.unknownPages += r.pages
		return
	case mincore:
		t.detail = false
	}
	t.stat.cached += r.stat.Cached
	t.stat.dirty += r.stat.Dirty
	t.stat.writeback += r.stat.Writeback
	t.stat.evicted += r.stat.Evicted
	t.stat.recent += r.stat.RecentlyEvicted
}

// A reporter writes the results in one of the output formats.
type reporter interface {
	header()
	file(r result)
	total(t totals)
}

// A column of the table.
type column struct {
	name   string // for -o
	title  string
	width  int  // 0: as wide as the value (the last columns)
	detail bool // known only from cachestat
}

var columns = []column{
	{"size", "SIZE", 10, false},
	{"pages", "PAGES", 10, false},
	{"resident", "RESIDENT", 10, false},
	{"rsize", "RES_SIZE", 10, false},
	{"percent", "PERCENT", 7, false},
	{"dirty", "DIRTY", 9, true},
	{"writeback", "WRITEBACK", 9, true},
	{"evicted", "EVICTED", 9, true},
	{"recent", "RECENT", 9, true},
	{"map", "RESIDENCY", 0, false},
	{"path", "PATH", 0, false},
}

const defaultColumns = "size,pages,resident,rsize,percent,path"

// parseColumns parses the -o list of column names.
func parseColumns(list string) ([]column, error) {
	var cols []column
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := -1
		for j, c := range columns {
			if c.name == name {
				i = j
			}
		}
		if i < 0 {
			names := make([]string, len(columns))
			for j, c := range columns {
				names[j] = c.name
			}
			return nil, fmt.Errorf("-o: unknown column %q (columns: %s)", name, strings.Join(names, ","))
		}
		cols = append(cols, columns[i])
	}
	return cols, nil
}

// textReporter writes a table, the path last so that long paths do not
// break the columns.
type textReporter struct {
	w        io.Writer
	cols     []column // nil: the default columns
	bytes    bool     // sizes in bytes rather than human-readable
	raw      bool     // numbers only: sizes in bytes, percent without '%'
	noHeader bool
	summary  bool // the total only
	mapWidth int  // width of the residency map, inside its brackets

	buf []byte
}

func (t *textReporter) columns() []column {
	if t.cols == nil {
		t.cols, _ = parseColumns(defaultColumns)
		if t.mapWidth > 0 {
			t.cols = append(t.cols[:len(t.cols)-1], columns[len(columns)-2], columns[len(columns)-1])
		}
	}
	return t.cols
}

func (t *textReporter) header() {
	if t.noHeader || t.raw {
		return
	}
	b := t.buf[:0]
	for i, c := range t.columns() {
		if i > 0 {
			b = append(b, ' ')
		}
		switch {
		case c.name == "map":
			b = pad(b, c.title, t.mapColumn(), false)
		case c.width == 0:
			b = append(b, c.title...)
		default:
			b = pad(b, c.title, c.width, true)
		}
		if c.name == "percent" && i < len(t.cols)-1 {
			b = append(b, ' ')
		}
	}
	t.buf = append(b, '\n')
	t.w.Write(t.buf)
}

// mapColumn returns the width of the map column: the map and its brackets,
// or its title.
func (t *textReporter) mapColumn() int { return max(t.mapWidth+2, len("RESIDENCY")) }

// pad appends s padded to width, on the left if right-aligned.
func pad(b []byte, s string, width int, right bool) []byte {
	n := width - utf8.RuneCountInString(s)
	if !right {
		b = append(b, s...)
	}
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	if right {
		b = append(b, s...)
	}
	return b
}

func (t *textReporter) file(r result) {
	if t.summary {
		return
	}
	t.row(r.size, r.pages, r.from, r.stat.Cached, r.stat.Dirty, r.stat.Writeback, r.stat.Evicted, r.stat.RecentlyEvicted,
		residencyMap(t.buf[:0:0], r, t.mapWidth), quotePath(r.path))
}

// row writes one line of the table.
func (t *textReporter) row(size, pages int64, from source, res, dirty, wb, ev, rec int64, bar []byte, path string) {
	t.rowOf(size, pages, pages, from, res, dirty, wb, ev, rec, bar, path)
}

// rowOf writes one line of the table; the percentage is of known pages.
func (t *textReporter) rowOf(size, pages, known int64, from source, res, dirty, wb, ev, rec int64, bar []byte, path string) {
	b := t.buf[:0]
	for i, c := range t.columns() {
		if i > 0 {
			b = append(b, ' ')
		}
		var v string
		switch c.name {
		case "size":
			v = t.size(size)
		case "pages":
			v = strconv.FormatInt(pages, 10)
		case "resident":
			v = t.count(from, false, res)
		case "rsize":
			if from == unknown {
				v = "?"
			} else {
				v = t.size(res * pageSize)
			}
		case "percent":
			switch {
			case from == unknown:
				v = "?"
			case t.raw:
				v = rawPercent(res, known)
			default:
				v = percent(res, known)
			}
		case "dirty":
			v = t.count(from, true, dirty)
		case "writeback":
			v = t.count(from, true, wb)
		case "evicted":
			v = t.count(from, true, ev)
		case "recent":
			v = t.count(from, true, rec)
		case "map":
			if i < len(t.cols)-1 {
				b = pad(b, string(bar), t.mapColumn(), false)
			} else {
				b = append(b, bar...)
			}
			continue
		case "path":
			b = append(b, path...)
			continue
		}
		if t.raw {
			b = append(b, v...)
		} else {
			b = pad(b, v, c.width, true)
		}
		if c.name == "percent" && i < len(t.cols)-1 && !t.raw {
			b = append(b, ' ')
		}
	}
	t.buf = append(b, '\n')
	t.w.Write(t.buf)
}

// count formats a count of pages: '?' when the residency is unknown, '-'
// for a count that only cachestat gives when it did not.
func (t *textReporter) count(from source, detail bool, n int64) string {
	switch {
	case from == unknown:
		return "?"
	case detail && from != cachestat:
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func (t *textReporter) total(s totals) {
	what := plural(s.files, "file") + ", " + plural(s.dirs, "directory")
	if s.skipped > 0 {
		what += ", " + strconv.Itoa(s.skipped) + " skipped"
	}
	if s.large > 0 {
		what += ", " + strconv.Itoa(s.large) + " over -max"
	}
	if s.unknown > 0 {
		what += ", " + strconv.Itoa(s.unknown) + " unknown"
	}
	from := cachestat
	if !s.detail {
		from = mincore
	}
	if s.unknown > 0 && s.pages == s.unknownPages {
		from = unknown // nothing measured
	}
	path := "total (" + what + ")"
	if t.raw {
		path = "total"
	}
	var bar []byte
	if t.mapWidth > 0 {
		bar = []byte{}
	}
	t.rowOf(s.size, s.pages, s.pages-s.unknownPages, from, s.stat.cached, s.stat.dirty, s.stat.writeback,
		s.stat.evicted, s.stat.recent, bar, path)
	if s.unknown > 0 && !t.raw {
		fmt.Fprintf(t.w, "residency unknown for %s (%s), left out of the resident total and percent: the kernel tells only their owner, a user who may write them, or root\n",
			plural(s.unknown, "file"), plural(s.unknownPages, "page"))
	}
}

func (t *textReporter) size(n int64) string {
	if t.bytes || t.raw {
		return strconv.FormatInt(n, 10)
	}
	return humanSize(n)
}

// jsonReporter writes JSON lines: one object per file, then a total.
type jsonReporter struct {
	w       io.Writer
	summary bool
	buf     []byte
}

// jsonFile is the record of one file. Path holds the path when it is valid
// UTF-8; otherwise PathBase64 holds its exact bytes and Path a copy with
// U+FFFD in place of each byte that is not UTF-8. Resident is null, and
// the counts that only cachestat gives are left out, where the kernel would
// not tell.
type jsonFile struct {
	Path            string `json:"path"`
	PathBase64      string `json:"path_base64,omitempty"`
	Size            int64  `json:"size"`
	Pages           int64  `json:"pages"`
	Resident        *int64 `json:"resident"`
	Dirty           *int64 `json:"dirty,omitempty"`
	Writeback       *int64 `json:"writeback,omitempty"`
	Evicted         *int64 `json:"evicted,omitempty"`
	RecentlyEvicted *int64 `json:"recently_evicted,omitempty"`
}

// jsonTotal is the last record. Resident leaves out the unknown files.
type jsonTotal struct {
	Total       bool  `json:"total"`
	Files       int   `json:"files"`
	Directories int   `json:"directories"`
	Skipped     int   `json:"skipped"`
	OverMax     int   `json:"over_max"`
	Unknown     int   `json:"unknown"`
	Size        int64 `json:"size"`
	Pages       int64 `json:"pages"`
	Resident    int64 `json:"resident"`
}

func (j *jsonReporter) header() {}

func (j *jsonReporter) file(r result) {
	if j.summary {
		return
	}
	b := append(j.buf[:0], `{"path":`...)
	if utf8.ValidString(r.path) {
		b = appendJSONString(b, r.path)
	} else {
		b = appendJSONString(b, strings.ToValidUTF8(r.path, "\uFFFD"))
		b = append(b, `,"path_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(r.path))
		b = append(b, '"')
	}
	b = appendField(b, "size", r.size)
	b = appendField(b, "pages", r.pages)
	if r.from == unknown {
		b = append(b, `,"resident":null`...)
	} else {
		b = appendField(b, "resident", r.stat.Cached)
	}
	if r.from == cachestat {
		b = appendField(b, "dirty", r.stat.Dirty)
		b = appendField(b, "writeback", r.stat.Writeback)
		b = appendField(b, "evicted", r.stat.Evicted)
		b = appendField(b, "recently_evicted", r.stat.RecentlyEvicted)
	}
	j.buf = append(b, "}\n"...)
	j.w.Write(j.buf)
}

func appendField(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func (j *jsonReporter) total(t totals) {
	b := append(j.buf[:0], `{"total":true`...)
	b = appendField(b, "files", int64(t.files))
	b = appendField(b, "directories", int64(t.dirs))
	b = appendField(b, "skipped", int64(t.skipped))
	b = appendField(b, "over_max", int64(t.large))
	b = appendField(b, "unknown", int64(t.unknown))
	b = appendField(b, "size", t.size)
	b = appendField(b, "pages", t.pages)
	b = appendField(b, "resident", t.stat.cached)
	j.buf = append(b, "}\n"...)
	j.w.Write(j.buf)
}

// percent formats resident/pages as a percentage with one decimal, rounded
// down. It shows 100% only when every page is resident, 0% only when none
// is, and <0.1% for a few pages of a large file, so that a nearly full or
// nearly empty file is not mistaken for a full or an empty one.
func percent(resident, pages int64) string {
	switch {
	case pages == 0:
		return "-"
	case resident == pages:
		return "100%"
	case resident == 0:
		return "0%"
	}
	// pages is at most 2^51 (a file of 2^63 bytes): the product fits.
	tenths := resident * 1000 / pages
	if tenths == 0 {
		return "<0.1%"
	}
	return fmt.Sprintf("%d.%d%%", tenths/10, tenths%10)
}

// rawPercent formats resident/pages as a number with two decimals, for
// scripts; "-" for no pages.
func rawPercent(resident, pages int64) string {
	if pages == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(resident)*100/float64(pages), 'f', 2, 64)
}

// mapLevels draw a slice of a residency map by how much of it is resident:
// a blank for none, a block growing by eighths, a full block for all.
var mapLevels = []rune(" ▁▂▃▄▅▆▇█")

// residencyMap appends the residency map of r to b: one character per
// slice of the file, between brackets; '?' throughout where the residency
// is unknown. It returns nil if no map is wanted (width 0).
func residencyMap(b []byte, r result, width int) []byte {
	if width == 0 {
		return nil
	}
	b = append(b, '[')
	n := int64(len(r.buckets))
	for i, v := range r.buckets {
		switch {
		case r.from == unknown:
			b = append(b, '?')
		case v == 0:
			b = append(b, ' ')
		default:
			all := bucketPages(int64(i), r.pages, n)
			lvl := 8
			if v < all {
				lvl = int(min(7, max(1, v*8/all)))
			}
			b = utf8.AppendRune(b, mapLevels[lvl])
		}
	}
	return append(b, ']')
}

// humanSize formats n bytes with a binary unit: 76B, 17.5K, 3.0G.
func humanSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + units[i:i+1]
}

// plural returns n and word, in the plural unless n is 1.
func plural[N int | int64](n N, word string) string {
	if n != 1 {
		if strings.HasSuffix(word, "y") {
			word = word[:len(word)-1] + "ie"
		}
		word += "s"
	}
	return strconv.FormatInt(int64(n), 10) + " " + word
}

// quotePath quotes a path that holds control characters or bytes that are
// not UTF-8, which would break the table.
func quotePath(p string) string {
	if strings.ContainsFunc(p, unicode.IsControl) || !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	return p
}
