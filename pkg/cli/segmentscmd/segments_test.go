package segmentscmd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/segments"
)

// TestSegmentsCheckRefusesCostlyConditions runs `segments check` on the
// shipped definitions (accepted, with their costliest evaluation: the two
// windowed counts of engaged_email_readers, 101 each, plus their
// comparisons; and the sum over the two features, 1 each, and the seven
// segments, 108 + 2 + 4 + 204 + 104 + 6 + 6) and on a condition of two nested all() over 300 elements
// (refused with the file, the line and the estimate).
func TestSegmentsCheckRefusesCostlyConditions(t *testing.T) {
	run := func(file string) (string, error) {
		cmd := newCheckCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{file})
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("../../../pipelines/segments.yaml")
	if err != nil || !strings.Contains(out, "costliest evaluation: segment engaged_email_readers, estimated at 204 of max_cost 10000; all of a person's: 436") {
		t.Errorf("shipped definitions: %v\n%s", err, out)
	}
	items := make([]string, 300)
	for i := range items {
		items[i] = "1"
	}
	list := "[" + strings.Join(items, ", ") + "]"
	file := filepath.Join(t.TempDir(), "segments.yaml")
	if err := os.WriteFile(file, []byte("segments:\n  - name: nested\n    when: |\n      "+list+".all(x, "+list+".all(y, x + y > 0))\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(file); err == nil || !strings.HasPrefix(err.Error(), file+":3: segment \"nested\": its evaluation may cost up to 634211, above max_cost 10000") {
		t.Errorf("nested all() over 300 elements: %v", err)
	}
}

// TestPersonPrintsTables: `segments person` prints through package table,
// its feature names in order and escaped, each on its line.
func TestPersonPrintsTables(t *testing.T) {
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err := printPerson(cmd, &segments.PersonState{Person: "p_1", Known: true, AsOf: at, Segments: []string{"a", "b"},
		Features: map[string]string{`count("purchase", "30d")`: "2", "last_seen\tweb": "2026-11-01T00:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"  person  as of (the partition's watermark)  segments\n" +
		"     p_1               2026-11-02T09:00:00Z      a, b\n" +
		"\n" +
		"                   feature                 value\n" +
		"  count(\"purchase\", \"30d\")                     2\n" +
		"            last_seen\\tweb  2026-11-01T00:00:00Z\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	// The state column is as wide as its one value.
	const unknown = "none (no events of this person in the segments service's windows)"
	if err := printPerson(cmd, &segments.PersonState{Person: "p_2"}); err != nil {
		t.Fatal(err)
	}
	if want := "  person  " + strings.Repeat(" ", len(unknown)-len("state")) + "state\n" +
		"     p_2  " + unknown + "\n"; out.String() != want {
		t.Errorf("unknown person: got:\n%s\nwant:\n%s", out.String(), want)
	}
}
