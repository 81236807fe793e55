package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestIdentifierFormsStayOnePerson publishes, from twelve devices, one London
// number written three ways (with the "(0)" trunk prefix, without it, with
// an extension), one Rome number written nationally (default region IT)
// and internationally, one Berlin number written internationally with and
// without a doubled trunk prefix ("+49 0030", which one reading turns into
// +49030901820), one email address with its "é" written as one character
// and as an "e" and a combining accent, and one with its domain written in
// Unicode and in IDNA's ASCII form and once with invisible characters
// copied along, to ingest and the resolver as processes: every event is
// stored with the person of its identifier's normal form, worked out by
// hand, and the resolver ends with five persons, not twelve.
func TestIdentifierFormsStayOnePerson(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The shipped rules with Italy as the default region.
	pipelines := segmentsPipelines(t, "segments:\n  - name: s\n    when: true\n")
	rules := filepath.Join(pipelines, "identity.yaml")
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte(strings.Replace(string(b), "phone_default_region: US", "phone_default_region: IT", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, conn, cfgPath := setup(ctx, t, 2, func(c *config.Config) { c.Pipelines = pipelines })
	log := logPath(t)
	startIngest(t, cfgPath, log)
	startResolver(t, cfgPath, log)
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	events := []struct{ id, device, typ, value string }{
		{"gb-1", "dev-1", "phone", "+44 (0)20 7946 0018"},
		{"gb-2", "dev-2", "phone", "+44 20 7946 0018"},
		{"gb-3", "dev-3", "phone", "0044 20 7946 0018 ext. 7"},
		{"it-1", "dev-4", "phone", "06 1234 5678"},
		{"it-2", "dev-5", "phone", "+39 06 1234 5678"},
		{"de-1", "dev-6", "phone", "+49 30 901820"},
		{"de-2", "dev-7", "phone", "+49 0030 901820"},
		{"em-1", "dev-8", "email", "Jos\u00e9@example.com"},
		{"em-2", "dev-9", "email", "JOSE\u0301@Example.com"},
		{"idn-1", "dev-10", "email", "Anna@M\u00fcller.de"},
		{"idn-2", "dev-11", "email", "anna@xn--mller-kva.de"},
		{"idn-3", "dev-12", "email", "\ufeffan\u00adna\u200b@m\u00fcller.de"},
	}
	for i, e := range events {
		if err := p.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: e.id, EventType: "page_view", EventTime: t0.Add(time.Duration(i) * time.Minute),
			Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": e.device, e.typ: e.value})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The stored person is the singleton id of the event's best identifier,
	// the phone or the email: SHA-256 of its normal form (no pepper in the
	// tests).
	person := func(typ, normal string) string {
		sum := sha256.Sum256([]byte(normal))
		return stitch.SingletonID(identifiers.Identifier{Type: typ, Value: hex.EncodeToString(sum[:])})
	}
	london, rome, berlin := person("phone", "+442079460018"), person("phone", "+390612345678"), person("phone", "+4930901820")
	jose, anna := person("email", "jos\u00e9@example.com"), person("email", "anna@xn--mller-kva.de")
	want := map[string]string{"gb-1": london, "gb-2": london, "gb-3": london, "it-1": rome, "it-2": rome, "de-1": berlin, "de-2": berlin,
		"em-1": jose, "em-2": jose, "idn-1": anna, "idn-2": anna, "idn-3": anna}
	for {
		got := map[string]string{}
		rows, err := conn.Query(ctx, "SELECT event_id, person_id FROM touchpoints FINAL")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, person string
			if err := rows.Scan(&id, &person); err != nil {
				t.Fatal(err)
			}
			got[id] = person
		}
		rows.Close()
		if len(got) == len(want) {
			for id, w := range want {
				if got[id] != w {
					t.Errorf("%s stored with person %s, want %s", id, got[id], w)
				}
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d events stored", len(got), len(want))
		case <-time.After(300 * time.Millisecond):
		}
	}
	// The resolver knows three phones, two emails and the twelve devices,
	// in five persons.
	for {
		var persons, phones, emails uint64
		if err := conn.QueryRow(ctx, `SELECT uniqExact(person_id), uniqExactIf(identifier_value, identifier_type = 'phone'),
    uniqExactIf(identifier_value, identifier_type = 'email')
FROM identity_map FINAL`).Scan(&persons, &phones, &emails); err != nil {
			t.Fatal(err)
		}
		if persons == 5 && phones == 3 && emails == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("identity_map: %d persons, %d phones and %d emails, want 5, 3 and 2", persons, phones, emails)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
