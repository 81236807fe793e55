package stitch

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

func TestShippedRulesAreTheDefaults(t *testing.T) {
	r, err := LoadRules(filepath.Join("..", "..", "pipelines", RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRules()
	if !reflect.DeepEqual(r.Types, want.Types) || r.PhoneRegion != want.PhoneRegion {
		t.Errorf("pipelines/%s: types %+v region %s, want the defaults %+v %s", RulesFile, r.Types, r.PhoneRegion, want.Types, want.PhoneRegion)
	}
	for typ, values := range want.Blocklist {
		got := append([]string(nil), r.Blocklist[typ]...)
		w := append([]string(nil), values...)
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("blocklist %s: %v, want %v", typ, got, w)
		}
	}
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules("i.yaml", []byte(`
types:
  - name: loyalty_id
    max_per_person: 2
  - {name: email, normalize: email, hash: true}
  - {name: work_phone, normalize: phone}
phone_default_region: GB
blocklist:
  work_phone: ["07700 900000"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rank("loyalty_id") != 0 || r.Rank("email") != 1 || r.Rank("customer_id") != 3 || r.Limit("loyalty_id") != 2 || r.Limit("customer_id") != 0 {
		t.Errorf("ranks or limits wrong: %+v", r.Types)
	}
	n, err := r.Normalizer("")
	if err != nil {
		t.Fatal(err)
	}
	id, err := n.Identifier("work_phone", "07700 900000")
	if err != nil || id.Value != "+447700900000" || !id.Blocked {
		t.Errorf("work_phone: %+v, %v; want +447700900000, blocked (GB region, unhashed)", id, err)
	}
	ids := []identifiers.Identifier{{Type: "anonymous_id", Value: "a"}, {Type: "email", Value: "e", Blocked: true}, {Type: "loyalty_id", Value: "l"}}
	if got, want := r.PersonID(ids), SingletonID(ids[2]); got != want {
		t.Errorf("PersonID = %s, want the loyalty_id's %s", got, want)
	}
	if got := r.PersonID(ids[1:2]); got != "" {
		t.Errorf("PersonID of blocked identifiers only = %q, want empty", got)
	}
}

func TestParseRulesErrorsNameFileAndLine(t *testing.T) {
	for in, want := range map[string]string{
		"types:\n  - name: email\n    normalize: lower\n":                    "i.yaml:3: normalize \"lower\"",
		"types:\n  - name: Email\n":                                          "i.yaml:2: type name \"Email\"",
		"types:\n  - name: a\n  - name: a\n":                                 "i.yaml:3: type \"a\" listed twice (first on line 2)",
		"types:\n  - name: a\n    max_per_person: -1\n":                      "i.yaml:3: max_per_person",
		"types:\n  - name: a\n    limit: 1\n":                                "i.yaml:3: unknown key \"limit\"",
		"types: []\n":                                                        "i.yaml:1: types: want a list",
		"phone_default_region: Atlantis\n":                                   "i.yaml:1: phone_default_region \"Atlantis\"",
		"phone_default_region: XX\n":                                         "i.yaml:1: phone_default_region \"XX\"",
		"phone_default_region: \"+999\"\n":                                   "i.yaml:1: phone_default_region \"+999\"",
		"phone_default_region: \"+0\"\n":                                     "i.yaml:1: phone_default_region \"+0\"",
		"blocklist:\n  fax: [x]\n":                                           "i.yaml:2: blocklist names type \"fax\"",
		"blocklist:\n  any: x\n":                                             "i.yaml:2: blocklist any: want a list",
		"blocklist:\n  phone:\n    - \"+15555555555\"\n    - \"555-0100\"\n": "i.yaml:4: blocklist phone \"555-0100\": invalid identifier: phone is a local number of US (+1) without its area code",
		"blocklist:\n  email: [nobody]\n":                                    "i.yaml:2: blocklist email \"nobody\": invalid identifier: email is not an email address",
		"rules: {}\n":                                                        "i.yaml:1: unknown key \"rules\"",
		"types:\n  - name: email\n    hash: maybe\n":                         "i.yaml:3: hash: want true or false",
	} {
		_, err := ParseRules("i.yaml", []byte(in))
		var ce *pipefile.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a *pipefile.ConfigError containing %q", in, err, want)
		}
	}
}

// TestPhoneDefaultRegion reads national numbers by the default region's
// numbering plan, given as a region or as a calling code (its main
// region), and agrees with the same numbers written internationally.
func TestPhoneDefaultRegion(t *testing.T) {
	for _, c := range []struct{ region, national, international, want string }{
		{"IT", "06 1234 5678", "+39 06 1234 5678", "+390612345678"},
		{"+39", "06 1234 5678", "+39 06 1234 5678", "+390612345678"},
		{"gb", "020 7946 0018", "+44 (0)20 7946 0018", "+442079460018"},
		{"+44", "020 7946 0018", "+44 20 7946 0018", "+442079460018"},
		{"+1", "(415) 555-0100", "+1 415 555 0100", "+14155550100"},
		{"DE", "030 901820", "+49 30 901820", "+4930901820"},
	} {
		r, err := ParseRules("i.yaml", []byte("types:\n  - {name: phone, normalize: phone}\nphone_default_region: \""+c.region+"\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.Normalizer("")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []string{c.national, c.international} {
			if got, err := n.Value("phone", in); err != nil || got != c.want {
				t.Errorf("region %s, %q: %q, %v; want %q", c.region, in, got, err, c.want)
			}
		}
	}
}

// TestParseRulesReportsEveryError: every problem of the file comes out at
// once, each at its line, down to each bad blocklist value.
func TestParseRulesReportsEveryError(t *testing.T) {
	_, err := ParseRules("i.yaml", []byte("types:\n  - name: email\n    normalize: lower\n  - name: Phone\nphone_default_region: XX\nrules: {}\n"))
	want := "i.yaml:3: normalize \"lower\": want email or phone\n" +
		"i.yaml:4: type name \"Phone\": want lower-case letters, digits and _\n" +
		"i.yaml:5: phone_default_region \"XX\": want a region code with a numbering plan, such as US, GB or IT, or a country calling code such as +44\n" +
		"i.yaml:6: unknown key \"rules\" (want types, phone_default_region or blocklist)"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	_, err = ParseRules("i.yaml", []byte("blocklist:\n  email: [nobody, nothing]\n  fax: [x]\n"))
	want = "i.yaml:2: blocklist email \"nobody\": invalid identifier: email is not an email address\n" +
		"i.yaml:2: blocklist email \"nothing\": invalid identifier: email is not an email address\n" +
		"i.yaml:3: blocklist names type \"fax\", which is not in types"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

// TestSingletonIDIsStable pins the person id of an identifier on its own:
// ids already stored in ClickHouse and in the identity map must not change.
// Each is "p_" and the first 20 hex digits of the SHA-256 of "type:value"
// (sha256sum of "email:jane@example.com"; Python's hashlib of
// "anonymous_id:" and 300 NUL bytes, a value longer than SingletonID's stack
// buffer). It takes one allocation, the returned string
// (two before, for a value past Go's 32-byte buffer for concatenations).
func TestSingletonIDIsStable(t *testing.T) {
	for _, c := range []struct {
		id   identifiers.Identifier
		want string
	}{
		{identifiers.Identifier{Type: "email", Value: "jane@example.com"}, "p_6a76787ba71172f58177"},
		{identifiers.Identifier{Type: "anonymous_id", Value: string(make([]byte, 300))}, "p_7e478fb23d68472bb849"},
	} {
		if got := SingletonID(c.id); got != c.want {
			t.Errorf("SingletonID(%s) = %s, want %s", c.id.Type, got, c.want)
		}
	}
	// a hashed email, as ingest stores it with hashing configured
	id := identifiers.Identifier{Type: "email", Value: "8f14e45fceea167a5a36dedd4bea2543e4f8c1b2a7d9c0e5f6a1b2c3d4e5f6a7"}
	if n := testing.AllocsPerRun(100, func() { _ = SingletonID(id) }); n > 1 {
		t.Errorf("SingletonID takes %v allocations, want 1", n)
	}
}
