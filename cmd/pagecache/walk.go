package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// devIno identifies a file: its device and inode numbers.
type devIno struct{ dev, ino uint64 }

// An entry is a regular file found by the walk.
type entry struct {
	path  string
	size  int64  // size at the time of the walk, if the walk read it (else 0)
	id    devIno // valid if hasID
	hasID bool
	root  uint64 // the device of the path argument, if hasRoot and -xdev
	// hasRoot is set when the file must be on the device root: it was
	// found in a directory without reading its status (-xdev).
	hasRoot bool
	// name, if not nil, is the file's name, NUL-terminated, in the
	// directory open as dirfd (the fast walk): the file is opened there.
	// path and name are valid only while the entry is visited.
	name  *byte
	dirfd int
	// follow is set when the path may be a symbolic link: it was named on
	// the command line or reached through a link with -follow. Otherwise it
	// is opened with O_NOFOLLOW, so that a file replaced by a link since the
	// walk saw it is not read through the link.
	follow bool
}

// A walker finds the regular files under the paths it is given.
type walker struct {
	follow  bool     // follow symbolic links found in directories
	xdev    bool     // stay on the file system of each path argument
	ignore  []string // patterns of base names of files and directories to skip
	include []string // if any, patterns of base names of the files to visit
	// stat makes the walk read the status of every file (its size, for a
	// progress bar). Otherwise regular files found in directories are
	// visited without, and the worker reads it once it has opened them.
	stat bool
	// sorted makes the walk visit each directory's files in name order, as
	// the portable walk (os.ReadDir) always does; otherwise the fast walk
	// goes in the directory's own order, with less memory.
	sorted bool

	visit func(entry)                      // called for each regular file
	warn  func(format string, args ...any) // reports a skipped file or directory

	dirs int                 // directories walked
	seen map[devIno]struct{} // files that may be reached twice
	fast fastState           // reused memory of the fast walk
}

// walk walks one path argument. It stops early when ctx is done.
func (w *walker) walk(ctx context.Context, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		w.warn("%v", err)
		return
	}
	id, _, hasID := fileID(fi)
	switch {
	case fi.IsDir():
		w.walkDir(ctx, path, id.dev, []devIno{id}, hasID)
	case fi.Mode().IsRegular():
		w.file(path, fi, true)
	default:
		w.warn("%s: is a %s, not a regular file or directory", path, kindName(fi.Mode().Type()))
	}
}

// walkDir walks the directory path. root is the device of the path argument
// it belongs to; stack holds the directories from that argument down to
// path, to detect loops through symbolic links.
func (w *walker) walkDir(ctx context.Context, path string, root uint64, stack []devIno, hasID bool) {
	if !w.stat && w.walkDirFast(ctx, path, root, stack, hasID) {
		return
	}
	w.dirs++
	ents, err := os.ReadDir(path)
	if err != nil {
		// ReadDir returns the entries it read before the error.
		w.warn("%v", err)
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			return
		}
		if matchAny(w.ignore, e.Name()) {
			continue
		}
		if e.Type().IsRegular() && !w.stat {
			// The worker reads the status once it has the file open.
			if len(w.include) == 0 || matchAny(w.include, e.Name()) {
				w.visit(entry{path: filepath.Join(path, e.Name()), root: root, hasRoot: w.xdev && hasID})
			}
			continue
		}
		p := filepath.Join(path, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			if w.follow {
				w.linked(ctx, p, root, stack, hasID)
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				w.warn("%s: vanished during the walk", p)
			} else {
				w.warn("%v", err)
			}
			continue
		}
		w.found(ctx, p, fi, false, root, stack, hasID)
	}
}

// linked visits what the symbolic link p found in a directory points to
// (-follow).
func (w *walker) linked(ctx context.Context, p string, root uint64, stack []devIno, hasID bool) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return // a dangling link has nothing to cache
	}
	if err != nil {
		w.warn("%v", err)
		return
	}
	w.found(ctx, p, fi, true, root, stack, hasID)
}

// found visits p, found in a directory, whose status is fi: a directory is
// walked, a regular file visited, anything else skipped silently.
func (w *walker) found(ctx context.Context, p string, fi fs.FileInfo, linked bool, root uint64, stack []devIno, hasID bool) {
	id, _, ok := fileID(fi)
	if w.xdev && ok && hasID && id.dev != root {
		return // a mount point or a file on another file system
	}
	switch {
	case fi.IsDir():
		if ok && onStack(stack, id) {
			w.warn("%s: symbolic link loop, not walked again", p)
			return
		}
		w.walkDir(ctx, p, root, append(stack, id), hasID && ok)
	case fi.Mode().IsRegular():
		w.file(p, fi, linked)
	}
	// Special files (devices, FIFOs, sockets) are skipped silently.
}

// matchAny reports whether name matches one of the patterns.
func matchAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		if ok, _ := filepath.Match(pat, name); ok { // patterns are checked by parse
			return true
		}
	}
	return false
}

func onStack(stack []devIno, id devIno) bool {
	for _, s := range stack {
		if s == id {
			return true
		}
	}
	return false
}

// file visits a regular file, once only if it can be reached twice: through
// hard links or, with -follow, through symbolic links.
func (w *walker) file(path string, fi fs.FileInfo, follow bool) {
	if len(w.include) > 0 && !matchAny(w.include, filepath.Base(path)) {
		return
	}
	id, nlink, ok := fileID(fi)
	if ok && (nlink > 1 || follow || w.follow) {
		if _, dup := w.seen[id]; dup {
			return
		}
		if w.seen == nil {
			w.seen = make(map[devIno]struct{})
		}
		w.seen[id] = struct{}{}
	}
	w.visit(entry{path: path, size: fi.Size(), id: id, hasID: ok, follow: follow})
}
