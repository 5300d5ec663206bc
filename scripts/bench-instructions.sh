#!/usr/bin/env bash
# Counts the instructions one call of each small-copy path executes, with
# valgrind's callgrind: ReadAt, WriteAt and Access of 64 bytes next to
# golang.org/x/exp/mmap's ReadAt, a plain copy and the fault-safe floors of
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

# count BENCH FUNC: the instructions of one call of FUNC, with what it calls,
# while BENCH runs $calls iterations that each call FUNC once: callgrind
# counts only inside FUNC (--toggle-collect). Async preemption is off:
# callgrind does not survive Go's preemption signals.
count() {
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		--toggle-collect="$2" "$bin/bench.test" -test.run '^$' -test.bench "$1" \
		-test.benchtime "${calls}x" 2>&1 >/dev/null |
		awk -v n="$calls" '/Collected :/ { printf "%.0f", $NF / n; found = 1 } END { if (!found) printf "?" }'
}

printf '%-45s %s\n' "path (64 bytes)" "instructions per call"
printf '%-45s %s\n' "plain copy (runtime.memmove)" "$(count 'ReadAt$/64B/copy$' 'runtime.memmove')"
printf '%-45s %s\n' "x/exp/mmap ReaderAt.ReadAt" "$(count 'ReadAt$/64B/exp$' 'golang.org/x/exp/mmap.(*ReaderAt).ReadAt')"
printf '%-45s %s\n' "fault-safe floor (bench floorCopy)" "$(count 'SafetyCost/64B/recover$' 'github.com/mmapkit/mmap/bench.floorCopy')"
printf '%-45s %s\n' "counted fault-safe floor (floorCountedCopy)" "$(count 'WriteAt/64B/safe-floor$' 'github.com/mmapkit/mmap/bench.floorCountedCopy')"
printf '%-45s %s\n' "counted fault-safe call (floorAccess)" "$(count 'ReadAt$/64B/safe-floor-access$' 'github.com/mmapkit/mmap/bench.floorAccess')"
printf '%-45s %s\n' "mmapkit ReadAt (inlined; its readAt)" "$(count 'ReadAt$/64B/mmapkit$' 'github.com/mmapkit/mmap.(*Region).readAt')"
printf '%-45s %s\n' "mmapkit WriteAt (inlined; its writeAt)" "$(count 'WriteAt/64B/mmapkit$' 'github.com/mmapkit/mmap.(*Region).writeAt')"
printf '%-45s %s\n' "mmapkit Access (callback copies)" "$(count 'ReadAt$/64B/mmapkit-access$' 'github.com/mmapkit/mmap.(*Region).Access')"
