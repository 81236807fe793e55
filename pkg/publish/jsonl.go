package publish

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Kind names the record kind of a JSON-lines input.
type Kind string

// The kinds of JSON-lines input.
const (
	KindTouchpoint Kind = "touchpoint"
	KindSpend      Kind = "spend"
)

// LineError is a JSON line that could not be published.
type LineError struct {
	Line int
	Err  error
}

// Error formats the error as "line N: reason".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// MaxLineBytes bounds one JSON line.
const MaxLineBytes = 4 << 20

// ReadJSONL reads records of kind from r, one JSON object per line (blank
// lines skipped), validates each against limits, and calls ok for the good
// ones and bad for the others; it goes on after a bad line. It fails only
// when r fails or ok does.
func ReadJSONL(r io.Reader, kind Kind, limits touchpoint.Limits, ok func(rec any) error, bad func(*LineError)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	now := time.Now()
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, err := decodeLine(line, kind, limits, now)
		if err != nil {
			bad(&LineError{Line: n, Err: err})
			continue
		}
		if err := ok(rec); err != nil {
			return &LineError{Line: n, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	return nil
}

func decodeLine(line []byte, kind Kind, limits touchpoint.Limits, now time.Time) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	switch kind {
	case KindTouchpoint:
		var t touchpoint.Touchpoint
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if err := t.Validate(limits, now); err != nil {
			return nil, err
		}
		return &t, nil
	case KindSpend:
		var s touchpoint.Spend
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if err := s.Validate(limits, now); err != nil {
			return nil, err
		}
		return &s, nil
	}
	return nil, fmt.Errorf("unknown kind %q: want touchpoint or spend", kind)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
