#!/usr/bin/env bash
# Runs the test suite for linux/arm64 under qemu-user with 64 KiB and 16 KiB
# pages (qemu-aarch64 -p), so that page arithmetic meets page sizes other
# than the host's 4 KiB. Installs Debian's qemu-user (which provides
# qemu-aarch64) if it is missing. Child processes of the tests run under the
# same emulator through MMAP_TEST_EMULATOR, as no binfmt_misc handler is
# assumed. Usage: scripts/test-qemu.sh [page sizes...] (default 65536 16384).
#
# What qemu-user does not emulate is skipped by the tests themselves when
# MMAP_TEST_EMULATOR is set (see skipUnderEmulator and skipUnderLargePages):
# madvise, the host's /proc/self/smaps, MAP_POPULATE, devices and the part of
# a file's last page beyond its end when guest pages are larger than the
# host's. cmd/pagecache is not run here: its tests compare with fincore and
# vmtouch, host binaries that see the host's 4 KiB pages, start the test
# binary as the program itself, and call mincore on the tail page of every
# file, which qemu-user maps only up to the host page that holds the file's
# end (ENOMEM). scripts/test-pagecache.sh runs it natively.
# The property tests run with fewer rapid checks (RAPID_CHECKS, default 20)
# as emulation is slow, and write no rapid failure files.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
page_sizes=("$@")
((${#page_sizes[@]})) || page_sizes=(65536 16384)

prog=test-qemu
source scripts/lib-qemu.sh
need_qemu aarch64

# One test binary per package that has tests, run from the package's
# directory as go test would.
# Packages left out, with the reason printed in the summary.
declare -A excluded=(
	[github.com/mmapkit/mmap/cmd/pagecache]="compares with host tools (fincore, vmtouch) and mincore of file tails, which qemu-user cannot give; run natively by scripts/test-pagecache.sh"
)
checks=${RAPID_CHECKS:-20}

pkgs=()
while read -r entry; do
	[[ -n ${excluded[${entry%% *}]:-} ]] || pkgs+=("$entry")
done < <(test_packages)
declare -A extra=()
build_tests arm64 "-rapid.checks=$checks -rapid.nofailfile" "${pkgs[@]}"

failed=()
for p in "${page_sizes[@]}"; do
	for entry in "${pkgs[@]}"; do
		pkg=${entry%% *} dir=${entry#* }
		echo "test-qemu: $pkg, linux/arm64, $p-byte pages"
		out="$work/out"
		# With pages larger than the host's, qemu-user maps anonymous memory
		# past a file's end: a file mapped ahead of its end (PastEOF) cannot
		# be emulated. The tests skip themselves; an example cannot.
		skip=()
		if ((p > 4096)); then
			skip=(-test.skip '^Example_pageFile$')
			echo "test-qemu:   skipped under qemu: Example_pageFile: $p-byte pages, larger than the host's, cannot map a file ahead of its end"
		fi
		if (cd "$dir" && MMAP_TEST_EMULATOR="qemu-aarch64 -p $p" \
			qemu-aarch64 -p "$p" "$(test_binary "$pkg")" -test.count=1 -test.timeout=10m -test.v "${skip[@]}" ${extra[$pkg]:-}) >"$out" 2>&1; then
			echo "test-qemu: $pkg, $p-byte pages: PASS"
		else
			# The failures and their output, without the passing tests.
			grep -vE '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$out" || true
			failed+=("$pkg@$p")
		fi
		# What the tests skip, and why (the emulator's skips name it).
		mapfile -t skipped < <(grep -E '^ *--- SKIP' "$out" | sed -E 's/^ *--- SKIP: ([^ ]+).*/\1/')
		if ((${#skipped[@]})); then
			echo "test-qemu: $pkg, $p-byte pages: ${#skipped[@]} skipped: ${skipped[*]}"
			grep -E ': under qemu-aarch64' "$out" | sed -E 's/^ *[^ ]+: under [^:]+: /test-qemu:   skipped under qemu: /' | sort -u || true
		fi
	done
done

cd "$root"
for pkg in "${!excluded[@]}"; do
	echo "test-qemu: not run: $pkg: ${excluded[$pkg]}"
done
if ((${#failed[@]})); then
	echo "test-qemu: FAIL: ${failed[*]}"
	exit 1
fi
echo "test-qemu: OK: ${#pkgs[@]} package(s) passed under qemu-aarch64 with page sizes ${page_sizes[*]}"
