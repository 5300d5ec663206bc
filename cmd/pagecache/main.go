// Pagecache reports how much of a set of files is in the page cache, and can
// load files into it, evict them from it, or lock them in memory: a
// counterpart of vmtouch and util-linux's fincore built on the mmap package.
//
// Usage:
//
//	pagecache [flags] [PATH...] [flags]
//
// Each PATH (default: the current directory) is a file or a directory
// walked recursively. For every regular file and in total, pagecache prints
// the size, the number of pages (the size divided by the page size, rounded
// up), how many of them are resident, their size and the percentage. For a
// directory it prints the total and the files with the most pages in
// memory (-top); for files named one by one, or with -v or -json, every file.
//
// On Linux 6.5 and later it asks the kernel with cachestat(2), which maps
// nothing and also counts dirty, written-back and evicted pages. Elsewhere
// it maps each file a window at a time and asks with mincore. Since Linux
// 5.0 mincore reports every page of a file resident unless the caller owns
// the file, may write it, or is root, and cachestat refuses to answer for
// such a file: its residency is unknown, shown as '?' and left out of the
// totals, never made up.
//
// Flags (see -h for all of them):
//
//	-v       every file, with a map of where its resident pages are
//	-s       print the total only
//	-o COLS  the columns to print: size,pages,resident,rsize,percent,dirty,
//	         writeback,evicted,recent,map,path
//	-top N   the N files with the most pages in memory (0: all)
//	-json    print JSON lines (paths that are not UTF-8 also as path_base64)
//	-touch   load the files into the page cache
//	-evict   drop the files' pages from the page cache (posix_fadvise DONTNEED)
//	-lock    lock the files in memory until SIGINT or SIGTERM (-d: as a daemon)
//
// The exit status is 0 on success, 1 if a file was skipped, nothing could
// be locked, the work was interrupted or the output could not be written,
// and 2 for bad usage.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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
	if os.Getenv("GOMAXPROCS") == "" {
		// The work is one file after another: a second processor would
		// only cost memory (its caches) and handoffs.
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	verbose, summary, json, bytes, raw, noHeader bool
	touch, evict, lock, daemon                   bool
	follow, xdev, nul                            bool
	ignore, include                              patterns
	cols                                         []column
	top                                          int // -1: not given
	pid                                          int
	rng                                          span
	max                                          int64
	filesFrom, pidfile                           string
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

// funcFlag is a flag set by a function.
type funcFlag func(string) error

func (f funcFlag) String() string     { return "" }
func (f funcFlag) Set(s string) error { return f(s) }

const usageText = `Usage: pagecache [flags] [PATH...] [flags]

Pagecache reports how much of each regular file under the PATHs (default: the
current directory) is in the page cache: size, pages, resident pages, their
size and percent. For a directory it prints the total and the files with the
most pages in memory; for files named one by one, or with -v or -json, every
file. It can also load the files into the page cache, evict them, or lock
them in memory.

Where the kernel will not say what is cached of a file (Linux tells only the
file's owner, a user who may write it, or root), its residency is shown as
'?' and left out of the totals.

Directories are walked recursively. Symbolic links named as PATHs are
followed; those found in directories are not, unless -follow is given.
Directories on other file systems are not entered unless -xdev=false is given.
Special files (devices, FIFOs, sockets) are skipped. A file is counted once,
however many names (hard links) or PATHs reach it. Flags may come after
PATHs; -- ends them.

Flags:
`

const exitText = `
Sizes (-range, -max) are bytes or take a suffix K, M, G, T (powers of 1024).
-json writes one object per file: path, size, pages, resident (null where
unknown) and, from cachestat, dirty, writeback, evicted and recently_evicted;
a path that is not valid UTF-8 also comes as path_base64, its exact bytes.

Files that cannot be read, or that vanish, are reported on standard error and
skipped. Exit status: 0 on success, 1 if a file was skipped, -lock locked
nothing, the work was interrupted or the output could not be written, 2 for
bad usage.
`

// parse parses the command line. It returns the options and paths, or an
// exit status if the program should stop (after -h, or for bad usage).
func parse(args []string, stderr io.Writer) (options, []string, int, bool) {
	o := options{top: -1}
	var cols string
	fs := flag.NewFlagSet("pagecache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.verbose, "v", false, "list every file, with a map of where its resident pages are ('█' all of a slice resident, '▁'...'▇' part, ' ' none, '?' unknown)")
	fs.BoolVar(&o.summary, "s", false, "print the total only")
	fs.StringVar(&cols, "o", "", "print the `columns` listed, comma-separated: size, pages, resident, rsize (resident size), percent, dirty, writeback, evicted, recent (recently evicted), map, path (default "+defaultColumns+")")
	fs.Var(funcFlag(func(s string) (err error) {
		if o.top, err = strconv.Atoi(s); err != nil || o.top < 0 {
			return fmt.Errorf("want a count of files, 0 for all")
		}
		return nil
	}), "top", "list the `N` files with the most pages in memory; 0 lists all (default: 10 for a directory, all for files named one by one, or with -v or -json)")
	fs.BoolVar(&o.json, "json", false, "print JSON lines: one object per file, then a total with \"total\":true")
	fs.BoolVar(&o.bytes, "bytes", false, "print sizes in bytes rather than human-readable")
	fs.BoolVar(&o.raw, "raw", false, "print numbers only, for scripts: sizes in bytes, percent without '%', no header")
	fs.BoolVar(&o.noHeader, "noheader", false, "leave out the header line")
	fs.BoolVar(&o.touch, "touch", false, "load every page of the files into the page cache")
	fs.BoolVar(&o.evict, "evict", false, "evict the files' pages from the page cache (posix_fadvise DONTNEED; dirty pages stay until written back)")
	fs.BoolVar(&o.lock, "lock", false, "lock the files in memory (mlock), print the table, and wait for SIGINT or SIGTERM to unlock and exit")
	fs.BoolVar(&o.daemon, "d", false, "with -lock: once locked, go on as a daemon in the background")
	fs.StringVar(&o.pidfile, "pidfile", "", "with -lock: write the process ID to `file` once locked, and remove it on exit unless another pagecache has written its own since")
	fs.IntVar(&o.pid, "pid", 0, "add the files that process `PID` maps or holds open (Linux: /proc/PID/maps and /proc/PID/fd); files deleted since it opened them are counted on stderr, not measured")
	fs.Var(funcFlag(func(s string) (err error) { o.rng, err = parseRange(s); return err }), "range", "work on `OFF:LEN` of each file only: LEN bytes from OFF (OFF: or LEN alone: to the end, from the start)")
	fs.Var(funcFlag(func(s string) (err error) { o.max, err = parseSize(s); return err }), "max", "skip files larger than `size` (0: no limit)")
	fs.Var(&o.include, "include", "only files whose name matches `pattern` (as -i); repeatable")
	fs.StringVar(&o.filesFrom, "files-from", "", "also read PATHs from `file`, one per line ('-': standard input)")
	fs.BoolVar(&o.nul, "0", false, "with -files-from: the PATHs end with NUL bytes, not newlines")
	fs.BoolVar(&o.follow, "follow", false, "follow symbolic links found in directories")
	fs.BoolVar(&o.xdev, "xdev", true, "stay on the file system of each PATH; -xdev=false crosses into other file systems")
	fs.Var(&o.ignore, "i", "skip files and directories whose name matches `pattern` (as in path/filepath.Match: -i '.git' -i '*.o'); repeatable")

	bad := func(format string, a ...any) (options, []string, int, bool) {
		fmt.Fprintf(stderr, "pagecache: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'pagecache -h' for usage.")
		return o, nil, exitUsage, true
	}
	// Flags may come after paths: parse again after each path.
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stderr, usageText)
				fs.SetOutput(stderr)
				fs.PrintDefaults()
				fmt.Fprint(stderr, exitText)
				return o, nil, exitOK, true
			}
			return bad("%v", err)
		}
		left := fs.Args()
		if used := len(rest) - len(left); terminated(fs, rest[:used]) {
			paths = append(paths, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		paths = append(paths, left[0])
		rest = left[1:]
	}
	if cols != "" {
		var err error
		if o.cols, err = parseColumns(cols); err != nil {
			return bad("%v", err)
		}
	}
	switch {
	case o.evict && (o.touch || o.lock):
		return bad("-evict cannot be combined with -touch or -lock")
	case o.json && o.verbose:
		return bad("-v draws maps in the table; it cannot be combined with -json")
	case o.json && (cols != "" || o.raw || o.noHeader):
		return bad("-o, -raw and -noheader shape the table; they cannot be combined with -json")
	case (o.daemon || o.pidfile != "") && !o.lock:
		return bad("-d and -pidfile go with -lock")
	case o.nul && o.filesFrom == "":
		return bad("-0 goes with -files-from")
	case o.pid < 0 || (o.pid == 0 && flagSet(fs, "pid")):
		return bad("-pid %d: want a process ID above 0", o.pid)
	}
	if len(paths) == 0 && o.pid == 0 && o.filesFrom == "" {
		paths = []string{"."}
	}
	for _, p := range paths {
		if p == "" {
			return bad("empty path")
		}
	}
	return o, paths, exitOK, false
}

// parseSize parses a size: bytes, or a number with a suffix K, M, G or T
// (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSuffix(strings.ToUpper(s), "B")
	if num != "" {
		if i := strings.IndexByte("KMGT", num[len(num)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			num = num[:len(num)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<63-1)/mult {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with K, M, G or T", s)
	}
	return n * mult, nil
}

// parseRange parses -range OFF:LEN (OFF: is to the end, LEN alone from the
// start).
func parseRange(s string) (span, error) {
	offText, lenText, ok := strings.Cut(s, ":")
	if !ok {
		offText, lenText = "", s
	}
	var r span
	var err error
	if offText != "" {
		if r.off, err = parseSize(offText); err != nil {
			return r, err
		}
	}
	if lenText != "" {
		if r.n, err = parseSize(lenText); err != nil {
			return r, err
		}
		if r.n == 0 {
			return r, fmt.Errorf("bad range %q: empty", s)
		}
	}
	return r, nil
}

// daemonEnv is set in the environment of the daemon that -d starts.
const daemonEnv = "PAGECACHE_DAEMON"

// run runs the program and returns its exit status. With -lock it waits
// until ctx is done before unlocking; otherwise ctx being done interrupts
// the work.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, paths, code, stop := parse(args, stderr)
	if stop {
		return code
	}
	if o.daemon && os.Getenv(daemonEnv) == "" {
		return startDaemon(ctx, args, o.pidfile, stdout, stderr)
	}
	if o.filesFrom != "" {
		// The list may come from a terminal or a FIFO that never ends:
		// an interrupt stops the wait.
		type list struct {
			paths []string
			err   error
		}
		read := make(chan list, 1)
		go func() {
			more, err := readList(o.filesFrom, o.nul)
			read <- list{more, err}
		}()
		var l list
		select {
		case l = <-read:
		case <-ctx.Done():
			fmt.Fprintln(stderr, "pagecache: interrupted")
			return exitSkipped
		}
		if l.err != nil {
			fmt.Fprintf(stderr, "pagecache: -files-from: %v\n", l.err)
			return exitUsage
		}
		paths = append(paths, l.paths...)
	}
	if o.pid != 0 {
		more, gone, err := processFiles(o.pid)
		if err != nil {
			fmt.Fprintf(stderr, "pagecache: -pid %d: %v\n", o.pid, err)
			return exitSkipped
		}
		if gone > 0 {
			fmt.Fprintf(stderr, "pagecache: -pid %d: %d of its files not measured: deleted or replaced since it opened them\n", o.pid, gone)
		}
		paths = append(paths, more...)
	}

	// A directory shows the total and the top files; files named one by one
	// show each.
	top := o.top
	if top < 0 {
		top = 0
		if !o.verbose && !o.json && anyDir(paths) {
			top = 10
		}
	}

	// With -follow, or with several paths that may overlap (DIR DIR/sub),
	// a file may be reached twice: the worker does each once.
	wk := &worker{act: count, rng: o.rng, max: o.max, follow: o.follow || len(paths) > 1}
	switch {
	case o.lock:
		wk.act = lock
	case o.touch:
		wk.act = touch
	case o.evict:
		wk.act = drop
	}
	out := &errWriter{w: stdout}
	var rep reporter
	if o.json {
		rep = &jsonReporter{w: out, summary: o.summary}
	} else {
		tr := &textReporter{w: out, cols: o.cols, bytes: o.bytes, raw: o.raw, noHeader: o.noHeader, summary: o.summary}
		if o.verbose || slices.ContainsFunc(o.cols, func(c column) bool { return c.name == "map" }) {
			tr.mapWidth = mapWidth(stdout)
			wk.barWidth = tr.mapWidth
		}
		rep = tr
	}
	var best *topFiles
	if top > 0 && !o.summary {
		best = &topFiles{n: top}
	}

	t := totals{detail: true}
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
		switch {
		case errors.Is(err, errDuplicate), errors.Is(err, errOtherDevice):
			return
		case errors.Is(err, errTooLarge):
			t.large++
			return
		case err != nil:
			warn("%v", err)
			return
		}
		t.add(r)
		if best != nil {
			best.add(r)
			return
		}
		wk.prog.around(func() { rep.file(r) })
	}
	w := &walker{follow: o.follow, xdev: o.xdev, ignore: o.ignore, include: o.include, visit: do, warn: warn,
		sorted: best == nil && !o.summary} // files listed as found: in name order

	// Long work shows a progress bar on a terminal; it needs the total
	// size, so the walk comes first.
	if wk.act != count && isTerminalWriter(stderr) {
		var todo []entry
		var size int64
		w.stat = true
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
	if best != nil {
		for _, r := range best.sorted() {
			rep.file(r)
		}
	}

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
	if out.err != nil {
		// The output is incomplete: a full disk, a closed descriptor.
		fmt.Fprintf(stderr, "pagecache: %v\n", out.err)
		code = exitSkipped
	}
	if wk.act == lock {
		return waitLocked(ctx, wk, o, code, stderr)
	}
	return code
}

// errWriter writes to w until a write fails, and keeps the first error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// removePidfile removes the pidfile if it still names process pid (this
// one at exit): another pagecache started since with the same -pidfile has
// written its own ID there, and its file must stay.
func removePidfile(name string, pid int) {
	b, err := os.ReadFile(name)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		os.Remove(name)
	}
}

// waitLocked keeps the locked files locked until ctx is done, as a daemon
// with -d, and writes and removes the pidfile.
func waitLocked(ctx context.Context, wk *worker, o options, code int, stderr io.Writer) int {
	n := wk.lockedBytes()
	if n == 0 {
		fmt.Fprintln(stderr, "pagecache: nothing locked")
		return exitSkipped
	}
	if o.pidfile != "" {
		if err := os.WriteFile(o.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "pagecache: %v\n", err)
			wk.unlock(0)
			return exitSkipped
		}
		defer removePidfile(o.pidfile, os.Getpid())
	}
	fmt.Fprintf(stderr, "pagecache: %d pages (%s) locked in memory; waiting for SIGINT or SIGTERM\n", n/pageSize, humanSize(n))
	if os.Getenv(daemonEnv) != "" {
		// Tell the parent that the files are locked, and leave the terminal.
		ready := os.NewFile(3, "ready")
		if err := detach(); err != nil {
			fmt.Fprintf(stderr, "pagecache: %v\n", err)
		}
		ready.Write([]byte{byte(code)})
		ready.Close()
	}
	<-ctx.Done()
	if err := wk.unlock(0); err != nil {
		fmt.Fprintf(stderr, "pagecache: %v\n", err)
		return exitSkipped
	}
	fmt.Fprintln(stderr, "pagecache: unlocked")
	return code
}

// startDaemon starts the program again with args in a new session, and
// returns once it has locked the files (with the status it would have) or
// has failed (with its exit status). If ctx is done before, the daemon,
// which is out of reach of the terminal's interrupt, is killed: its end
// unlocks what it locked, and its pidfile is removed.
func startDaemon(ctx context.Context, args []string, pidfile string, stdout, stderr io.Writer) int {
	attr := daemonAttr()
	exe, err := os.Executable()
	if attr == nil || err != nil {
		fmt.Fprintf(stderr, "pagecache: -d: cannot start a daemon here: %v\n", cmp.Or(err, errors.ErrUnsupported))
		return exitSkipped
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "pagecache: -d: %v\n", err)
		return exitSkipped
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr // -files-from - reads standard input
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = attr
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		fmt.Fprintf(stderr, "pagecache: -d: %v\n", err)
		return exitSkipped
	}
	stopKill := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	var status [1]byte
	n, _ := r.Read(status[:])
	r.Close()
	if !stopKill() {
		cmd.Wait()
		if pidfile != "" {
			removePidfile(pidfile, cmd.Process.Pid)
		}
		fmt.Fprintln(stderr, "pagecache: interrupted")
		return exitSkipped
	}
	if n == 1 {
		// Locked: the daemon goes on by itself.
		cmd.Process.Release()
		return int(status[0])
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return max(ee.ExitCode(), exitSkipped)
		}
		fmt.Fprintf(stderr, "pagecache: -d: %v\n", err)
	}
	return exitSkipped
}

// readList reads the paths listed in file, one per line or, with nul, one
// per NUL-terminated string; "-" is standard input.
func readList(file string, nul bool) ([]string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	sep := []byte{'\n'}
	if nul {
		sep = []byte{0}
	}
	var paths []string
	for line := range bytes.SplitSeq(data, sep) {
		if !nul {
			line = bytes.TrimSuffix(line, []byte{'\r'})
		}
		if len(line) > 0 {
			paths = append(paths, string(line))
		}
	}
	return paths, nil
}

// processFiles returns the regular files that process pid maps or holds
// open, from /proc/PID/maps and /proc/PID/fd, each once, and how many more
// it leaves out because the path the kernel gives for them no longer leads
// to them: deleted since they were opened (the kernel then adds
// " (deleted)" to the name; memfd files are such), or replaced. A file is
// taken by its path only if the file there is the one the process has: the
// same inode as in /proc/PID/maps, the same file as /proc/PID/fd/N, so that
// a file whose name happens to end in " (deleted)" counts as any other.
func processFiles(pid int) (paths []string, gone int, err error) {
	dir := "/proc/" + strconv.Itoa(pid)
	maps, err := os.ReadFile(dir + "/maps")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, errors.New("no such process")
	}
	if err != nil {
		return nil, 0, err
	}
	seen := make(map[string]bool)
	// add takes the path p of a file of the process, if same says that the
	// file at p now is that file.
	add := func(p string, same func(fs.FileInfo) bool) {
		if !strings.HasPrefix(p, "/") || seen[p] {
			return
		}
		seen[p] = true
		fi, err := os.Stat(p)
		switch {
		case err == nil && same(fi):
			if fi.Mode().IsRegular() {
				paths = append(paths, p)
			}
		case err == nil || errors.Is(err, fs.ErrNotExist):
			gone++
		}
	}
	for line := range strings.SplitSeq(string(maps), "\n") {
		// address perms offset dev inode pathname; the pathname may hold spaces.
		f := strings.SplitN(line, " ", 6)
		if len(f) < 6 || f[4] == "0" {
			continue
		}
		ino, err := strconv.ParseUint(f[4], 10, 64)
		if err != nil {
			continue
		}
		add(strings.TrimLeft(f[5], " "), func(fi fs.FileInfo) bool {
			id, _, ok := fileID(fi)
			return !ok || id.ino == ino
		})
	}
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return nil, 0, err
	}
	for _, fd := range fds {
		link := dir + "/fd/" + fd.Name()
		p, err := os.Readlink(link)
		if err != nil {
			continue
		}
		held, err := os.Stat(link) // the open file itself, deleted or not
		if err != nil || !held.Mode().IsRegular() {
			continue
		}
		add(p, func(fi fs.FileInfo) bool { return os.SameFile(fi, held) })
	}
	return paths, gone, nil
}

// terminated reports whether the arguments that fs.Parse consumed end with
// "--", the end of the flags, rather than with "--" as the value of a flag
// (-i --).
func terminated(fs *flag.FlagSet, used []string) bool {
	for i := 0; i < len(used); i++ {
		if used[i] == "--" {
			return i == len(used)-1
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(used[i], "-"), "=")
		f := fs.Lookup(name)
		if f == nil || hasValue {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		i++ // the next argument is the flag's value
	}
	return false
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// anyDir reports whether one of paths is a directory.
func anyDir(paths []string) bool {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// topFiles keeps the n results with the most resident pages.
type topFiles struct {
	n    int
	kept []result // a min-heap on resident pages, at most n long
}

// less orders results by resident pages, unknown ones last, then by path.
func lessResident(a, b result) bool {
	ka, kb := a.from != unknown, b.from != unknown
	if ka != kb {
		return !ka
	}
	if a.stat.Cached != b.stat.Cached {
		return a.stat.Cached < b.stat.Cached
	}
	return a.path > b.path
}

func (t *topFiles) add(r result) {
	if len(t.kept) == t.n {
		if !lessResident(t.kept[0], r) {
			return
		}
		t.kept[0] = t.keep(r, t.kept[0].buckets)
		t.down(0)
		return
	}
	t.kept = append(t.kept, t.keep(r, nil))
	for i := len(t.kept) - 1; i > 0; {
		p := (i - 1) / 2
		if !lessResident(t.kept[i], t.kept[p]) {
			break
		}
		t.kept[i], t.kept[p] = t.kept[p], t.kept[i]
		i = p
	}
}

// keep returns r with its own copy of its residency map, in buf if it fits.
func (t *topFiles) keep(r result, buf []int64) result {
	if r.buckets != nil {
		r.buckets = append(buf[:0], r.buckets...)
	}
	r.path = strings.Clone(r.path) // may be a view of the walk's buffer
	return r
}

func (t *topFiles) down(i int) {
	for {
		l, m := 2*i+1, i
		if l < len(t.kept) && lessResident(t.kept[l], t.kept[m]) {
			m = l
		}
		if l+1 < len(t.kept) && lessResident(t.kept[l+1], t.kept[m]) {
			m = l + 1
		}
		if m == i {
			return
		}
		t.kept[i], t.kept[m] = t.kept[m], t.kept[i]
		i = m
	}
}

// sorted returns the kept results, the most resident first.
func (t *topFiles) sorted() []result {
	s := slices.Clone(t.kept)
	slices.SortFunc(s, func(a, b result) int {
		switch {
		case lessResident(b, a):
			return -1
		case lessResident(a, b):
			return 1
		}
		return 0
	})
	return s
}

// mapWidth returns the width of the residency map for output to w: what a
// terminal leaves after the other columns and a short path, else 32.
func mapWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && isTerminal(f.Fd()) {
		if cols := termWidth(f.Fd()); cols > 0 {
			return min(100, max(8, cols-60-20))
		}
	}
	return 32
}

// isTerminalWriter reports whether w is a file that is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f.Fd())
}
