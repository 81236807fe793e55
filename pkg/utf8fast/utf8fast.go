// Package utf8fast checks strings for valid UTF-8 faster than unicode/utf8
// where most of them are short and ASCII, as the fields of events are: it
// reads eight bytes at a time from the first byte on, and leaves text
// beyond ASCII to unicode/utf8.
package utf8fast

import (
	"encoding/binary"
	"unicode/utf8"
)

// ValidString reports whether s is valid UTF-8, as utf8.ValidString does.
func ValidString(s string) bool {
	return IsASCII(s) || utf8.ValidString(s)
}

// IsASCII reports whether s holds only ASCII bytes.
func IsASCII(s string) bool {
	const highBits = 0x8080808080808080
	var seen uint64 // the bytes read, or-ed together eight lanes wide
	for ; len(s) >= 8; s = s[8:] {
		seen |= binary.LittleEndian.Uint64([]byte(s[:8]))
	}
	for i := 0; i < len(s); i++ {
		seen |= uint64(s[i])
	}
	return seen&highBits == 0
}
