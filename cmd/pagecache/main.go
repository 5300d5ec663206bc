// Pagecache reports how much of a set of files is in the page cache, and can
// load files into it, evict them from it, or lock them in memory: a
// counterpart of vmtouch and util-linux's fincore built on the mmap package.
//
// Usage:
//
//	pagecache [flags] [PATH...]
//
// Each PATH (default: the current directory) is a file or a directory
// walked recursively. For every regular file and in total, pagecache prints
// the size, the number of pages (the size divided by the page size, rounded
// up), how many of them are resident and the percentage. It maps each file
// read-only, a window at a time, and asks the kernel which pages are in
// memory (mincore); mapping a file does not load it.
//
// Flags:
//
//	-v       add a residency bar for each file ('O' resident, 'o' partly, ' ' not)
//	-s       print the total only
//	-json    print JSON lines: {"path","size","pages","resident"} per file, then a total
//	-bytes   print sizes in bytes
//	-touch   load every page of the files into the page cache
//	-evict   drop the files' pages from the page cache (posix_fadvise DONTNEED)
//	-lock    lock the files in memory and wait for SIGINT or SIGTERM
//	-follow  follow symbolic links found in directories
//	-xdev    stay on the file system of each PATH (default true; -xdev=false crosses)
//	-i PAT   skip files and directories whose name matches PAT (repeatable)
//
// Symbolic links named as PATHs are followed; special files are skipped.
// Files that cannot be read are reported on standard error and skipped. The
// exit status is 0 on success, 1 if a file was skipped or the work was
// interrupted, and 2 for bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitSkipped = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	verbose, summary, json, bytes bool
	touch, evict, lock            bool
	follow, xdev                  bool
	ignore                        patterns
}

// patterns is a repeatable flag of file name patterns.
type patterns []string

func (p *patterns) String() string { return strings.Join(*p, ",") }

func (p *patterns) Set(s string) error {
	if _, err := filepath.Match(s, ""); err != nil {
		return fmt.Errorf("bad pattern %q: %w", s, err)
	}
	*p = append(*p, s)
	return nil
}

const usageText = `Usage: pagecache [flags] [PATH...]

Pagecache reports how much of each regular file under the PATHs (default: the
current directory) is in the page cache: size, pages, resident pages and
percent, per file and in total. It can also load the files into the page
cache, evict them, or lock them in memory.

Directories are walked recursively. Symbolic links named as PATHs are
followed; those found in directories are not, unless -follow is given.
Directories on other file systems are not entered unless -xdev=false is given.
Special files (devices, FIFOs, sockets) are skipped. Hard-linked files are
counted once.

Flags:
`

const exitText = `
Files that cannot be read, mapped, or that vanish are reported on standard
error and skipped. Exit status: 0 on success, 1 if a file was skipped or the
work was interrupted, 2 for bad usage.
`

// parse parses the command line. It returns the options and paths, or an
// exit status if the program should stop (after -h, or for bad usage).
func parse(args []string, stderr io.Writer) (options, []string, int, bool) {
	var o options
	fs := flag.NewFlagSet("pagecache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.verbose, "v", false, "add a residency bar for each file: 'O' resident, 'o' partly, ' ' not resident")
	fs.BoolVar(&o.summary, "s", false, "print the total only")
	fs.BoolVar(&o.json, "json", false, "print JSON lines: one object per file with path, size, pages and resident, then a total with \"total\":true")
	fs.BoolVar(&o.bytes, "bytes", false, "print sizes in bytes rather than human-readable")
	fs.BoolVar(&o.touch, "touch", false, "load every page of the files into the page cache")
	fs.BoolVar(&o.evict, "evict", false, "evict the files' pages from the page cache (posix_fadvise DONTNEED; dirty pages stay until written back)")
	fs.BoolVar(&o.lock, "lock", false, "lock the files in memory (mlock), print the table, and wait for SIGINT or SIGTERM to unlock and exit")
	fs.BoolVar(&o.follow, "follow", false, "follow symbolic links found in directories")
	fs.BoolVar(&o.xdev, "xdev", true, "stay on the file system of each PATH; -xdev=false crosses into other file systems")
	fs.Var(&o.ignore, "i", "skip files and directories whose name matches `pattern` (as in path/filepath.Match: -i '.git' -i '*.o'); repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, exitText)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, nil, exitOK, true
		}
		return o, nil, exitUsage, true
	}
	bad := func(format string, a ...any) (options, []string, int, bool) {
		fmt.Fprintf(stderr, "pagecache: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'pagecache -h' for usage.")
		return o, nil, exitUsage, true
	}
	switch {
	case o.evict && (o.touch || o.lock):
		return bad("-evict cannot be combined with -touch or -lock")
	case o.json && o.verbose:
		return bad("-v draws bars in the table; it cannot be combined with -json")
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	for _, p := range paths {
		if p == "" {
			return bad("empty path")
		}
	}
	return o, paths, exitOK, false
}

// run runs the program and returns its exit status. With -lock it waits
// until ctx is done before unlocking; otherwise ctx being done interrupts
// the work.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, paths, code, stop := parse(args, stderr)
	if stop {
		return code
	}
	var rep reporter
	if o.json {
		rep = &jsonReporter{enc: json.NewEncoder(stdout), summary: o.summary}
	} else {
		rep = &textReporter{w: stdout, bytes: o.bytes, bar: o.verbose, summary: o.summary}
	}
	wk := &worker{act: count}
	switch {
	case o.lock:
		wk.act = lock
	case o.touch:
		wk.act = touch
	case o.evict:
		wk.act = drop
	}
	if o.verbose {
		wk.barWidth = barWidth
	}

	var t totals
	warn := func(format string, a ...any) {
		wk.prog.around(func() { fmt.Fprintf(stderr, "pagecache: "+format+"\n", a...) })
		t.skipped++
	}
	do := func(e entry) {
		if ctx.Err() != nil {
			return
		}
		r, err := wk.process(ctx, e)
		if ctx.Err() != nil {
			return // interrupted: reported once below
		}
		if err != nil {
			warn("%v", err)
			return
		}
		t.add(r)
		wk.prog.around(func() { rep.file(r) })
	}
	w := &walker{follow: o.follow, xdev: o.xdev, ignore: o.ignore, visit: do, warn: warn}

	// Long work shows a progress bar on a terminal; it needs the total
	// size, so the walk comes first.
	if wk.act != count && isTerminalWriter(stderr) {
		var todo []entry
		var size int64
		w.visit = func(e entry) { todo = append(todo, e); size += e.size }
		for _, p := range paths {
			w.walk(ctx, p)
		}
		wk.prog = newProgress(stderr, size)
		rep.header()
		for _, e := range todo {
			do(e)
		}
		wk.prog.finish()
		wk.prog = nil
	} else {
		rep.header()
		for _, p := range paths {
			w.walk(ctx, p)
		}
	}
	t.dirs = w.dirs

	if ctx.Err() != nil {
		rep.total(t)
		fmt.Fprintln(stderr, "pagecache: interrupted")
		if err := wk.unlock(0); err != nil {
			fmt.Fprintf(stderr, "pagecache: %v\n", err)
		}
		return exitSkipped
	}
	rep.total(t)
	code = exitOK
	if t.skipped > 0 {
		code = exitSkipped
	}
	if wk.act == lock {
		n := wk.lockedBytes()
		fmt.Fprintf(stderr, "pagecache: %d pages (%s) locked in memory; waiting for SIGINT or SIGTERM\n", n/pageSize, humanSize(n))
		<-ctx.Done()
		if err := wk.unlock(0); err != nil {
			fmt.Fprintf(stderr, "pagecache: %v\n", err)
			return exitSkipped
		}
		fmt.Fprintln(stderr, "pagecache: unlocked")
	}
	return code
}

// isTerminalWriter reports whether w is a file that is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f.Fd())
}
