//go:build !amd64 && !arm64

package identitymap

import "unsafe"

// prefetch does nothing on processors without a prefetch instruction here
// (see prefetch_asm.go).
func prefetch(unsafe.Pointer) {}
