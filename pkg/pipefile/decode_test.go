package pipefile

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type inner struct {
	Wait  time.Duration `yaml:"wait"`
	Count int           `yaml:"count"`
}

type embedded struct {
	Group string `yaml:"group"`
}

type outer struct {
	embedded `yaml:",inline"`
	Timeout  time.Duration            `yaml:"timeout"`
	Inner    inner                    `yaml:"inner"`
	Items    []inner                  `yaml:"items"`
	ByName   map[string]time.Duration `yaml:"by_name"`
	Ptr      *inner                   `yaml:"ptr"`
	Skipped  string                   `yaml:"-"`
}

func decode(t *testing.T, src string) (outer, error) {
	t.Helper()
	root, err := Document("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var o outer
	return o, Decode("f.yaml", root, "", &o)
}

// TestDecodeReadsDaysEverywhere: durations in nested structs, lists, maps
// and pointers take 1d and 2w; inlined keys are known.
func TestDecodeReadsDaysEverywhere(t *testing.T) {
	o, err := decode(t, "group: g\ntimeout: 1d\ninner: {wait: 2w, count: 3}\nitems:\n  - wait: 90s\nby_name:\n  a: 3d\nptr:\n  wait: 1h\n")
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	want := outer{embedded: embedded{Group: "g"}, Timeout: day, Inner: inner{Wait: 14 * day, Count: 3}, Items: []inner{{Wait: 90 * time.Second}},
		ByName: map[string]time.Duration{"a": 3 * day}, Ptr: &inner{Wait: time.Hour}}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got %+v\nwant %+v", o, want)
	}
}

// TestDecodeReportsEveryErrorAtItsLine: unknown keys (also a yaml:"-"
// field's name), bad durations and ill-typed values, all of them, each at
// its line and with its key; what is valid is decoded all the same.
func TestDecodeReportsEveryErrorAtItsLine(t *testing.T) {
	o, err := decode(t, "group: g\ntimeout: soon\ninner:\n  count: many\n  colour: red\nitems:\n  - wait: 5\nskipped: x\nby_name:\n  a: -1d\n")
	want := List{
		{File: "f.yaml", Line: 2, Reason: `timeout: duration "soon": want e.g. 30d, 2w, 36h or 90m`},
		{File: "f.yaml", Line: 4, Reason: "inner.count: cannot unmarshal !!str `many` into int"},
		{File: "f.yaml", Line: 5, Reason: "inner.colour: unknown key"},
		{File: "f.yaml", Line: 7, Reason: `items.1.wait: duration "5": want e.g. 30d, 2w, 36h or 90m`},
		{File: "f.yaml", Line: 8, Reason: "skipped: unknown key"},
		{File: "f.yaml", Line: 10, Reason: `by_name.a: duration "-1d": want a whole number of days, or a Go duration like 36h`},
	}
	var got List
	if !errors.As(err, &got) || !reflect.DeepEqual(got, want) {
		t.Fatalf("got:\n%v\nwant:\n%v", err, want)
	}
	if o.Group != "g" {
		t.Errorf("the valid keys were not decoded: %+v", o)
	}
}

// TestKeyLines: every key by its dotted path, list items counted from 1.
func TestKeyLines(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a:\n  b: 1\n  c:\n    - d: 2\n    - d: 3\ne: {f: 4}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	got := KeyLines(&doc)
	want := map[string]int{"a": 1, "a.b": 2, "a.c": 3, "a.c.1": 4, "a.c.1.d": 4, "a.c.2": 5, "a.c.2.d": 5, "e": 6, "e.f": 6}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestChecksCollectEverySettingWithItsKey: every failed check comes out,
// wrapping the section's error and naming its key, also the keys an
// inner error carries below the one it is added at.
func TestChecksCollectEverySettingWithItsKey(t *testing.T) {
	errSection := errors.New("invalid x config")
	ch := NewChecks(errSection)
	ch.Check(true, "a", "a must be set")
	ch.Check(false, "b", "b is fine")
	ch.Add("topics", AtKey("spend", errors.New("spend is taken")))
	ch.Add("tls", errors.Join(errors.New("one"), errors.New("two")))
	errs := Flatten(ch.Err())
	var keys, msgs []string
	for _, e := range errs {
		if !errors.Is(e, errSection) {
			t.Errorf("%v does not wrap the section's error", e)
		}
		keys, msgs = append(keys, Key(e)), append(msgs, e.Error())
	}
	if want := []string{"a", "topics.spend", "tls", "tls"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if want := []string{"invalid x config: a must be set", "invalid x config: spend is taken", "invalid x config: one", "invalid x config: two"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("messages %q, want %q", msgs, want)
	}
	if NewChecks(errSection).Err() != nil {
		t.Error("no failed check, but an error")
	}
}

// TestPairsRefusesWhatIsNoMapping: the one mapping reader of the loaders
// refuses other kinds, keys that are not strings and duplicate keys, at
// their lines.
func TestPairsRefusesWhatIsNoMapping(t *testing.T) {
	for src, want := range map[string]string{
		"- a\n":                 "f.yaml:1: top: want a mapping, got a list",
		"a: 1\n? [b]\n: 2\n":    "f.yaml:2: top: keys must be strings",
		"a: 1\nb: 2\na: 3\n":    `f.yaml:3: top: duplicate key "a" (first on line 1)`,
		"x: &v {a: 1}\ny: *v\n": "",
	} {
		root, err := Document("f.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if _, err := Pairs("f.yaml", root, "top"); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", src, got, want)
		}
	}
}
