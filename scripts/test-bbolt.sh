#!/usr/bin/env bash
# Runs bbolt's own test suite (go test -race -short) with bbolt's memory
# mapping layer replaced by this package, as a storage engine would use it:
# the file is mapped ahead of its end with PastEOF (bbolt maps more than the
# file and grows the file underneath the mapping), advised with AdviseRange
# and locked with LockRange. bbolt is fetched from the Go module proxy into a
# temporary directory, outside this repository; without the proxy the script
# skips. BBOLT_VERSION picks another version (default: the one last checked).
set -euo pipefail

prog=test-bbolt
. "$(dirname "${BASH_SOURCE[0]}")/lib-module.sh"
version=${BBOLT_VERSION:-v1.5.0}
fetch_module go.etcd.io/bbolt "$version" bbolt

# Put bbolt's own mmap, munmap, mlock and munlock for unix out of use, and
# give DB a field for the region.
sed -i.orig -e 's/^func mmap(/func unusedMmap(/' -e 's/^func munmap(/func unusedMunmap(/' bolt_unix.go
sed -i.orig -e 's/^func mlock(/func unusedMlock(/' -e 's/^func munlock(/func unusedMunlock(/' mlock_unix.go
sed -i.orig -e 's/^import (/import (\n\tmmapkit "github.com\/mmapkit\/mmap"/' \
	-e 's/^\tdataref  \[\]byte.*/&\n\tregion   *mmapkit.Region/' db.go
rm -f ./*.orig

cat >bolt_mmapkit.go <<'EOF'
//go:build !windows && !plan9 && !solaris && !aix && !android

package bbolt

import (
	stderrors "errors"
	"fmt"
	"syscall"
	"unsafe"

	mmapkit "github.com/mmapkit/mmap"

	"go.etcd.io/bbolt/internal/common"
)

// mmap maps sz bytes of the data file, ahead of its end: the file grows
// underneath the mapping.
func mmap(db *DB, sz int) error {
	flags := mmapkit.Shared | mmapkit.PastEOF
	if db.MmapFlags&syscall.MAP_POPULATE != 0 {
		flags |= mmapkit.Populate
	}
	r, err := mmapkit.NewFile(db.file, 0, sz, mmapkit.Read, flags)
	if err != nil {
		return err
	}
	if err := r.Map(); err != nil {
		return err
	}
	if err := r.AdviseRange(0, sz, mmapkit.Random); err != nil && !stderrors.Is(err, stderrors.ErrUnsupported) {
		r.Unmap()
		return fmt.Errorf("madvise: %s", err)
	}
	b := r.Bytes()
	db.region, db.dataref, db.datasz = r, b, sz
	db.data = (*[common.MaxMapSize]byte)(unsafe.Pointer(&b[0]))
	return nil
}

// munmap unmaps the data file.
func munmap(db *DB) error {
	if db.region == nil {
		return nil
	}
	err := db.region.Unmap()
	db.region, db.dataref, db.data, db.datasz = nil, nil, nil, 0
	return err
}

// mlock locks the first fileSize bytes of the mapping.
func mlock(db *DB, fileSize int) error {
	return db.region.LockRange(0, min(fileSize, db.datasz))
}

// munlock unlocks the first fileSize bytes of the mapping.
func munlock(db *DB, fileSize int) error {
	if db.region == nil {
		return nil
	}
	return db.region.UnlockRange(0, min(fileSize, db.datasz))
}
EOF

go mod edit -require=github.com/mmapkit/mmap@v0.0.0 -replace=github.com/mmapkit/mmap="$root"
go mod tidy >/dev/null
echo "test-bbolt: bbolt $version over $(wc -l <bolt_mmapkit.go) lines of port"
# bbolt's own code fails go vet's printf check under recent Go: vet is off.
go test -vet=off -race -short -count=1 . "$@"
