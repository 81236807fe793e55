package utf8fast

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// ValidString and IsASCII agree with unicode/utf8 on every length up to
// past two words, with a byte beyond ASCII (a lone one, the start or end
// of a character, an invalid sequence) at every position, and on random
// bytes.
func TestAgreesWithUnicodeUTF8(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := ValidString(s), utf8.ValidString(s); got != want {
			t.Errorf("ValidString(%q) = %v, want %v", s, got, want)
		}
		ascii := !strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf })
		if got := IsASCII(s); got != ascii {
			t.Errorf("IsASCII(%q) = %v, want %v", s, got, ascii)
		}
	}
	for n := range 20 {
		plain := strings.Repeat("a", n)
		check(plain)
		for i := range n {
			for _, odd := range []string{"\x80", "\xff", "é", "€", "\xed\xa0\x80", "\xc3", "\x7f"} {
				check(plain[:i] + odd + plain[i:])
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(4) != 0 {
				b[i] &= 0x7f
			}
		}
		check(string(b))
	}
}

// IsASCII reads its string in place.
func TestIsASCIIDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("https://shop.example.com/", 4)
	if n := testing.AllocsPerRun(100, func() {
		if !IsASCII(s) {
			t.Fatal("not ASCII")
		}
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// fields are strings as a touchpoint carries them: ids, types, campaign
// names, URLs, property keys and values, a user agent.
var fields = []string{"m-123456", "add_to_cart", "google", "cpc", "winter", "https://www.google.com/",
	"https://shop.example.com/p/12345?utm_source=google&gclid=abc", "anonymous_id", "anon-123", "customer_id", "c-5",
	"event_name", "Product Added", "user_agent",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
	"ip", "203.0.113.0", "source", "bench", "gclid", "abc", "product_id", "p-12", "price", "19.99", "quantity", "1", "category", "shoes"}

var valid bool

// BenchmarkValidString checks the fields of one touchpoint with
// ValidString (validator=utf8fast) and utf8.ValidString (validator=utf8).
func BenchmarkValidString(b *testing.B) {
	for _, v := range []struct {
		name  string
		valid func(string) bool
	}{{"utf8", utf8.ValidString}, {"utf8fast", ValidString}} {
		b.Run("validator="+v.name, func(b *testing.B) {
			for b.Loop() {
				for _, s := range fields {
					valid = v.valid(s)
				}
			}
		})
	}
}
