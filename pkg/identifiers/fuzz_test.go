package identifiers

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// FuzzNormalize feeds arbitrary values of every kind through the
// normalisation in several regions. It must not panic; Check must refuse
// exactly what Normalize refuses, with the same reason; and a stored form
// must be its own normal form, so that a value read back (from the map,
// from a replay) and normalised again names the same person.
func FuzzNormalize(f *testing.F) {
	for _, v := range []string{
		"+44 (0)20 7946 0018", "0044 20 7946 0018", "06 1234 5678", "(11) 91234-5678",
		"415-555-0100 ext. 12", "+1 415 555 0100 x99", "+44 20 7946 0018;ext=123",
		"12", "+", "00", "0000", "+999 123", "tel:+1-415-555-0100", "+1 (415) 555-0100\xff",
		"  Jane.Doe@Example.COM ", "@example.com", "a@", "İ@example.com", "\u212a@example.com", "JOSE\u0301@Example.com", "\u0130\u0301@x.de",
		"anna@M\u00fcller.DE", "a@xn--mller-kva.de", "a@\uff45\uff58.com", "a@bad_name.\u00fc", "a@\u00fc..de.", "a@xn--zz.\u00fc", "\u200ba\u00ad@x.de \ufeff", "\u200b",
		"", "   ", "\xff\xfe", strings.Repeat("9", 300), strings.Repeat("+1", 100),
	} {
		for kind := range 3 {
			f.Add(uint8(kind), uint8(kind), v)
		}
	}
	regions := []string{"US", "GB", "IT", "DE", "BR", "JP", "IN", "FR"}
	kinds := []string{Phone, Email, "customer_id"}
	normalizers := make([]*Normalizer, len(regions))
	for i, r := range regions {
		cfg := DefaultConfig()
		cfg.Region, cfg.Hashed = r, nil
		n, err := New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		normalizers[i] = n
	}
	f.Fuzz(func(t *testing.T, region, kind uint8, v string) {
		n, typ := normalizers[int(region)%len(normalizers)], kinds[int(kind)%len(kinds)]
		in := touchpoint.AttrsOf(map[string]string{typ: v})
		ids, err := n.Normalize(in)
		if check := n.Check(in); fmt.Sprint(check) != fmt.Sprint(err) {
			t.Fatalf("%s %q: Check says %v, Normalize %v", typ, v, check, err)
		}
		if err != nil {
			return
		}
		stored := ids[0].Value
		if !utf8.ValidString(stored) || stored == "" {
			t.Fatalf("%s %q: stored as %q", typ, v, stored)
		}
		if typ == Phone && (stored[0] != '+' || strings.Trim(stored[1:], "0123456789") != "") {
			t.Fatalf("phone %q: stored as %q, not in E.164 form", v, stored)
		}
		for _, again := range normalizers { // the stored form does not depend on the region
			id, err := again.Identifier(typ, stored)
			if err != nil || id.Value != stored {
				t.Fatalf("%s %q: stored as %q, which normalises to %q, %v in %s", typ, v, stored, id.Value, err, again.cfg.Region)
			}
		}
	})
}
