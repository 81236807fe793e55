package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressPrintsAtMostOncePerInterval(t *testing.T) {
	var out bytes.Buffer
	off := newProgress(&out, 0)
	for i := range 3 {
		off.maybe("line %d", i)
	}
	if out.Len() != 0 {
		t.Fatalf("--progress 0 printed %q", out.String())
	}
	p := newProgress(&out, time.Hour)
	p.maybe("too soon")
	p.next = time.Now().Add(-time.Millisecond) // an hour has passed
	p.maybe("produce: %d records", 7)
	p.maybe("too soon again")
	if out.String() != "produce: 7 records\n" {
		t.Errorf("printed %q", out.String())
	}
}

// TestProduceRefusesABadKindOnce: a bad --kind used to be reported on every
// line of the input; it is now refused before anything is read or dialled.
func TestProduceRefusesABadKindOnce(t *testing.T) {
	out, err := execute(t, "produce", "--kind", "spends", "--file", "/nonexistent/never-opened.jsonl")
	if err == nil || err.Error() != `--kind: unknown kind "spends": want touchpoint or spend` || strings.Contains(out, "line") {
		t.Errorf("%v\n%s", err, out)
	}
}
