#!/usr/bin/env bash
# Runs the test suite for linux/386, where int has 32 bits, to catch
# overflows of lengths and offsets. The binaries run natively where the
# kernel runs 32-bit programs, and under qemu-i386 (installed from Debian's
# qemu-user if missing) where it does not, as in some sandboxes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

prog=test-386
source scripts/lib-qemu.sh

mapfile -t pkgs < <(test_packages)
declare -A extra=()
# Test binaries that link rapid write no failure files into the tree.
build_tests 386 -rapid.nofailfile "${pkgs[@]}"

# Probe whether the kernel runs 32-bit x86 programs: where it does not, the
# shell cannot execute the binary (status 126, exec format error). Any other
# failure of a binary that runs no test is a failure of the suite.
# TEST_386_EMULATE=1 takes the emulator's path even where the kernel runs
# them, to check that path.
emulator=()
first=${pkgs[0]%% *}
probe=0
"$(test_binary "$first")" -test.run='^$' >/dev/null 2>&1 || probe=$?
if ((probe != 0 && probe != 126)); then
	echo "test-386: the linux/386 test binary of $first fails natively (status $probe) without running a test"
	exit 1
fi
if ((probe == 126)) || [ "${TEST_386_EMULATE:-}" = 1 ]; then
	need_qemu i386
	# Go's 386 code needs SSE2, which qemu's default CPU lacks. qemu-i386 7.2
	# loses track of a thread when the signals of asynchronous preemption
	# arrive, and when a child exits during wait4, so preemption is off and
	# the tests that start children skip (see also below).
	emulator=(qemu-i386 -cpu max)
	export GODEBUG=asyncpreemptoff=1
	export MMAP_TEST_NO_CHILD="qemu-i386 crashes the parent in wait4"
	echo "test-386: the kernel does not run 32-bit programs here: using ${emulator[*]}"
fi

# package_fault reads a test's output and succeeds if it reports a memory
# fault (unexpected fault address, fatal error: fault) whose goroutine, the
# first one printed after it, has a frame of the package's own code: a
# function of the module from a file that is not a _test.go file.
module=$(go list -m)
package_fault() {
	awk -v mod="$module." '
		{ sub(/^ +/, "") } # the output of a child, logged by its test, is indented
		/^(unexpected fault address|fatal error: fault)/ { fault = 1 }
		fault && /^goroutine / { stack = 1; next }
		stack && /^$/ { exit }
		stack && index($0, mod) == 1 { ours = 1; next }
		stack && ours && /^\t/ && !/_test\.go:/ { found = 1; exit }
		{ ours = 0 }
		END { exit !found }'
}

failed=() crashed=()
for entry in "${pkgs[@]}"; do
	pkg=${entry%% *} dir=${entry#* }
	bin=$(test_binary "$pkg")
	echo "test-386: $pkg"
	if ((${#emulator[@]} == 0)); then
		(cd "$dir" && "$bin" -test.count=1 -test.timeout=10m ${extra[$pkg]:-}) || failed+=("$pkg")
		continue
	fi
	# Under qemu-i386 each test runs in a process of its own: qemu-i386 7.2
	# can lose the goroutine when a signal arrives (a fault that ReadAt
	# catches, a child that exits), which kills the process with one of the
	# runtime's messages below. Such a test counts as not run, not as failed;
	# every other failure counts.
	mapfile -t tests < <(cd "$dir" && "${emulator[@]}" "$bin" -test.list '.*' | grep -E '^(Test|Example|Fuzz)')
	# The crashes come and go: a crashed test gets two more tries. A fault
	# reported on goroutine 0 is one in the runtime's own code (g0), where
	# qemu-i386 delivered a signal meant for a goroutine.
	# These messages come from the runtime finding its own state broken
	# (a signal delivered on the wrong stack or goroutine), which qemu-i386
	# causes; the package cannot. Any other abort is the test's failure, and
	# so is a memory fault in the package's code (its faulting goroutine
	# runs a function of the package from a file that is not a test): that
	# is a crash of the library, which native runs would see too.
	lost='morestack on g0|morestack on gsignal|bad g in signal handler|syscall frame is no longer valid'
	lost+='|unexpected signal during runtime execution|wirep: already in go|defer on system stack|^goroutine 0 gp='
	lost+='|runtime: split stack overflow|signal arrived during cgo execution|unexpected return pc'
	lost+='|fatal error: unknown caller pc|traceback did not unwind completely'
	for name in "${tests[@]}"; do
		for try in 1 2 3; do
			if out=$(cd "$dir" && MMAP_TEST_EMULATOR="${emulator[*]}" \
				"${emulator[@]}" "$bin" -test.count=1 -test.timeout=5m -test.run "^${name}\$" ${extra[$pkg]:-} 2>&1); then
				break
			fi
			# A test that reports a failure has failed; a process that the
			# runtime aborted with one of qemu's signatures was lost to it.
			if grep -q '^--- FAIL' <<<"$out" || ! grep -qE "$lost" <<<"$out" || package_fault <<<"$out"; then
				printf '%s\n' "$out" | head -c 20000
				failed+=("$pkg.$name")
				break
			fi
			if ((try == 3)); then
				crashed+=("$name")
			fi
		done
	done
done

if ((${#crashed[@]})); then
	echo "test-386: not run, qemu-i386 lost the goroutine in a signal handler three times: ${crashed[*]}"
fi
if ((${#failed[@]})); then
	echo "test-386: FAIL: ${failed[*]}"
	exit 1
fi
if ((${#emulator[@]})); then
	echo "test-386: OK: ${#pkgs[@]} package(s) passed for linux/386 under ${emulator[*]}, ${#crashed[@]} test(s) not run"
else
	echo "test-386: OK: ${#pkgs[@]} package(s) passed for linux/386"
fi
