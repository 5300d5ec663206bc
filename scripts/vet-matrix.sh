#!/usr/bin/env bash
# Vets the package, tests included, for every GOOS/GOARCH pair it supports,
# and builds it for the ports where it only compiles (js/wasm, wasip1/wasm,
# plan9), so that no per-OS file uses another system's constants or forgets
# a function. Cross-compiling needs nothing beyond the Go toolchain.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

vet_pairs=(
	darwin/arm64 darwin/amd64 # ios/arm64 needs cgo to link; its files are those of darwin
	freebsd/amd64 freebsd/386 freebsd/arm64
	openbsd/amd64 openbsd/arm64
	netbsd/amd64 netbsd/arm64
	dragonfly/amd64
	illumos/amd64 solaris/amd64
	aix/ppc64
	windows/amd64 windows/arm64 windows/386
	linux/amd64 linux/386 linux/arm linux/arm64 linux/riscv64 linux/s390x
	linux/ppc64le linux/mips64le linux/loong64
	android/arm64
)
build_pairs=(js/wasm wasip1/wasm plan9/amd64)
# Pairs whose test binary is also linked: on darwin the package reaches
# libSystem through a dynamic import that only the linker checks.
link_pairs=(darwin/arm64 darwin/amd64)

failed=()
for pair in "${vet_pairs[@]}"; do
	if ! GOOS=${pair%/*} GOARCH=${pair#*/} CGO_ENABLED=0 go vet ./...; then
		echo "vet-matrix: go vet failed for $pair" >&2
		failed+=("vet $pair")
	fi
done
for pair in "${build_pairs[@]}"; do
	if ! GOOS=${pair%/*} GOARCH=${pair#*/} CGO_ENABLED=0 go build ./...; then
		echo "vet-matrix: go build failed for $pair" >&2
		failed+=("build $pair")
	fi
	# The test files must compile there too.
	if ! GOOS=${pair%/*} GOARCH=${pair#*/} CGO_ENABLED=0 go test -c -o /dev/null . >/dev/null; then
		echo "vet-matrix: go test -c failed for $pair" >&2
		failed+=("test build $pair")
	fi
done
for pair in "${link_pairs[@]}"; do
	if ! GOOS=${pair%/*} GOARCH=${pair#*/} CGO_ENABLED=0 go test -c -o /dev/null . >/dev/null; then
		echo "vet-matrix: linking the test binary failed for $pair" >&2
		failed+=("link $pair")
	fi
done

if ((${#failed[@]})); then
	echo "vet-matrix: FAIL: ${failed[*]}"
	exit 1
fi
echo "vet-matrix: OK: go vet for ${#vet_pairs[@]} pairs, go build for ${#build_pairs[@]}, test binary linked for ${#link_pairs[@]}"
