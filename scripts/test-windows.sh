#!/usr/bin/env bash
# Runs the package's tests as a Windows program under Wine: installs Debian's
# wine64 and the MinGW-w64 cross compiler if they are missing, builds the
# bcryptprimitives.dll stand-in that Go binaries need under Wine 8, prepares
# a Wine prefix in a cache directory, cross-compiles the test binary and runs
# it. Arguments are passed to the test binary (e.g. -test.run TestProtect).
# Exits non-zero if the tests fail.
set -euo pipefail

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${MMAP_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmap-wine}
start=$SECONDS

find_wine() {
	local w
	for w in "$(command -v wine64 || true)" /usr/lib/wine/wine64 /usr/bin/wine64 "$(command -v wine || true)"; do
		if [[ -n $w && -x $w ]]; then
			echo "$w"
			return 0
		fi
	done
	return 1
}

# Install what is missing, with one apt-get update.
need=()
find_wine >/dev/null || need+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64-win32)
if ((${#need[@]})); then
	echo "test-windows: installing ${need[*]}"
	sudo=()
	((EUID == 0)) || sudo=(sudo)
	apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
	"${apt[@]}" update -qq
	"${apt[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
wine=$(find_wine) || { echo "test-windows: wine64 not found after install" >&2; exit 1; }
wineserver=$(dirname "$wine")/wineserver
[[ -x $wineserver ]] || wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)

mkdir -p "$cache"

# The bcryptprimitives.dll stand-in, rebuilt when its source changes.
dll=$cache/bcryptprimitives.dll
src=$repo/scripts/wine/bcryptprimitives.c
def=$repo/scripts/wine/bcryptprimitives.def
if [[ ! -f $dll || $src -nt $dll || $def -nt $dll ]]; then
	x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll.tmp" "$src" "$def" -lbcrypt
	mv "$dll.tmp" "$dll"
fi

# A Wine prefix of our own, quiet and without a display.
export WINEPREFIX=$cache/prefix
export WINEARCH=win64
export WINEDEBUG=-all
export DISPLAY=
# Native first for the stand-in; no Mono or Gecko installers.
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml="
if [[ ! -f $WINEPREFIX/system.reg ]]; then
	echo "test-windows: creating Wine prefix"
	"$wine" wineboot --init >/dev/null 2>&1 || true
	"$wineserver" -w || true
fi
[[ -f $WINEPREFIX/system.reg ]] || { echo "test-windows: Wine prefix was not created" >&2; exit 1; }
sys32=$WINEPREFIX/drive_c/windows/system32
cmp -s "$dll" "$sys32/bcryptprimitives.dll" 2>/dev/null || cp "$dll" "$sys32/bcryptprimitives.dll"

# Cross-compile the test binary and run it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exe=$work/mmap.test.exe
(cd "$repo" && GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$exe" .)
log=$work/log
set +e
"$wine" "$exe" -test.v -test.count=1 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
"$wineserver" -w 2>/dev/null || true

passed=$(grep -c -E '^\s*--- PASS' "$log" || true)
failed=$(grep -c -E '^\s*--- FAIL' "$log" || true)
skipped=$(grep -c -E '^\s*--- SKIP' "$log" || true)
if ((status == 0)) && { ! grep -q -E '^(PASS|ok)' "$log" || ((passed == 0)); }; then
	status=1 # the binary exited without a result line, or ran no test
fi
echo "test-windows: $((SECONDS - start))s, exit status $status"
echo "wine: $passed passed, $failed failed, $skipped skipped"
exit "$status"
