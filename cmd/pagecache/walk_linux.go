// This file holds the walk that Linux makes cheap: directories read with
// getdents into buffers reused from one directory to the next, files opened
// relative to their directory, and no allocation per file.

package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A dirLevel reads the entries of one directory of the walk. Levels are
// reused from one directory to the next at the same depth. Unsorted, it
// hands out entries as getdents returns them, from a small buffer of its
// own; sorted, it reads them all first, names (each ending with a NUL
// byte) in one buffer.
type dirLevel struct {
	sorted bool

	// Unsorted: buf[pos:n] holds the records not yet handed out.
	buf    []byte
	pos, n int

	// Sorted: ents[i:] are the entries not yet handed out.
	names []byte
	ents  []dirEnt
	i     int
}

type dirEnt struct {
	off, n int32 // name is names[off : off+n], followed by a NUL byte
	typ    uint8 // DT_ type from getdents
}

// fastState is the walker's reusable memory for walkDirFast.
type fastState struct {
	levels []*dirLevel
	buf    []byte // getdents buffer
	path   []byte // the path of the entry being visited
	busy   bool   // a walk uses this memory now
	sorted bool   // hand out each directory's entries sorted by name
}

// walkDirFast walks the directory path as walkDir does, and returns true.
func (w *walker) walkDirFast(ctx context.Context, path string, root uint64, stack []devIno, hasID bool) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		w.warn("%v", &fs.PathError{Op: "open", Path: path, Err: err})
		return true
	}
	if w.fast.busy {
		// A directory reached through a symbolic link (-follow) while
		// another is walked: its own memory, then back.
		saved := w.fast
		w.fast = fastState{}
		defer func() { w.fast = saved }()
	}
	w.fast.busy, w.fast.sorted = true, w.sorted
	defer func() { w.fast.busy = false }()
	w.fast.path = append(w.fast.path[:0], path...)
	// Room for deep trees, so that going down does not allocate.
	stack = append(make([]devIno, 0, len(stack)+64), stack...)
	w.walkFD(ctx, fd, 0, root, stack, hasID)
	return true
}

// walkFD walks the directory open as fd, whose path is in w.fast.path, at
// depth depth; it closes fd.
func (w *walker) walkFD(ctx context.Context, fd, depth int, root uint64, stack []devIno, hasID bool) {
	defer unix.Close(fd)
	w.dirs++
	s := &w.fast
	for len(s.levels) <= depth {
		s.levels = append(s.levels, &dirLevel{})
	}
	lv := s.levels[depth]
	lv.sorted = s.sorted
	if err := lv.start(fd, s); err != nil {
		// Entries read before the error are still walked.
		w.warn("%v", &fs.PathError{Op: "readdirent", Path: string(s.path), Err: err})
	}
	base := len(s.path)
	if base > 0 && s.path[base-1] != '/' {
		s.path = append(s.path, '/')
		base++
	}
	defer func() { s.path = s.path[:max(0, base-1)] }()
	for {
		if ctx.Err() != nil {
			return
		}
		nameBytes, typ, err := lv.next(fd)
		if err != nil {
			w.warn("%v", &fs.PathError{Op: "readdirent", Path: string(s.path[:base]), Err: err})
			return
		}
		if nameBytes == nil {
			return
		}
		cname := unsafe.SliceData(nameBytes)         // NUL-terminated
		name := unsafe.String(cname, len(nameBytes)) // valid while lv is
		if matchAny(w.ignore, name) {
			continue
		}
		s.path = append(s.path[:base], nameBytes...)
		if typ == unix.DT_UNKNOWN {
			// The file system does not say: ask (allocates; rare).
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if !errors.Is(err, unix.ENOENT) {
					w.warn("%v", &fs.PathError{Op: "lstat", Path: string(s.path), Err: err})
				}
				continue
			}
			typ = dtOf(st.Mode)
		}
		if typ == unix.DT_DIR {
			w.subdir(ctx, fd, cname, depth, root, stack, hasID)
			continue
		}
		switch typ {
		case unix.DT_REG:
			if len(w.include) > 0 && !matchAny(w.include, name) {
				continue
			}
			// The path is a view of s.path, valid during the visit only.
			p := unsafe.String(unsafe.SliceData(s.path), len(s.path))
			w.visit(entry{path: p, dirfd: fd, name: cname, root: root, hasRoot: w.xdev && hasID})
		case unix.DT_LNK:
			if !w.follow {
				continue
			}
			// Rare: the portable way, with a path of its own.
			w.linked(ctx, string(s.path), root, stack, hasID)
		}
		// Special files (devices, FIFOs, sockets) are skipped silently.
	}
}

// subdir walks the directory name in the directory dirfd: opened first,
// then its status read from the descriptor, which allocates nothing.
func (w *walker) subdir(ctx context.Context, dirfd int, name *byte, depth int, root uint64, stack []devIno, hasID bool) {
	sub, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		if err != unix.ENOENT {
			w.warn("%v", &fs.PathError{Op: "open", Path: string(w.fast.path), Err: err})
		}
		return
	}
	var st unix.Stat_t
	if err := unix.Fstat(sub, &st); err != nil {
		unix.Close(sub)
		w.warn("%v", &fs.PathError{Op: "fstat", Path: string(w.fast.path), Err: err})
		return
	}
	id := devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	if w.xdev && hasID && id.dev != root || onStack(stack, id) {
		unix.Close(sub) // a mount point; a loop cannot happen without symbolic links
		return
	}
	w.walkFD(ctx, sub, depth+1, root, append(stack, id), hasID)
}

// start starts reading the directory fd: all of it if sorted.
func (lv *dirLevel) start(fd int, s *fastState) error {
	lv.pos, lv.n = 0, 0
	if !lv.sorted {
		if lv.buf == nil {
			lv.buf = make([]byte, 8<<10)
		}
		return nil
	}
	lv.names, lv.ents, lv.i = lv.names[:0], lv.ents[:0], 0
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	defer func() {
		slices.SortFunc(lv.ents, func(a, b dirEnt) int {
			return bytes.Compare(lv.names[a.off:a.off+a.n], lv.names[b.off:b.off+b.n])
		})
	}()
	for {
		n, err := readDirent(fd, s.buf)
		if err != nil || n == 0 {
			return err
		}
		for b := s.buf[:n]; ; {
			name, typ, rest := parseDirent(b)
			if name == nil {
				break
			}
			b = rest
			lv.ents = append(lv.ents, dirEnt{off: int32(len(lv.names)), n: int32(len(name)), typ: typ})
			lv.names = append(append(lv.names, name...), 0)
		}
	}
}

// next returns the next entry but "." and "..": its name, followed in
// memory by a NUL byte and valid until the next call, and its DT_ type. The
// name is nil at the end.
func (lv *dirLevel) next(fd int) ([]byte, uint8, error) {
	if lv.sorted {
		if lv.i == len(lv.ents) {
			return nil, 0, nil
		}
		e := lv.ents[lv.i]
		lv.i++
		return lv.names[e.off : e.off+e.n : e.off+e.n+1], e.typ, nil
	}
	for {
		if lv.pos >= lv.n {
			n, err := readDirent(fd, lv.buf)
			if err != nil || n == 0 {
				return nil, 0, err
			}
			lv.pos, lv.n = 0, n
		}
		name, typ, rest := parseDirent(lv.buf[lv.pos:lv.n])
		if name == nil {
			lv.pos = lv.n
			continue
		}
		lv.pos = lv.n - len(rest)
		return name, typ, nil
	}
}

// readDirent reads directory records into buf.
func readDirent(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// parseDirent returns the name and type of the first record in b other
// than "." and "..", and the records after it; the name is nil if there is
// none. The name is followed in b by a NUL byte.
func parseDirent(b []byte) (name []byte, typ uint8, rest []byte) {
	for len(b) >= 19 {
		// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
		reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
		if reclen < 19 || reclen > len(b) {
			return nil, 0, nil
		}
		typ, name = b[18], b[19:reclen]
		b = b[reclen:]
		i := bytes.IndexByte(name, 0)
		if i < 0 {
			continue // not NUL-terminated: not a record the kernel writes
		}
		name = name[:i]
		if string(name) != "." && string(name) != ".." {
			return name, typ, b
		}
	}
	return nil, 0, nil
}

// dtOf returns the DT_ type of a stat mode.
func dtOf(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	}
	return unix.DT_UNKNOWN
}

// openat opens the NUL-terminated name relative to the directory dirfd,
// without allocating.
func openat(dirfd int, name *byte, flags int) (int, error) {
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)), uintptr(flags), 0, 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		}
		return -1, errno
	}
}
