package publish

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// read runs ReadJSONL on input and returns the event ids of the good
// records and the bad lines as "N: reason".
func read(t *testing.T, r io.Reader, kind Kind, check func(any) error) (good, bad []string, err error) {
	t.Helper()
	err = ReadJSONL(r, kind, check, func(rec any) error {
		good = append(good, rec.(*touchpoint.Touchpoint).EventID)
		return nil
	}, func(e *LineError) { bad = append(bad, e.Error()) })
	return good, bad, err
}

func event(id string) string {
	return `{"event_id":"` + id + `","event_time":"2026-11-02T09:00:00Z","event_type":"click","identifiers":{"anonymous_id":"a"}}`
}

func accept(any) error { return nil }

// TestReadJSONLGoesOnAfterAnOverlongLine: a line over 4 MiB used to end
// the read with "bufio.Scanner: token too long", no line number, and the
// lines after it unread.
func TestReadJSONLGoesOnAfterAnOverlongLine(t *testing.T) {
	long := `{"event_id":"big","page_url":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	in := strings.Join([]string{event("e1"), long, event("e3"), strings.Repeat(" ", MaxLineBytes+1), event("e5")}, "\n")
	good, bad, err := read(t, strings.NewReader(in), KindTouchpoint, accept)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("line 2: longer than %d bytes,line 4: longer than %d bytes", MaxLineBytes, MaxLineBytes)
	if strings.Join(good, ",") != "e1,e3,e5" || strings.Join(bad, ",") != want {
		t.Errorf("good %v, bad %v; want e1,e3,e5 and %s", good, bad, want)
	}
}

// TestReadJSONLLines: a byte order mark starts the file; one object per
// line and nothing after it; blank lines and CRLF endings are fine.
func TestReadJSONLLines(t *testing.T) {
	in := "\xef\xbb\xbf" + event("e1") + "\r\n\r\n" +
		event("e3") + ` {"event_id":"x"}` + "\n" +
		event("e4") + " trailing junk\n" +
		event("e5") + "   \n" +
		"\xef\xbb\xbf" + event("e6") + "\n" +
		`[` + event("e7") + `]` + "\n" +
		event("e8")
	good, bad, err := read(t, strings.NewReader(in), KindTouchpoint, accept)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(good, ",") != "e1,e5,e8" {
		t.Errorf("good %v, want e1,e5,e8", good)
	}
	for i, want := range []string{`line 3: invalid JSON: "{\"event_id\":\"x\"}" after the object`,
		`line 4: invalid JSON: "trailing junk" after the object`, "line 6: invalid JSON", "line 7: invalid JSON"} {
		if i >= len(bad) || !strings.HasPrefix(bad[i], want) {
			t.Errorf("bad line %d: %v, want %s", i, bad, want)
		}
	}
	if len(bad) != 4 {
		t.Errorf("bad %v", bad)
	}
}

// TestReadJSONLChecksEveryRecord: check (ingest's validation in produce)
// refuses records; a bad kind is one error, not one per line.
func TestReadJSONLChecksEveryRecord(t *testing.T) {
	refuse := func(rec any) error {
		if rec.(*touchpoint.Touchpoint).EventID == "e2" {
			return errors.New("email: not an email address")
		}
		return nil
	}
	good, bad, err := read(t, strings.NewReader(event("e1")+"\n"+event("e2")+"\n"+event("e3")+"\n"), KindTouchpoint, refuse)
	if err != nil || strings.Join(good, ",") != "e1,e3" || strings.Join(bad, ",") != "line 2: email: not an email address" {
		t.Errorf("good %v, bad %v, %v", good, bad, err)
	}
	good, bad, err = read(t, strings.NewReader(event("e1")+"\n"+event("e2")+"\n"), "spends", accept)
	if err == nil || err.Error() != `unknown kind "spends": want touchpoint or spend` || len(good)+len(bad) != 0 {
		t.Errorf("bad kind: good %v, bad %v, %v", good, bad, err)
	}
}

// failingReader returns data, then an error.
type failingReader struct{ data io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("disk on fire")
	}
	return n, err
}

// TestReadJSONLHandsOverWhatItReadBeforeAFailure: the good lines before a
// read error are handed over, and the error names the line.
func TestReadJSONLHandsOverWhatItReadBeforeAFailure(t *testing.T) {
	good, _, err := read(t, failingReader{strings.NewReader(event("e1") + "\n" + event("e2") + "\n" + `{"event_id":`)}, KindTouchpoint, accept)
	if strings.Join(good, ",") != "e1,e2" || err == nil || err.Error() != "reading line 3: disk on fire" {
		t.Errorf("good %v, %v", good, err)
	}
}
