package publish

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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

// MaxLineBytes bounds one JSON line. A longer line is reported as bad and
// skipped; the lines after it are still read.
const MaxLineBytes = 4 << 20

// CheckKind refuses a kind other than touchpoint and spend.
func CheckKind(kind Kind) error {
	if kind != KindTouchpoint && kind != KindSpend {
		return fmt.Errorf("unknown kind %q: want touchpoint or spend", kind)
	}
	return nil
}

// utf8BOM is the byte order mark some editors put at the start of a file.
var utf8BOM = []byte("\xef\xbb\xbf")

// ReadJSONL reads records of kind from r, one JSON object per line (blank
// lines skipped, a UTF-8 byte order mark at the start ignored), and calls ok
// for the good ones and bad for the others: lines longer than MaxLineBytes,
// lines that are not exactly one JSON object of the kind, and records that
// check refuses (check validates as the ingest service does). It goes on
// after a bad line, and fails only for an unknown kind, when r fails or when
// ok does; the lines read before are handled either way.
func ReadJSONL(r io.Reader, kind Kind, check func(rec any) error, ok func(rec any) error, bad func(*LineError)) error {
	if err := CheckKind(kind); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		var tooLong bool
		var err error
		buf, tooLong, err = readLine(br, buf[:0], MaxLineBytes)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading line %d: %w", n, err)
		}
		line := bytes.TrimSpace(buf)
		if n == 1 {
			line = bytes.TrimSpace(bytes.TrimPrefix(line, utf8BOM))
		}
		switch {
		case tooLong:
			bad(&LineError{Line: n, Err: fmt.Errorf("longer than %d bytes", MaxLineBytes)})
		case len(line) > 0:
			rec, lerr := decodeLine(line, kind)
			if lerr == nil {
				lerr = check(rec)
			}
			if lerr != nil {
				bad(&LineError{Line: n, Err: lerr})
			} else if err := ok(rec); err != nil {
				return &LineError{Line: n, Err: err}
			}
		}
		if err != nil {
			return nil
		}
	}
}

// readLine reads the next line of br into buf without its newline. A line
// longer than max bytes is skipped to its end and reported as too long, with
// nothing kept, so memory stays bounded by max. The error is io.EOF after
// the last line.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(bytes.TrimSuffix(buf, []byte("\n"))) > max {
				tooLong, buf = true, buf[:0]
			}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return bytes.TrimSuffix(buf, []byte("\n")), tooLong, err
		}
	}
}

// decodeLine decodes a line holding exactly one JSON object of kind.
func decodeLine(line []byte, kind Kind) (any, error) {
	var rec any = &touchpoint.Touchpoint{}
	if kind == KindSpend {
		rec = &touchpoint.Spend{}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(rec); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		if len(rest) > 20 {
			rest = append(rest[:20:20], "..."...)
		}
		return nil, fmt.Errorf("invalid JSON: %q after the object", rest)
	}
	return rec, nil
}
