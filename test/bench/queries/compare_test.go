package main

import (
	"strings"
	"testing"
)

func TestRowsDiffer(t *testing.T) {
	for _, c := range []struct {
		name, server, chDB string
		same               bool
	}{
		{"same text", "a\t1\t0.5\nb\t2\t\\N\n", "a\t1\t0.5\nb\t2\t\\N\n", true},
		{"no rows", "", "", true},
		{"sums added in another order", "email\t0.30000000000000004\n", "email\t0.3\n", true},
		{"ties listed in another order", "x\t1\ny\t1\n", "y\t1\nx\t1\n", true},
		{"a number beyond the tolerance", "email\t0.3\n", "email\t0.3000001\n", false},
		{"another text", "email\t1\n", "sms\t1\n", false},
		{"a row missing", "a\t1\nb\t2\n", "a\t1\n", false},
		{"a field missing", "a\t1\n", "a\n", false},
		{"NULL against zero", "a\t\\N\n", "a\t0\n", false},
	} {
		d := rowsDiffer(c.server, c.chDB)
		if (d == "") != c.same {
			t.Errorf("%s: rowsDiffer(%q, %q) = %q, want same: %v", c.name, c.server, c.chDB, d, c.same)
		}
	}
	if d := rowsDiffer("a\t1\n", "b\t1\n"); !strings.Contains(d, `"a\t1" on the server`) {
		t.Errorf("the difference %q does not show the server's row", d)
	}
}
