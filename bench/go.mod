module github.com/mmapkit/mmap/bench

go 1.26.0

require github.com/mmapkit/mmap v0.0.0

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	golang.org/x/exp v0.0.0-20261113113407-e3970619a1a4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/mmapkit/mmap => ../
