//go:build amd64 || arm64

package identitymap

import "unsafe"

// prefetch asks the processor to bring the cache line at addr into its
// caches, and returns at once: unlike a load, the instruction does not wait
// for memory, so the caller's other work overlaps with the fetch.
//
//go:noescape
func prefetch(addr unsafe.Pointer)
