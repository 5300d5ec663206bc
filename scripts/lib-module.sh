# Sourced by scripts/test-bbolt.sh and scripts/test-gocar.sh, which run a
# third party's own test suite over this package: the parts they share. The
# sourcing script sets prog (the name its messages start with).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

# fetch_module copies module $1 at version $2 from the Go module proxy into
# $work/$3, writable, and changes into it; without the proxy it says so and
# ends the script with status 0 (skipped).
fetch_module() {
	local dir
	cd "$work"
	if ! dir=$(go mod download -json "$1@$2" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || [ -z "$dir" ]; then
		echo "$prog: skipped: $1@$2 cannot be downloaded (no module proxy?)"
		exit 0
	fi
	cp -r "$dir" "$3"
	chmod -R u+w "$3"
	cd "$3"
}
