#!/usr/bin/env bash
# Counts the instructions one call of each small-copy path executes, with
# valgrind's callgrind: ReadAt, WriteAt and Access of 64 bytes next to
# golang.org/x/exp/mmap's ReadAt, a plain copy and the panic-on-fault floors of
# the bench module (floorCopy, floorCountedCopy, floorAccess). Unlike the
# timings of bench/cmd/benchrun, the counts do not depend on what else the
# machine runs, so they show what a change to those paths costs even on a
# shared machine. They are not times: a locked add or a call costs more
# than a register move.
#
# Usage, from the repository's root: scripts/bench-instructions.sh
# CALLS=N counts over N calls of each path instead of 1,000,000 (quicker;
# the one-off costs of a benchmark's start weigh more).
# It installs valgrind with apt-get if it is missing. Linux only.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
	echo "installing valgrind" >&2
	(apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null
fi

calls=${CALLS:-1000000}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd bench && go test -c -o "$bin/bench.test" .)

# count BENCH FUNC [EXTRA]: the instructions of one call of FUNC, with what
# it calls, while BENCH runs $calls iterations that each call FUNC once.
# callgrind collects only inside FUNC (--toggle-collect), but Go's switches
# of goroutine stacks (a preemption at a function's entry, which sysmon asks
# for every 10 ms and so more often the slower valgrind runs on a busy
# machine) confuse its view of the call stack, and it then also collects in
# the benchmark's loop and the scheduler. So the count sums the instructions
# executed in the functions a call runs, each by itself: FUNC, its closures,
# runtime.memmove, the package's copyFixed (and the wrapper through which Go
# code calls it), the runtime's setPanicOnFault, and functions whose names
# match the awk pattern EXTRA (the callback of Access). Async preemption is
# off: callgrind does not survive Go's preemption signals.
count() {
	local out="$bin/callgrind.out"
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
		--toggle-collect="$2" "$bin/bench.test" -test.run '^$' -test.bench "$1" \
		-test.benchtime "${calls}x" >/dev/null 2>&1
	callgrind_annotate --threshold=100 "$out" 2>/dev/null |
		awk -v n="$calls" -v fn="$2" -v extra="${3:-}" '
			$1 ~ /^[0-9,]+$/ {
				# "1,234 (12.34%)  file:function [binary]"; the percentage
				# may hold a space.
				f = ""
				for (i = 2; i < NF; i++) {
					if ($i ~ /%\)$/) {
						f = $(i + 1)
						break
					}
				}
				f = substr(f, index(f, ":") + 1)
				sub(/'"'"'[0-9]+$/, "", f) # a recursion level, as callgrind sees it
				if (f == fn || index(f, fn ".func") == 1 || f == "runtime.memmove" ||
					index(f, "github.com/mmapkit/mmap.copyFixed") == 1 ||
					f == "runtime/debug.setPanicOnFault" || (extra != "" && f ~ extra)) {
					gsub(/,/, "", $1)
					sum += $1
					found = 1
				}
			}
			END { if (found) printf "%.0f", sum / n; else printf "?" }'
}

printf '%-45s %s\n' "path (64 bytes)" "instructions per call"
printf '%-45s %s\n' "plain copy (runtime.memmove)" "$(count 'ReadAt$/64B/copy$' 'runtime.memmove')"
printf '%-45s %s\n' "x/exp/mmap ReaderAt.ReadAt" "$(count 'ReadAt$/64B/exp$' 'golang.org/x/exp/mmap.(*ReaderAt).ReadAt')"
printf '%-45s %s\n' "panic-on-fault floor (bench floorCopy)" "$(count 'SafetyCost/64B/recover$' 'github.com/mmapkit/mmap/bench.floorCopy')"
printf '%-45s %s\n' "counted panic-on-fault floor (floorCountedCopy)" "$(count 'WriteAt/64B/safe-floor$' 'github.com/mmapkit/mmap/bench.floorCountedCopy')"
printf '%-45s %s\n' "counted fault-safe call (floorAccess)" "$(count 'ReadAt$/64B/safe-floor-access$' 'github.com/mmapkit/mmap/bench.floorAccess' '^github.com/mmapkit/mmap/bench.readAt.func1.[0-9]+.[0-9]+$')"
printf '%-45s %s\n' "mmapkit ReadAt (inlined; its readAt)" "$(count 'ReadAt$/64B/mmapkit$' 'github.com/mmapkit/mmap.(*Region).readAt')"
printf '%-45s %s\n' "mmapkit WriteAt (inlined; its writeAt)" "$(count 'WriteAt/64B/mmapkit$' 'github.com/mmapkit/mmap.(*Region).writeAt')"
printf '%-45s %s\n' "mmapkit Access (callback copies)" "$(count 'ReadAt$/64B/mmapkit-access$' 'github.com/mmapkit/mmap.(*Region).Access' '^github.com/mmapkit/mmap/bench.readAt.func1.[0-9]+.[0-9]+$')"
