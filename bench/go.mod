module github.com/mmapkit/mmap/bench

go 1.26.0

require (
	github.com/edsrzf/mmap-go v1.2.0
	github.com/mmapkit/mmap v0.0.0
	golang.org/x/exp v0.0.0-20261113113407-e3970619a1a4
	golang.org/x/sys v0.50.0
)

replace github.com/mmapkit/mmap => ../
