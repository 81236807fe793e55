package identifiers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestNormalize(t *testing.T) {
	n, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ, in, want string
	}{
		{"email", "  Jane.Doe@Example.COM ", sha("jane.doe@example.com")},
		{"phone", "+1 (415) 555-0100", sha("+14155550100")},
		{"phone", "415-555-0100", sha("+14155550100")},
		{"phone", "1 415 555 0100", sha("+14155550100")},
		{"phone", "0044 20 7946 0000", sha("+442079460000")},
		{"customer_id", " C-42 ", "C-42"},
		{"anonymous_id", "anon", "anon"},
	} {
		got, err := n.Value(tc.typ, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Value(%s, %q) = %q, %v; want %q", tc.typ, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ typ, in string }{
		{"email", "no-at-sign"}, {"email", "@example.com"}, {"phone", "12"}, {"device_id", "   "},
	} {
		if _, err := n.Value(tc.typ, tc.in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Value(%s, %q): %v, want ErrInvalid", tc.typ, tc.in, err)
		}
	}
}

func TestPepperAndSorting(t *testing.T) {
	n, _ := New(Config{Pepper: "s3cret", Hashed: []string{"Email"}, DefaultCountryCode: "44"})
	ids, err := n.Normalize(map[string]string{"Email": "a@b.co", "device_id": "d1", "phone": "020 7946 0000"})
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("a@b.co"))
	want := []Identifier{{"device_id", "d1"}, {"email", hex.EncodeToString(m.Sum(nil))}, {"phone", "+442079460000"}}
	if len(ids) != len(want) {
		t.Fatalf("got %v", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("ids[%d] = %v, want %v", i, ids[i], want[i])
		}
	}
	if _, err := New(Config{DefaultCountryCode: "x1"}); err == nil {
		t.Error("bad default_country_code accepted")
	}
}
