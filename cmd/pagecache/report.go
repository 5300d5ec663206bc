package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// totals sums the results of a run.
type totals struct {
	files, dirs, skipped  int
	size, pages, resident int64
}

func (t *totals) add(r result) {
	t.files++
	t.size += r.size
	t.pages += r.pages
	t.resident += r.resident
}

// A reporter writes the results in one of the output formats.
type reporter interface {
	header()
	file(r result)
	total(t totals)
}

// barWidth is the width of the residency bar of -v, in characters.
const barWidth = 32

// textReporter writes a table: size, pages, resident pages, percent, an
// optional residency bar, and the path last so that long paths do not break
// the columns.
type textReporter struct {
	w       io.Writer
	bytes   bool // sizes in bytes rather than human-readable
	bar     bool // a residency bar for each file
	summary bool // the total only
}

func (t *textReporter) header() {
	bar := ""
	if t.bar {
		bar = fmt.Sprintf("%-*s  ", barWidth+2, "RESIDENCY")
	}
	fmt.Fprintf(t.w, "%10s %10s %10s %7s  %sPATH\n", "SIZE", "PAGES", "RESIDENT", "PERCENT", bar)
}

func (t *textReporter) file(r result) {
	if t.summary {
		return
	}
	bar := ""
	if t.bar {
		bar = fmt.Sprintf("%-*s  ", barWidth+2, residencyBar(r))
	}
	fmt.Fprintf(t.w, "%10s %10d %10d %7s  %s%s\n", t.size(r.size), r.pages, r.resident,
		percent(r.resident, r.pages), bar, quotePath(r.path))
}

func (t *textReporter) total(s totals) {
	bar := ""
	if t.bar {
		bar = strings.Repeat(" ", barWidth+4)
	}
	what := plural(s.files, "file") + ", " + plural(s.dirs, "directory")
	if s.skipped > 0 {
		what += ", " + strconv.Itoa(s.skipped) + " skipped"
	}
	fmt.Fprintf(t.w, "%10s %10d %10d %7s  %stotal (%s)\n", t.size(s.size), s.pages, s.resident,
		percent(s.resident, s.pages), bar, what)
}

func (t *textReporter) size(n int64) string {
	if t.bytes {
		return strconv.FormatInt(n, 10)
	}
	return humanSize(n)
}

// jsonReporter writes JSON lines: one object per file with the fields path,
// size, pages and resident, then a total.
type jsonReporter struct {
	enc     *json.Encoder
	summary bool
}

type jsonFile struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Pages    int64  `json:"pages"`
	Resident int64  `json:"resident"`
}

type jsonTotal struct {
	Total       bool  `json:"total"`
	Files       int   `json:"files"`
	Directories int   `json:"directories"`
	Skipped     int   `json:"skipped"`
	Size        int64 `json:"size"`
	Pages       int64 `json:"pages"`
	Resident    int64 `json:"resident"`
}

func (j *jsonReporter) header() {}

func (j *jsonReporter) file(r result) {
	if !j.summary {
		j.enc.Encode(jsonFile{Path: r.path, Size: r.size, Pages: r.pages, Resident: r.resident})
	}
}

func (j *jsonReporter) total(t totals) {
	j.enc.Encode(jsonTotal{Total: true, Files: t.files, Directories: t.dirs, Skipped: t.skipped,
		Size: t.size, Pages: t.pages, Resident: t.resident})
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

// residencyBar draws the buckets of r: 'O' for a slice of the file wholly
// in memory, 'o' for a partly resident one, ' ' for one not in memory.
func residencyBar(r result) string {
	var b strings.Builder
	b.WriteByte('[')
	width := int64(len(r.buckets))
	for i, n := range r.buckets {
		switch {
		case n == 0:
			b.WriteByte(' ')
		case n == bucketPages(int64(i), r.pages, width):
			b.WriteByte('O')
		default:
			b.WriteByte('o')
		}
	}
	b.WriteByte(']')
	return b.String()
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

func plural(n int, word string) string {
	if n != 1 {
		if strings.HasSuffix(word, "y") {
			word = word[:len(word)-1] + "ie"
		}
		word += "s"
	}
	return strconv.Itoa(n) + " " + word
}

// quotePath quotes a path that holds control characters, which would break
// the table.
func quotePath(p string) string {
	if strings.ContainsFunc(p, unicode.IsControl) {
		return strconv.Quote(p)
	}
	return p
}
