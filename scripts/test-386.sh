#!/usr/bin/env bash
# Runs the test suite for linux/386, where int has 32 bits, to catch
# overflows of lengths and offsets. The binaries run natively where the
# kernel runs 32-bit programs, and under qemu-i386 (installed from Debian's
# qemu-user if missing) where it does not, as in some sandboxes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t pkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./...)
for entry in "${pkgs[@]}"; do
	pkg=${entry%% *}
	GOOS=linux GOARCH=386 CGO_ENABLED=0 go test -c -o "$work/${pkg//\//_}.test" "$pkg"
done

# Probe whether the kernel runs 32-bit x86 programs.
emulator=()
first=${pkgs[0]%% *}
if ! "$work/${first//\//_}.test" -test.run='^$' >/dev/null 2>&1; then
	if ! command -v qemu-i386 >/dev/null; then
		echo "test-386: installing qemu-user"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends qemu-user >/dev/null
	fi
	# Go's 386 code needs SSE2, which qemu's default CPU lacks. qemu-i386 7.2
	# loses track of a thread when the signals of asynchronous preemption
	# arrive, and when a child exits during wait4, so preemption is off and
	# the tests that start children skip.
	emulator=(qemu-i386 -cpu max)
	export GODEBUG=asyncpreemptoff=1
	export MMAP_TEST_NO_CHILD="qemu-i386 crashes the parent in wait4"
	echo "test-386: the kernel does not run 32-bit programs here: using ${emulator[*]}"
fi

failed=()
for entry in "${pkgs[@]}"; do
	pkg=${entry%% *} dir=${entry#* }
	echo "test-386: $pkg"
	if ! (cd "$dir" && MMAP_TEST_EMULATOR="${emulator[*]}" \
		"${emulator[@]}" "$work/${pkg//\//_}.test" -test.count=1 -test.timeout=10m); then
		failed+=("$pkg")
	fi
done

if ((${#failed[@]})); then
	echo "test-386: FAIL: ${failed[*]}"
	exit 1
fi
echo "test-386: OK: ${#pkgs[@]} package(s) passed for linux/386${emulator:+ under ${emulator[*]}}"
