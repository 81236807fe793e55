package activate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// journal is the write-ahead record of the webhook POSTs since the last
// record of outcomes in ClickHouse: before each POST, the keys it carries
// (an intent); after it, the outcome of each change. Each entry is one
// write(2) of a JSON line, without fsync: the kernel keeps it when the
// process is killed (SIGKILL, out of memory, a panic), not when the machine
// stops. After the outcomes are recorded in ClickHouse, the journal is
// emptied. A restarted service records the outcomes it finds, and an intent
// without an outcome is the one POST that was in flight at the kill: its
// changes are posted again, with the same keys. It is not safe for
// concurrent use.
type journal struct {
	f *os.File
}

// journalEntry is one line of the journal: an intent or an outcome.
type journalEntry struct {
	// Destination and Keys are an intent: a POST of these changes to the
	// destination is about to be sent.
	Destination string   `json:"destination,omitempty"`
	Keys        []string `json:"keys,omitempty"`
	// Record is an outcome.
	Record *Record `json:"record,omitempty"`
}

// openJournal opens the journal at path, creating it and its directory,
// and returns what it holds: the outcomes of changes, and the intents
// without an outcome (by destination, their keys). A line the kill cut
// short is ignored: the intent or the outcome it was is lost, which sends a
// change again, never drops one.
func openJournal(path string) (j *journal, outcomes []Record, inDoubt map[string][]string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, nil, fmt.Errorf("delivery journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("delivery journal: %w", err)
	}
	outcomes, inDoubt, err = readJournal(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, nil, fmt.Errorf("delivery journal %s: %w", path, err)
	}
	return &journal{f: f}, outcomes, inDoubt, nil
}

// readJournal reads the entries of r.
func readJournal(r io.Reader) ([]Record, map[string][]string, error) {
	var outcomes []Record
	pending := map[string]map[string]bool{} // destination -> keys posted, no outcome yet
	lines := bufio.NewScanner(r)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var e journalEntry
		if json.Unmarshal(lines.Bytes(), &e) != nil {
			continue // cut short
		}
		switch {
		case e.Record != nil:
			outcomes = append(outcomes, *e.Record)
			delete(pending[e.Record.Destination], e.Record.IdempotencyKey)
		case e.Destination != "":
			if pending[e.Destination] == nil {
				pending[e.Destination] = map[string]bool{}
			}
			for _, k := range e.Keys {
				pending[e.Destination][k] = true
			}
		}
	}
	if err := lines.Err(); err != nil {
		return nil, nil, err
	}
	inDoubt := map[string][]string{}
	for d, keys := range pending {
		for k := range keys {
			inDoubt[d] = append(inDoubt[d], k)
		}
	}
	return outcomes, inDoubt, nil
}

// intent records that a POST of keys to destination is about to be sent.
func (j *journal) intent(destination string, keys ...string) error {
	return j.write(journalEntry{Destination: destination, Keys: keys})
}

// outcome records the outcome of a change.
func (j *journal) outcome(rec Record) error {
	return j.write(journalEntry{Record: &rec})
}

// write appends e as one line, in one write.
func (j *journal) write(e journalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("delivery journal: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("delivery journal: %w", err)
	}
	return nil
}

// reset empties the journal, once its outcomes are recorded in ClickHouse.
func (j *journal) reset() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("delivery journal: %w", err)
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("delivery journal: %w", err)
	}
	return nil
}

// Close closes the journal's file.
func (j *journal) Close() error { return j.f.Close() }
