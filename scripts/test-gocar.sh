#!/usr/bin/env bash
# Runs go-car v2's own test suite (go test -race) with golang.org/x/exp/mmap
# replaced by this package, as a user moving from that package would: the
# import line changes and nothing else (Open returns a *Region, which go-car
# uses as an io.ReaderAt with Len and Close). go-car is fetched from the Go
# module proxy into a temporary directory, outside this repository; without
# the proxy the script skips. GOCAR_VERSION picks another version (default:
# the one last checked). GOCAR_PKGS picks the packages (default: all).
set -euo pipefail

prog=test-gocar
version=${GOCAR_VERSION:-v2.17.0}
pkgs=${GOCAR_PKGS:-./...}
. "$(dirname "${BASH_SOURCE[0]}")/lib-module.sh"
fetch_module github.com/ipld/go-car/v2 "$version" gocar

# The port: every import of golang.org/x/exp/mmap becomes this package.
files=$(grep -rl --include='*.go' '"golang.org/x/exp/mmap"' . || true)
if [ -z "$files" ]; then
	echo "test-gocar: go-car $version no longer imports golang.org/x/exp/mmap" >&2
	exit 1
fi
for f in $files; do
	sed -i 's#"golang.org/x/exp/mmap"#"github.com/mmapkit/mmap"#' "$f"
done
go mod edit -require=github.com/mmapkit/mmap@v0.0.0 -replace=github.com/mmapkit/mmap="$root"
go mod tidy >/dev/null 2>&1 || go mod tidy
echo "test-gocar: go-car $version, import replaced in:" $files
go test -race -count=1 $pkgs
