package segmentsref_test

import (
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/segmentsref"
)

// TestDiff: changes equal to the millisecond are the same, whatever their
// order and time zone; the others are listed, missing ones with "-" and
// extra ones with "+", up to the limit.
func TestDiff(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a := segmentsref.Change{Person: "p1", Segment: "quiet", Entered: true, At: at}
	b := segmentsref.Change{Person: "p2", Segment: "quiet", At: at.Add(time.Second)}
	c := segmentsref.Change{Person: "p2", Segment: "quiet", Entered: true, At: at.Add(time.Second)}
	near := a
	near.At = at.Add(300 * time.Microsecond).In(time.FixedZone("x", 3600))
	if diff := segmentsref.Diff([]segmentsref.Change{b, near}, []segmentsref.Change{a, b}, 0); diff != "" {
		t.Fatalf("the same changes differ:\n%s", diff)
	}
	want := "- 05-01T12:00:00.000 p1 quiet true\n+ 05-01T12:00:01.000 p2 quiet true"
	if diff := segmentsref.Diff([]segmentsref.Change{b, c}, []segmentsref.Change{b, a}, 0); diff != want {
		t.Fatalf("got\n%s\nwant\n%s", diff, want)
	}
	want = "- 05-01T12:00:00.000 p1 quiet true\nand 2 more"
	if diff := segmentsref.Diff([]segmentsref.Change{c, c}, []segmentsref.Change{a}, 1); diff != want {
		t.Fatalf("got\n%s\nwant\n%s", diff, want)
	}
}
