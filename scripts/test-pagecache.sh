#!/usr/bin/env bash
# Installs what the comparison tests of cmd/pagecache need (vmtouch, and
# util-linux for fincore) if missing, then runs the tests of cmd/pagecache so
# that the comparison with fincore and vmtouch runs instead of being skipped.
# Extra arguments go to go test (for example -race or -v).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
command -v vmtouch >/dev/null 2>&1 || need+=(vmtouch)
command -v fincore >/dev/null 2>&1 || need+=(util-linux)
if ((${#need[@]} > 0)); then
	sudo=()
	if [[ $(id -u) != 0 ]]; then
		sudo=(sudo)
	fi
	echo "test-pagecache: installing ${need[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in vmtouch fincore; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test-pagecache: $tool is still missing after installing" >&2
		exit 1
	fi
done

vmtouch_version=$(vmtouch -h 2>&1 | grep -m1 -o 'vmtouch v[0-9.]*' || true)
echo "test-pagecache: ${vmtouch_version:-vmtouch}, $(fincore --version)"
# With PAGECACHE_REQUIRE_TOOLS=1 the comparison tests fail rather than skip
# when a tool or a disk-backed directory is missing.
PAGECACHE_REQUIRE_TOOLS=1 go test -count=1 "$@" ./cmd/pagecache/
echo "test-pagecache: OK: cmd/pagecache agrees with cachestat, fincore and vmtouch"
