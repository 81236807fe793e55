package activate

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// sha returns the hex SHA-256 of s, as ad platforms' customer lists want.
func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestExportedHashesAreThoseOfTheDocumentedNormalisation stores emails and
// phones of several countries as ingest does (the shipped identity rules,
// no pepper) and checks that the exported values are the SHA-256 of the
// normal forms written by hand: lower-cased, trimmed emails and E.164
// phones.
func TestExportedHashesAreThoseOfTheDocumentedNormalisation(t *testing.T) {
	ids, err := stitch.LoadRules(filepath.Join("..", "..", "pipelines", stitch.RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	norm, err := ids.Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	var hashed []string
	for _, typ := range ids.Types {
		if typ.Hash {
			hashed = append(hashed, typ.Name)
		}
	}
	exporter := NewExporter(hashed)
	d := Destination{Identifiers: []string{"email", "phone", "customer_id"}}
	for _, tc := range []struct{ typ, raw, normal string }{
		{"email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"},
		{"email", "MÜLLER@Beispiel.de", "müller@beispiel.de"},
		{"phone", "(415) 555-2671", "+14155552671"},       // US, the shipped default region
		{"phone", "+44 (0)20 7946 0958", "+442079460958"}, // UK: the trunk 0 goes
		{"phone", "+39 06 6982 1234", "+390669821234"},    // Italy: the leading 0 stays
		{"phone", "0049 30 901820", "+4930901820"},        // Germany, 00 as the international prefix
		{"phone", "+33 6 12 34 56 78", "+33612345678"},    // France, a mobile
		{"phone", "+81 3-1234-5678", "+81312345678"},      // Japan
		{"customer_id", " C-42 ", "C-42"},                 // not hashed at ingest: hashed on export
	} {
		stored, err := norm.Value(tc.typ, tc.raw)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.typ, tc.raw, err)
		}
		out := exporter.Export(d, map[string][]string{tc.typ: {stored}})
		if got, want := out[tc.typ+"_sha256"], sha(tc.normal); got != want {
			t.Errorf("%s %q: exported %q, want sha256(%q) = %s", tc.typ, tc.raw, got, tc.normal, want)
		}
	}
	clear := Destination{Identifiers: []string{"customer_id", "email"}, ClearText: []string{"customer_id"}}
	out := exporter.Export(clear, map[string][]string{"customer_id": {"C-42"}, "email": {sha("a@b.c")}, "phone": {sha("+14155552671")}})
	if len(out) != 2 || out["customer_id"] != "C-42" || out["email_sha256"] != sha("a@b.c") {
		t.Errorf("clear text customer_id, hashed email, phone not chosen: %v", out)
	}
	if fields := exporter.Fields(clear); len(fields) != 2 || fields[0] != "customer_id" || fields[1] != "email_sha256" {
		t.Errorf("fields %v", fields)
	}
}

func TestIdempotencyKeyAndPayload(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123e6, time.UTC)
	c := Change{Person: "p_1", Segment: "s", Entered: true, At: at, Features: map[string]string{"a": "1", "b": "2"}}
	k := IdempotencyKey("crm", c)
	if k != IdempotencyKey("crm", c) || len(k) != 64 {
		t.Fatalf("key %q is not stable", k)
	}
	for _, other := range []Change{
		{Person: "p_2", Segment: "s", Entered: true, At: at},
		{Person: "p_1", Segment: "t", Entered: true, At: at},
		{Person: "p_1", Segment: "s", Entered: false, At: at},
		{Person: "p_1", Segment: "s", Entered: true, At: at.Add(time.Millisecond)},
	} {
		if IdempotencyKey("crm", other) == k {
			t.Errorf("%+v has the key of %+v", other, c)
		}
	}
	if IdempotencyKey("ads", c) == k {
		t.Error("two destinations share a key")
	}
	p := payload(Destination{Name: "crm", Features: []string{"b", "missing"}}, c, map[string]string{"email_sha256": "x"})
	if p.IdempotencyKey != k || p.Change != "entered" || len(p.Features) != 1 || p.Features["b"] != "2" || p.Identifiers["email_sha256"] != "x" {
		t.Errorf("payload %+v", p)
	}
	if p := payload(Destination{Name: "crm", Features: []string{"*"}}, c, nil); len(p.Features) != 2 {
		t.Errorf("all features: %+v", p.Features)
	}
}
