# Sourced by scripts/test-qemu.sh and scripts/test-386.sh, which run the test
# binaries of linux/arm64 and linux/386 under qemu-user: the parts they
# share. The sourcing script sets prog (the name its messages start with)
# and runs from the module's root.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# test_packages prints "import-path directory" for each package that has
# tests.
test_packages() {
	go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./...
}

# test_binary prints where build_tests puts the test binary of package $1.
test_binary() {
	echo "$work/${1//\//_}.test"
}

# build_tests builds, for linux/$1, the test binary of each package named by
# the entries "import-path directory" that follow $2, and sets extra[pkg]
# to $2, the flags of rapid, for the binaries that link rapid. The caller
# declares the associative array extra.
build_tests() {
	local arch=$1 rapid_flags=$2 entry pkg
	shift 2
	for entry; do
		pkg=${entry%% *}
		GOOS=linux GOARCH=$arch CGO_ENABLED=0 go test -c -o "$(test_binary "$pkg")" "$pkg"
		if GOOS=linux GOARCH=$arch go list -test -deps "$pkg" | grep -qx pgregory.net/rapid; then
			extra[$pkg]=$rapid_flags
		fi
	done
}

# need_qemu installs Debian's qemu-user, which provides qemu-$1, if the
# command is missing.
need_qemu() {
	command -v "qemu-$1" >/dev/null && return
	echo "$prog: installing qemu-user"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends qemu-user >/dev/null
}
