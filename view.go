// This file holds View, typed access to the records of a region in place.

package mmap

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"
)

// View returns the n values of type T at byte offset off of a mapped region,
// as a slice over the region's memory itself: writing to it writes the
// region. The slice is valid only until Unmap. Inside a reservation, the
// memory of a region never moves and slices from Bytes and View stay valid
// across Resize and Grow for the part that remains mapped; without a
// reservation, Resize and Grow may move it. Using a slice that is no longer
// valid crashes the program or, worse, reads or writes whatever is mapped
// there next. Access to it is subject to the region's protection and to the
// file's end, as for Bytes, and is the caller's to synchronize.
//
// T must hold no Go pointers, since the garbage collector does not see
// mapped memory: pointers, strings, slices, maps, interfaces, channels,
// functions, unsafe.Pointer, and arrays and structs holding any of them
// are refused. Values are read in the machine's byte order and layout.
//
// View returns ErrNotMapped if the region is not mapped; an error matching
// fs.ErrInvalid for a T holding pointers, a negative off or n, or values
// that do not lie inside the region; and ErrUnaligned (which matches
// fs.ErrInvalid too) if off is not a multiple of T's alignment. A region
// holds no lock for the slice: View is safe to call concurrently, and what
// is done with the slice afterwards is the caller's business.
func View[T any](r *Region, off, n int) ([]T, error) {
	if r == nil {
		return nil, errNilRegion
	}
	t := reflect.TypeFor[T]()
	if err := checkViewType(t); err != nil {
		return nil, err
	}
	size, align := int(t.Size()), t.Align()
	if off < 0 || n < 0 {
		return nil, invalidf("View of %d values of %v at offset %d: negative", n, t, off)
	}
	if size > 0 && n > math.MaxInt/size {
		return nil, invalidf("View of %d values of %v overflows", n, t)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.mapped {
		return nil, r.notMappedErr()
	}
	if off > r.length || n*size > r.length-off {
		return nil, invalidf("View of %d values of %v at offset %d outside a region of %d bytes", n, t, off, r.length)
	}
	// The region starts on a page boundary, a multiple of every alignment.
	if off%align != 0 {
		return nil, fmt.Errorf("mmap: View of %v at offset %d, not a multiple of its alignment %d: %w", t, off, align, ErrUnaligned)
	}
	if n == 0 || size == 0 {
		// Values of no size take no memory: an empty region (whose address
		// is nil) holds any number of them, and none can fault.
		return make([]T, n), nil
	}
	return unsafe.Slice((*T)(unsafe.Add(r.addr, off)), n), nil
}

// viewTypes caches the result of checkViewType: reflect.Type to error.
var viewTypes sync.Map

// checkViewType returns an error matching fs.ErrInvalid if values of t hold
// Go pointers.
func checkViewType(t reflect.Type) error {
	if v, ok := viewTypes.Load(t); ok {
		err, _ := v.(error)
		return err
	}
	var err error
	if where := pointerIn(t, t.String()); where != "" {
		err = invalidf("View of %v: %s holds Go pointers", t, where)
	}
	viewTypes.Store(t, err)
	return err
}

// pointerIn returns a description of where values of t, named path, hold
// Go pointers, or "" if they hold none.
func pointerIn(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	case reflect.Array:
		return pointerIn(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if where := pointerIn(f.Type, path+"."+f.Name); where != "" {
				return where
			}
		}
		return ""
	}
	return fmt.Sprintf("%s (a %v)", path, t.Kind())
}
