#!/usr/bin/env bash
# Runs the test suite for linux/arm64 under qemu-user with 64 KiB and 16 KiB
# pages (qemu-aarch64 -p), so that page arithmetic meets page sizes other
# than the host's 4 KiB. Installs Debian's qemu-user (which provides
# qemu-aarch64) if it is missing. Child processes of the tests run under the
# same emulator through MMAP_TEST_EMULATOR, as no binfmt_misc handler is
# assumed. Usage: scripts/test-qemu.sh [page sizes...] (default 65536 16384).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
page_sizes=("$@")
((${#page_sizes[@]})) || page_sizes=(65536 16384)

if ! command -v qemu-aarch64 >/dev/null; then
	echo "test-qemu: installing qemu-user"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends qemu-user >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One test binary per package that has tests, run from the package's
# directory as go test would.
mapfile -t pkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./...)
for entry in "${pkgs[@]}"; do
	pkg=${entry%% *}
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go test -c -o "$work/${pkg//\//_}.test" "$pkg"
done

failed=()
for p in "${page_sizes[@]}"; do
	for entry in "${pkgs[@]}"; do
		pkg=${entry%% *} dir=${entry#* }
		echo "test-qemu: $pkg, linux/arm64, $p-byte pages"
		if ! (cd "$dir" && MMAP_TEST_EMULATOR="qemu-aarch64 -p $p" \
			qemu-aarch64 -p "$p" "$work/${pkg//\//_}.test" -test.count=1 -test.timeout=10m); then
			failed+=("$pkg@$p")
		fi
	done
done

cd "$root"
if ((${#failed[@]})); then
	echo "test-qemu: FAIL: ${failed[*]}"
	exit 1
fi
echo "test-qemu: OK: ${#pkgs[@]} package(s) passed under qemu-aarch64 with page sizes ${page_sizes[*]}"
