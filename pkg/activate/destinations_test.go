package activate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rules are the checks of the tests: two segments, emails and phones
// hashed at ingest, one secret in the environment.
var rules = Rules{Segments: []string{"cart_abandoners", "lapsed_buyers"}, Hashed: []string{"email", "phone"},
	Getenv: func(k string) string {
		if k == "HOOK_SECRET" {
			return "s3cret"
		}
		return ""
	}}

func TestParseDestinations(t *testing.T) {
	f, err := Parse("destinations.yaml", []byte(`destinations:
  - name: crm
    kind: webhook
    segments: [cart_abandoners]
    identifiers: [Email, phone, customer_id]
    clear_text: [customer_id]
    features: ["*"]
    url: https://hooks.example.com/in
    secret_env: HOOK_SECRET
  - name: ads
    kind: audience_file
    segments: [lapsed_buyers]
    identifiers: [email]
    directory: /tmp/audiences
    every: 15m
`), rules)
	if err != nil {
		t.Fatal(err)
	}
	crm, ads := f.Destinations[0], f.Destinations[1]
	if f.Group != "touchline-activate" || f.MaxAttempts != 12 || f.RetryBackoff.String() != "500ms" || f.RetryBackoffMax.String() != "30s" {
		t.Errorf("defaults: %+v", f)
	}
	if string(crm.Secret()) != "s3cret" || crm.Rate != 50 || crm.Timeout.String() != "10s" || crm.Identifiers[0] != "email" || crm.BatchSize != 1 || crm.BatchWait.String() != "1s" {
		t.Errorf("webhook: %+v", crm)
	}
	if ads.Every.String() != "15m0s" || !ads.Receives("lapsed_buyers") || ads.Receives("cart_abandoners") {
		t.Errorf("audience file: %+v", ads)
	}
}

func TestParseDestinationsErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown key", "destinations:\n  - name: a\n    kind: webhook\n    segmnts: [x]\n", `destinations.yaml:4: destinations.1.segmnts: unknown key`},
		{"kind", "destinations:\n  - name: a\n    kind: email\n    segments: [lapsed_buyers]\n", `destinations.yaml:3: destination "a": kind "email": want webhook, audience_file or kafka`},
		{"segment", "destinations:\n  - name: a\n    kind: audience_file\n    directory: /d\n    segments: [lapsed]\n", `destinations.yaml:5: destination "a": unknown segment "lapsed"`},
		{"no segments", "destinations:\n  - name: a\n    kind: audience_file\n    directory: /d\n", `destinations.yaml:2: destination "a": segments: want at least one`},
		{"secret", "destinations:\n  - name: a\n    kind: webhook\n    url: https://x.example\n    segments: [lapsed_buyers]\n    secret_env: NOPE\n",
			`destinations.yaml:6: destination "a": the environment variable NOPE of the signing secret is empty`},
		{"url", "destinations:\n  - name: a\n    kind: webhook\n    url: ftp://x\n    segments: [lapsed_buyers]\n    secret_env: HOOK_SECRET\n",
			`destinations.yaml:4: destination "a": url "ftp://x": want an http or https URL`},
		{"clear text", "destinations:\n  - name: a\n    kind: audience_file\n    directory: /d\n    segments: [lapsed_buyers]\n    clear_text: [email]\n",
			`destinations.yaml:6: destination "a": clear_text: email is hashed at ingest`},
		{"twice", "destinations:\n  - {name: a, kind: audience_file, directory: /d, segments: [lapsed_buyers]}\n  - {name: a, kind: audience_file, directory: /d, segments: [lapsed_buyers]}\n",
			`destinations.yaml:3: destination "a": defined twice`},
		{"name", "destinations:\n  - {name: A B, kind: audience_file, directory: /d, segments: [lapsed_buyers]}\n", `destinations.yaml:2: destination 1: name "A B"`},
		{"attempts", "max_attempts: 0\n", ""},
		{"attempts", "max_attempts: 101\n", `destinations.yaml:1: max_attempts: 101, want 1 to 100`},
		{"every", "destinations:\n  - {name: a, kind: audience_file, directory: /d, segments: [lapsed_buyers], every: 10ms}\n", `destinations.yaml:2: destination "a": every: 10ms, want at least 1s`},
		{"batch size", "destinations:\n  - {name: a, kind: webhook, url: 'https://x.example', secret_env: HOOK_SECRET, segments: [lapsed_buyers], batch_size: 501}\n",
			`destinations.yaml:2: destination "a": batch_size: 501, want 1 to 500`},
		{"batch wait", "destinations:\n  - name: a\n    kind: webhook\n    url: https://x.example\n    secret_env: HOOK_SECRET\n    segments: [lapsed_buyers]\n    batch_wait: 2m\n",
			`destinations.yaml:7: destination "a": batch_wait: 2m0s, want 10ms to 1m0s`},
		{"kafka topic", "destinations:\n  - name: a\n    kind: kafka\n    segments: [lapsed_buyers]\n    topic: 'a topic'\n",
			`destinations.yaml:5: destination "a": topic "a topic": want a Kafka topic name`},
		{"kafka no topic", "destinations:\n  - {name: a, kind: kafka, segments: [lapsed_buyers]}\n", `destinations.yaml:2: destination "a": topic "": want a Kafka topic name`},
		{"kafka topic twice", "destinations:\n  - {name: a, kind: kafka, segments: [lapsed_buyers], topic: t}\n  - {name: b, kind: kafka, segments: [lapsed_buyers], topic: t}\n",
			`destinations.yaml:3: destination "b": topic t is destination "a"'s already`},
	} {
		_, err := Parse("destinations.yaml", []byte(tc.file), rules)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	peppered := rules
	peppered.Peppered = true
	_, err := Parse("d.yaml", []byte("destinations:\n  - name: a\n    kind: audience_file\n    directory: /d\n    segments: [lapsed_buyers]\n    identifiers: [email]\n"), peppered)
	if err == nil || !strings.Contains(err.Error(), `d.yaml:6: destination "a": identifiers: email is hashed with identifiers.pepper`) {
		t.Errorf("a peppered email: %v", err)
	}
}

func TestKafkaDestinationTopics(t *testing.T) {
	path := filepath.Join(t.TempDir(), DestinationsFile)
	if topics, err := Topics(path); err != nil || topics != nil {
		t.Errorf("a missing file: %v, %v", topics, err)
	}
	// Topics reads the topics without the checks (the secret is unset).
	content := `destinations:
  - {name: a, kind: kafka, segments: [lapsed_buyers], topic: audiences.a}
  - {name: b, kind: kafka, segments: [cart_abandoners], topic: audiences.b, identifiers: [email]}
  - {name: c, kind: webhook, segments: [cart_abandoners], url: "https://h.example", secret_env: UNSET}
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if topics, err := Topics(path); err != nil || !slices.Equal(topics, []string{"audiences.a", "audiences.b"}) {
		t.Errorf("topics %v, %v", topics, err)
	}
	f, err := Parse(path, []byte(content[:strings.Index(content, "  - {name: c")]), rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CheckTopics("x.segments.changes", "audiences.b"); err == nil || !strings.Contains(err.Error(), `destinations.yaml:3: destination "b": topic audiences.b is one of touchline's own topics`) {
		t.Errorf("a kafka destination on an own topic: %v", err)
	}
	if err := f.CheckTopics("x.segments.changes"); err != nil {
		t.Error(err)
	}
}
