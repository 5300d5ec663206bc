// This file holds the constructor of anonymous regions.

package mmap

import "fmt"

// NewAnon returns an unmapped region of length bytes of anonymous memory,
// which reads as zeros each time it is mapped. length must be positive and a
// multiple of PageSize (see AlignLength), and of HugePageSize for a HugeTLB
// region.
//
// The error matches fs.ErrInvalid for a bad length, protection or flag set,
// ErrUnaligned for a length that is not a whole number of pages, and
// errors.ErrUnsupported for a flag the platform cannot honour.
func NewAnon(length int, prot Prot, flags Flag) (*Region, error) {
	if err := validate(prot, flags, true); err != nil {
		return nil, err
	}
	if length <= 0 {
		return nil, invalidf("length %d is not positive", length)
	}
	if length%pageSize != 0 {
		return nil, fmt.Errorf("mmap: length %d is not a multiple of the page size %d: %w", length, pageSize, ErrUnaligned)
	}
	if flags&HugeTLB != 0 {
		if err := checkHugeTLBLength("", length); err != nil {
			return nil, err
		}
	}
	return &Region{name: anonName, length: length, prot: prot, cur: prot, flags: flags}, nil
}
