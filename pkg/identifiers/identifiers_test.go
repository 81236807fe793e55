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
	n, _ := New(Config{Pepper: "s3cret", Hashed: []string{"Email"}, CountryCode: "44",
		Kinds: map[string]string{"email": Email, "phone": Phone}})
	ids, err := n.Normalize(map[string]string{"Email": "a@b.co", "device_id": "d1", "phone": "020 7946 0000"})
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("a@b.co"))
	want := []Identifier{{Type: "device_id", Value: "d1"}, {Type: "email", Value: hex.EncodeToString(m.Sum(nil))},
		{Type: "phone", Value: "+442079460000"}}
	if len(ids) != len(want) {
		t.Fatalf("got %v", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("ids[%d] = %v, want %v", i, ids[i], want[i])
		}
	}
	if _, err := New(Config{CountryCode: "x1"}); err == nil {
		t.Error("bad calling code accepted")
	}
	if _, err := New(Config{CountryCode: "1", Kinds: map[string]string{"work_email": "mail"}}); err == nil {
		t.Error("unknown normalisation accepted")
	}
}

func TestBlocklist(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kinds["work_email"] = Email
	cfg.Blocked = map[string][]string{"any": {"Unknown", "0"}, "email": {" Test@Example.com"}}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ, in string
		blocked bool
		value   string
	}{
		{"email", "test@example.COM", true, sha("test@example.com")},
		{"email", "unknown", true, sha("unknown")}, // blocked before validation: not an invalid email
		{"customer_id", " UNKNOWN ", true, "UNKNOWN"},
		{"customer_id", "0", true, "0"},
		{"customer_id", "c-1", false, "c-1"},
		{"work_email", "Test@Example.com", false, "test@example.com"}, // the email list names email only
	} {
		id, err := n.Identifier(tc.typ, tc.in)
		if err != nil || id.Blocked != tc.blocked || id.Value != tc.value {
			t.Errorf("Identifier(%s, %q) = %+v, %v; want blocked %v, value %q", tc.typ, tc.in, id, err, tc.blocked, tc.value)
		}
	}
	cfg.Blocked = map[string][]string{"email": {"not-an-address"}}
	if _, err := New(cfg); err == nil {
		t.Error("a blocked email that is no address was accepted")
	}
}
