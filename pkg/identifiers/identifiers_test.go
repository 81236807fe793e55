package identifiers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/touchpoint"
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
		// One "é" and an "e" with a combining acute accent are one address.
		{"email", "Jos\u00e9@example.com", sha("jos\u00e9@example.com")},
		{"email", "JOSE\u0301@Example.com", sha("jos\u00e9@example.com")},
		// A domain in Unicode is the one its ASCII (punycode) form names.
		{"email", "anna@M\u00fcller.de", sha("anna@xn--mller-kva.de")},
		{"email", "Anna@MU\u0308LLER.de", sha("anna@xn--mller-kva.de")},
		{"email", "anna@xn--mller-kva.de", sha("anna@xn--mller-kva.de")},
		{"email", "Jos\u00e9@stra\u00dfe.de", sha("jos\u00e9@xn--strae-oqa.de")},
		{"email", "anna@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", sha("anna@example.com")},
		// An invisible character copied with the address (a zero-width
		// space, a soft hyphen) and an ideographic full stop.
		{"email", "anna@example.com\u200b", sha("anna@example.com")},
		{"email", "anna@exam\u00adple\u3002com", sha("anna@example.com")},
		{"email", "\ufeffan\u00adna\u200b@example.com \u2060", sha("anna@example.com")},
		{"email", "jos\u00e9\u200b@example.com", sha("jos\u00e9@example.com")},
		// A domain IDNA refuses stays as it was.
		{"email", "anna@bad_name.m\u00fcller.de", sha("anna@bad_name.m\u00fcller.de")},
		{"email", "anna@-m\u00fcller.de", sha("anna@-m\u00fcller.de")},
		{"phone", "+1 (415) 555-0100", sha("+14155550100")},
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
	n, _ := New(Config{Pepper: "s3cret", Hashed: []string{"Email"}, Region: "GB",
		Kinds: map[string]string{"email": Email, "phone": Phone}})
	ids, err := n.Normalize(touchpoint.AttrsOf(map[string]string{"Email": "a@b.co", "device_id": "d1", "phone": "020 7946 0000"}))
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
	if _, err := New(Config{Region: "XX"}); err == nil {
		t.Error("a region without a numbering plan was accepted")
	}
	if _, err := New(Config{Region: "US", Kinds: map[string]string{"work_email": "mail"}}); err == nil {
		t.Error("unknown normalisation accepted")
	}
}

func TestBlocklist(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kinds["work_email"] = Email
	cfg.Blocked = map[string][]string{"any": {"Unknown", "0", "kkkkkkkkk"}, "email": {" Test@Example.com"}}
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
		// The Kelvin sign (3 bytes) lower-cases to "k": values longer in
		// bytes than every "any" entry still match them.
		{"customer_id", "UN\u212aNOWN", true, "UN\u212aNOWN"},
		{"customer_id", strings.Repeat("\u212a", 9), true, strings.Repeat("\u212a", 9)},
		{"customer_id", strings.Repeat("\u212a", 10), false, strings.Repeat("\u212a", 10)},
		{"customer_id", " KKKKKKKKK ", true, "KKKKKKKKK"},
		{"customer_id", "KKKKKKKKKK", false, "KKKKKKKKKK"},
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

// TestPhoneNumbers checks E.164 forms worked out by hand from each
// country's numbering plan: the national trunk prefix (0 in most of them,
// 1 in North America) goes, except in Italy, where the leading 0 of a fixed
// line is part of the number; "(0)" after a calling code is a trunk prefix
// written out of habit; 00 is the international prefix; extensions are
// not part of the number.
func TestPhoneNumbers(t *testing.T) {
	for _, c := range []struct {
		region, in, want string
	}{
		// United Kingdom: London 020, mobiles 07.
		{"US", "+44 (0)20 7946 0018", "+442079460018"},
		{"US", "+44 20 7946 0018", "+442079460018"},
		{"GB", "020 7946 0018", "+442079460018"},
		{"US", "0044 20 7946 0018", "+442079460018"},
		{"GB", "07700 900123", "+447700900123"},
		// Italy: the 0 of Rome's 06 stays; mobiles start with 3.
		{"IT", "06 1234 5678", "+390612345678"},
		{"US", "+39 06 1234 5678", "+390612345678"},
		{"DE", "0039 06 1234 5678", "+390612345678"},
		{"IT", "312 345 6789", "+393123456789"},
		// Germany: Berlin 030, mobiles 015x.
		{"DE", "030 901820", "+4930901820"},
		{"US", "+49 (0)30 901820", "+4930901820"},
		{"DE", "0151 12345678", "+4915112345678"},
		// France: ten digits with the trunk 0.
		{"FR", "01 42 68 53 00", "+33142685300"},
		{"US", "+33 (0)6 12 34 56 78", "+33612345678"},
		// United States and Canada share +1; the trunk 1 goes.
		{"US", "(415) 555-0100", "+14155550100"},
		{"US", "1-415-555-0100", "+14155550100"},
		{"US", "415.555.0100", "+14155550100"},
		{"CA", "(416) 555-0199", "+14165550199"},
		{"US", "416 555 0199", "+14165550199"},
		// Extensions are dropped.
		{"US", "415-555-0100 ext. 12", "+14155550100"},
		{"US", "+1 415 555 0100 x99", "+14155550100"},
		{"US", "+44 20 7946 0018;ext=123", "+442079460018"},
		// India: trunk 0, ten-digit mobiles, Mumbai 022.
		{"IN", "098765 43210", "+919876543210"},
		{"US", "+91 98765 43210", "+919876543210"},
		{"IN", "022 2345 6789", "+912223456789"},
		// Brazil: São Paulo 11, mobiles with the ninth digit.
		{"BR", "(11) 91234-5678", "+5511912345678"},
		{"US", "+55 11 91234 5678", "+5511912345678"},
		// Australia: Sydney (02), mobiles 04.
		{"AU", "(02) 9876 5432", "+61298765432"},
		{"US", "+61 (0)2 9876 5432", "+61298765432"},
		{"AU", "0412 345 678", "+61412345678"},
		// Japan: Tokyo 03, mobiles 090.
		{"JP", "03-1234-5678", "+81312345678"},
		{"JP", "090-1234-5678", "+819012345678"},
		{"US", "+81 (0)90 1234 5678", "+819012345678"},
		// A trunk prefix written twice: one reading drops one 0 and leaves
		// +49030901820, whose reading drops the other. Every form of a
		// number gets the form its E.164 form reads as.
		{"DE", "+49 0030 901820", "+4930901820"},
		{"US", "+49030901820", "+4930901820"},
		{"IN", "0(000000000", "+9100000000"},
		{"US", "+91000000000", "+9100000000"},
	} {
		cfg := DefaultConfig()
		cfg.Region = c.region
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		id, err := n.Identifier(Phone, c.in)
		if err != nil || id.Value != sha(c.want) {
			norm, _ := n.normalize(Phone, c.in)
			t.Errorf("%s %q: %q (hashed %q), %v; want %q", c.region, c.in, norm, id.Value, err, c.want)
		}
	}
}

func TestPhoneRereadsAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Region = "DE"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.phoneWithin("+49 0030 901820", 0); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "reads as itself") {
		t.Errorf("a form that needs a second reading, with none left: %v", err)
	}
	if got, err := n.phoneWithin("+4930901820", 0); got != "+4930901820" || err != nil {
		t.Errorf("an E.164 form that reads as itself, with no second reading left: %q, %v", got, err)
	}
}

func TestInvalidPhoneNumbersAreRefusedWithTheReason(t *testing.T) {
	n, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, reason string }{
		{"12", "too short"},
		{"+1 415 555 01", "too short for a number of US (+1)"},
		{"+44 20 7946 0018 0018 0018", "too long"},
		{"+999 1234 5678", "unknown country calling code"},
		{"call me", "not a phone number"},
		{"555-0100", "local number of US (+1) without its area code"},
	} {
		_, err := n.Value(Phone, c.in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%q: %v, want ErrInvalid saying %q", c.in, err, c.reason)
		}
	}
}

// BenchmarkPhone measures reading a phone number written in a national
// form with punctuation by the numbering plans, without the cache.
func BenchmarkPhone(b *testing.B) {
	n, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := n.parsePhone("+1 (415) 555-0100"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPhoneRepeated measures a number seen before: the cache's hit.
func BenchmarkPhoneRepeated(b *testing.B) {
	n, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := n.normalize(Phone, "+1 (415) 555-0100"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPhoneCacheIsBounded(t *testing.T) {
	c := newPhoneCache()
	for i := 0; i < 3*phoneCacheSize; i++ {
		c.put(fmt.Sprint(i), phoneResult{e164: fmt.Sprint("+", i)})
	}
	if len(c.cur)+len(c.prev) > 2*phoneCacheSize {
		t.Errorf("%d values cached, want at most %d", len(c.cur)+len(c.prev), 2*phoneCacheSize)
	}
	// The newest are there; the oldest are gone; a long value is not kept.
	if r, ok := c.get(fmt.Sprint(3*phoneCacheSize - 1)); !ok || r.e164 != fmt.Sprint("+", 3*phoneCacheSize-1) {
		t.Errorf("the newest value: %+v, %v", r, ok)
	}
	if _, ok := c.get("0"); ok {
		t.Error("the oldest value is still cached")
	}
	long := strings.Repeat("1", phoneCacheKey+1)
	c.put(long, phoneResult{})
	if _, ok := c.get(long); ok {
		t.Error("a value longer than phoneCacheKey was cached")
	}
	// A refused value is cached with its reason.
	n, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := n.Value(Phone, "12"); !errors.Is(err, ErrInvalid) {
			t.Errorf("a refused number, cached: %v", err)
		}
	}
}

// Check refuses what Normalize refuses, with the same error, and accepts
// the rest (a blocked "any" value is not validated) without building,
// hashing or sorting anything.
func TestCheckRefusesAsNormalizeDoes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Blocked = map[string][]string{"any": {"unknown"}}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []map[string]string{
		{"email": "Jane@Example.com", "anonymous_id": "a1", "customer_id": " c-42 "},
		{"phone": "+1 (415) 555-0100"},
		{"email": "unknown"},
		{"email": "no-at-sign"},
		{"phone": "12"},
		{"device_id": "  "},
		{"anonymous_id": "a\xff"},
		{"anonymous\xff": "a"},
	} {
		_, want := n.Normalize(touchpoint.AttrsOf(in))
		got := n.Check(touchpoint.AttrsOf(in))
		if fmt.Sprint(got) != fmt.Sprint(want) || errors.Is(got, ErrInvalid) != errors.Is(want, ErrInvalid) {
			t.Errorf("Check(%q) = %v, Normalize's error %v", in, got, want)
		}
	}
	valid := touchpoint.AttrsOf(map[string]string{"email": "jane@example.com", "anonymous_id": "a1", "customer_id": "c-42"})
	if allocs := testing.AllocsPerRun(100, func() {
		if err := n.Check(valid); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("checking valid identifiers took %v allocations, want 0", allocs)
	}
}

// Normalize sorts by type, then value, without allocating for the sort.
func TestNormalizeSortsWithoutAllocating(t *testing.T) {
	n, err := New(Config{Region: "US"})
	if err != nil {
		t.Fatal(err)
	}
	in := touchpoint.AttrsOf(map[string]string{"z": "1", "customer_id": "c", "anonymous_id": "b", "device_id": "d"})
	ids, err := n.Normalize(in)
	if err != nil || fmt.Sprint(ids) != "[{anonymous_id b false} {customer_id c false} {device_id d false} {z 1 false}]" {
		t.Fatalf("got %v, %v", ids, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = n.Normalize(in) }); allocs != 1 {
		t.Errorf("normalising took %v allocations, want 1 (the result)", allocs)
	}
}

// BenchmarkCheck measures the collector's check of a touchpoint's
// identifiers (an anonymous id and a customer id, every fourth one an
// email too) under the any and email entries of the shipped blocklist.
func BenchmarkCheck(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Blocked = map[string][]string{
		"any":   {"-", "0", "n/a", "nil", "none", "null", "test", "undefined", "unknown"},
		"email": {"no-reply@example.com", "noreply@example.com", "test@example.com", "test@test.com"},
	}
	n, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sets := []touchpoint.Attrs{
		touchpoint.AttrsOf(map[string]string{"anonymous_id": "anon-3", "customer_id": "c-3"}),
		touchpoint.AttrsOf(map[string]string{"anonymous_id": "anon-4", "customer_id": "c-4"}),
		touchpoint.AttrsOf(map[string]string{"anonymous_id": "anon-5"}),
		touchpoint.AttrsOf(map[string]string{"anonymous_id": "anon-6", "customer_id": "c-6", "email": "Jane.Doe@Example.com"}),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := n.Check(sets[i%len(sets)]); err != nil {
			b.Fatal(err)
		}
	}
}
