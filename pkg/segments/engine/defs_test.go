package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

func TestShippedDefinitionsLoad(t *testing.T) {
	d, err := LoadDefinitions("../../../pipelines/segments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cart_abandoners", "high_value_customers", "lapsed_buyers", "engaged_email_readers", "new_leads", "rfm_champions", "rfm_at_risk"}
	if strings.Join(d.Names(), ",") != strings.Join(want, ",") {
		t.Errorf("segments %v, want %v", d.Names(), want)
	}
	if d.maxWindow != 30*24*time.Hour || d.AllowedLateness != 5*time.Minute {
		t.Errorf("longest window %s, lateness %s", d.maxWindow, d.AllowedLateness)
	}
	if _, err := NewProcessor(d, nil); err != nil {
		t.Fatal(err)
	}
}

func TestBadDefinitionsAreRefusedWithFileLineAndReason(t *testing.T) {
	const head = "segments:\n  - name: s\n"
	for _, c := range []struct {
		name, yaml string
		line       int
		reason     string
	}{
		{"unknown feature", head + "    when: carts > 0\n", 3, "undeclared reference to 'carts'"},
		{"bad CEL", head + "    when: count(\"x\") >\n", 3, "Syntax error"},
		{"not a bool", head + "    when: count(\"x\")\n", 3, "want bool"},
		{"type error", head + "    when: count(\"x\") > \"a\"\n", 3, "no matching overload"},
		{"bad window", head + "    when: count(\"x\", \"an hour\") > 0\n", 3, `window "an hour"`},
		{"window out of range", head + "    when: count(\"x\", \"213504d\") > 0\n", 3, `window: duration "213504d" is out of range`},
		{"lateness out of range", "allowed_lateness: 213504d\n" + head + "    when: true\n", 1, `duration "213504d" is out of range`},
		{"dynamic argument", head + "    when: count(last(\"x\", \"channel\")) > 0\n", 3, "want a literal"},
		{"unknown key", head + "    wen: true\n", 3, `unknown key "wen"`},
		{"no condition", head + "    description: x\n", 2, "when is missing"},
		{"duplicate", head + "    when: true\n  - name: s\n    when: true\n", 4, "duplicate name"},
		{"bad name", "segments:\n  - name: Cart-Abandoners\n    when: true\n", 2, "lower-case"},
		{"bad feature", "features:\n  n: count(\"x\", \"0s\")\n" + head + "    when: n > 0\n", 2, "positive duration"},
		{"bad rfm", "rfm:\n  frequency: [3, 2, 1, 0]\n" + head + "    when: true\n", 2, "ascending"},
		{"bad lateness", "allowed_lateness: soon\n" + head + "    when: true\n", 1, "allowed_lateness"},
		{"bad event cap", "max_kept_events: 0\n" + head + "    when: true\n", 1, "max_kept_events"},
		{"block scalar", head + "    when: |\n      count(\"x\") > 0 &&\n      nope\n", 5, "undeclared reference to 'nope'"},
	} {
		t.Run(c.name, func(t *testing.T) { wantRefused(t, c.yaml, c.line, c.reason) })
	}
}

// wantRefused parses definitions that must be refused at line for reason.
func wantRefused(t *testing.T, yaml string, line int, reason string) {
	t.Helper()
	_, err := ParseDefinitions("segments.yaml", []byte(yaml))
	var ce *pipefile.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *pipefile.ConfigError", err)
	}
	if ce.File != "segments.yaml" || ce.Line != line || !strings.Contains(ce.Reason, reason) {
		t.Errorf("got %q (line %d), want line %d with %q", err, ce.Line, line, reason)
	}
}

// TestParseDefinitionsReportsEveryError: every problem of the file comes
// out at once, each at its line; a segment that uses a broken feature is
// not reported again for it.
func TestParseDefinitionsReportsEveryError(t *testing.T) {
	src := "allowed_lateness: soon\n" +
		"colour: red\n" +
		"features:\n" +
		"  carts: count(\"add_to_cart\", \"1 hour\")\n" +
		"  buys: count(\"purchase\")\n" +
		"segments:\n" +
		"  - name: Carts\n" +
		"    when: carts > 0\n" +
		"  - name: abandoners\n" +
		"    when: carts > 0 && buys == 0\n" +
		"  - name: buyers\n" +
		"    when: buys > 0\n" +
		"    colour: red\n"
	_, err := ParseDefinitions("s.yaml", []byte(src))
	want := []string{
		`s.yaml:1: allowed_lateness: duration "soon": want e.g. 30d, 2w, 36h or 90m`,
		`s.yaml:2: unknown key "colour": want allowed_lateness, max_kept_events, max_cost, rfm, features or segments`,
		`s.yaml:4: feature carts: count: window "1 hour": want a positive duration such as 1h or 30d, or lifetime (column 6 of the expression)`,
		`s.yaml:7: segment "Carts": want a name of lower-case letters, digits and _`,
		`s.yaml:13: segment "buyers": unknown key "colour": want name, description or when`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}
