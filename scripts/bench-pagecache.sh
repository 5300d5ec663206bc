#!/usr/bin/env bash
# Measures cmd/pagecache side by side with vmtouch, as the README reports:
#   - counting a tree, warm: `pagecache -s DIR` against `vmtouch DIR`
#     (wall time and peak resident memory);
#   - loading a 2 GiB file: `pagecache -touch` against `vmtouch -t`, warm
#     (already cached) and cold (evicted first, each tool with its own
#     eviction: -evict, vmtouch -e).
# Each figure is the median of RUNS runs (default 7), the two tools taking
# turns. Not run by CI: it takes a few minutes and wants an idle machine.
#
# Usage: scripts/bench-pagecache.sh [DIR]   (DIR default /usr/lib)
# Environment: RUNS, BENCH_TMP (a directory on a disk, default /var/tmp).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
tree=${1:-/usr/lib}
runs=${RUNS:-7}
for tool in vmtouch /usr/bin/time; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-pagecache: $tool is missing (apt-get install vmtouch time)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/bench-pagecache.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/pagecache" ./cmd/pagecache
pc=$work/pagecache

# measure OUT CMD...: appends "seconds kilobytes" of one run of CMD to OUT.
measure() {
	local out=$1
	shift
	/usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>&1 || true
	cat "$work/t" >>"$out"
}

# median FILE COLUMN: the median of a column of numbers.
median() {
	sort -g -k"$2,$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}'; }

report() { # name pagecache-file vmtouch-file
	local pt pm vt vm
	pt=$(median "$2" 1) pm=$(median "$2" 2) vt=$(median "$3" 1) vm=$(median "$3" 2)
	printf '%-28s pagecache %6.2fs %7d KB   vmtouch %6.2fs %7d KB   time %sx  memory %sx\n' \
		"$1" "$pt" "$pm" "$vt" "$vm" "$(ratio "$pt" "$vt")" "$(ratio "$pm" "$vm")"
}

vt=$({ vmtouch -h 2>&1 || true; } | grep -m1 -o "vmtouch v[0-9.]*" || true)
echo "bench-pagecache: $(nproc) CPUs, $(uname -sr), ${vt:-vmtouch}, median of $runs runs"
echo "bench-pagecache: tree $tree: $(find "$tree" -xdev -type f 2>/dev/null | wc -l) files"

# Counting a warm tree.
"$pc" -s "$tree" >/dev/null 2>&1 || true
vmtouch -q "$tree" >/dev/null 2>&1 || true
: >"$work/count.pc"
: >"$work/count.vm"
for ((i = 0; i < runs; i++)); do
	measure "$work/count.pc" "$pc" -s "$tree"
	measure "$work/count.vm" vmtouch -q "$tree"
done
report "count $tree (warm)" "$work/count.pc" "$work/count.vm"

# Loading a 2 GiB file.
big=$work/big
dd if=/dev/urandom of="$big" bs=1M count=2048 status=none
sync
: >"$work/warm.pc"
: >"$work/warm.vm"
: >"$work/cold.pc"
: >"$work/cold.vm"
"$pc" -touch "$big" >/dev/null
for ((i = 0; i < runs; i++)); do
	measure "$work/warm.pc" "$pc" -touch "$big"
	measure "$work/warm.vm" vmtouch -qt "$big"
done
report "touch 2 GiB (warm)" "$work/warm.pc" "$work/warm.vm"
for ((i = 0; i < runs; i++)); do
	"$pc" -evict "$big" >/dev/null
	measure "$work/cold.pc" "$pc" -touch "$big"
	vmtouch -qe "$big"
	measure "$work/cold.vm" vmtouch -qt "$big"
done
report "touch 2 GiB (cold)" "$work/cold.pc" "$work/cold.vm"
