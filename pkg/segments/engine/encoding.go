package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// personEncoding is the version byte that starts a person's binary
// encoding.
const personEncoding = 1

// inputEncoding is the version byte that starts an input's binary
// encoding. It differs from '{', which starts the JSON form earlier
// versions wrote, so readers can tell the two apart.
const inputEncoding = 1

// The kinds of input, after inputEncoding.
const (
	inputEvent    = 'e'
	inputMerge    = 'm'
	inputTransfer = 't'
	// inputProgress and inputHold were added after the others; readers
	// that predate them refuse them as unknown kinds and read the other
	// kinds as before.
	inputProgress = 'w'
	inputHold     = 'h'
)

// MarshalBinary encodes the person as the changelog keeps it: a version
// byte, then its fields as length-prefixed strings, varints and
// IEEE 754 numbers; times are Unix nanoseconds, zero for none. Kept events
// leave out their person. Map entries are sorted, so equal states encode
// alike.
func (p *Person) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(p.Events)*48)
	b = append(b, personEncoding)
	b = appendString(b, p.ID)
	b = appendTime(b, p.Timer)
	b = binary.AppendUvarint(b, uint64(len(p.Events)))
	for i := range p.Events {
		b = appendEvent(b, &p.Events[i])
	}
	keys := slices.Sorted(maps.Keys(p.Lifetime))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		a := p.Lifetime[k]
		b = appendString(b, k)
		b = binary.AppendVarint(b, a.Count)
		b = appendFloat(b, a.Sum)
		b = appendFloat(b, a.Min)
		b = appendFloat(b, a.Max)
	}
	keys = slices.Sorted(maps.Keys(p.Last))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		e := p.Last[k]
		b = appendString(b, k)
		b = appendEvent(b, &e)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Members)))
	for _, m := range p.Members {
		b = appendString(b, m)
	}
	return b, nil
}

// UnmarshalBinary decodes a person encoded by MarshalBinary.
func (p *Person) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	id, timer, err := d.personHead()
	if err != nil {
		return err
	}
	*p = Person{ID: id, Timer: timer, Lifetime: map[string]*aggregate{}, Last: map[string]Event{}}
	if n := d.count(); n > 0 {
		p.Events = make([]Event, n)
		for i := range p.Events {
			p.Events[i] = d.event(p.ID)
		}
	}
	for n := d.count(); n > 0; n-- {
		k := d.string()
		p.Lifetime[k] = &aggregate{Count: d.varint(), Sum: d.float(), Min: d.float(), Max: d.float()}
	}
	for n := d.count(); n > 0; n-- {
		k := d.string()
		p.Last[k] = d.event(p.ID)
	}
	for n := d.count(); n > 0; n-- {
		p.Members = append(p.Members, d.string())
	}
	return d.end("person state")
}

// PersonTimer returns the next timer of a person encoded by
// MarshalBinary, reading only the fields before it.
func PersonTimer(data []byte) (time.Time, error) {
	d := decoder{b: data}
	_, timer, err := d.personHead()
	return timer, err
}

// personHead reads the version byte, id and timer that start a person's
// encoding.
func (d *decoder) personHead() (id string, timer time.Time, err error) {
	if v := d.byte(); d.err == nil && v != personEncoding {
		return "", time.Time{}, fmt.Errorf("person state: encoding version %d, want %d", v, personEncoding)
	}
	id, timer = d.string(), d.time()
	if d.err != nil {
		return "", time.Time{}, fmt.Errorf("person state: %w", d.err)
	}
	return id, timer, nil
}

// MarshalBinary encodes the input for the inputs topic: the version byte
// inputEncoding, its kind, then its fields as a person's encoding writes
// them: an event's person and the event, a merge's persons and time, a
// transfer's person, time and the person state it carries, a hold as a
// merge, or progress:
// the number of source partitions, then how many it reports and each one's
// partition and time.
func (in Input) MarshalBinary() ([]byte, error) {
	return in.appendBinary(make([]byte, 0, 128))
}

func (in Input) appendBinary(b []byte) ([]byte, error) {
	b = append(b, inputEncoding)
	switch {
	case in.Event != nil:
		b = appendString(append(b, inputEvent), in.Event.Person)
		return appendEvent(b, in.Event), nil
	case in.Merge != nil:
		return appendMerge(append(b, inputMerge), in.Merge), nil
	case in.Hold != nil:
		return appendMerge(append(b, inputHold), in.Hold), nil
	case in.Transfer != nil && in.Transfer.State != nil:
		b = appendString(append(b, inputTransfer), in.Transfer.Into)
		b = appendTime(b, in.Transfer.At)
		state, err := in.Transfer.State.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return append(binary.AppendUvarint(b, uint64(len(state))), state...), nil
	case in.Progress != nil:
		b = binary.AppendUvarint(append(b, inputProgress), uint64(in.Progress.Sources))
		sources := slices.Sorted(maps.Keys(in.Progress.Read))
		b = binary.AppendUvarint(b, uint64(len(sources)))
		for _, s := range sources {
			b = appendTime(binary.AppendUvarint(b, uint64(s)), in.Progress.Read[s])
		}
		return b, nil
	}
	return nil, errors.New("an input is one event, merge or transfer with its state, or progress")
}

// UnmarshalBinary decodes an input encoded by MarshalBinary.
func (in *Input) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	*in = d.input()
	return d.end("input")
}

// MarshalBinary encodes the pending input for the changelog: the input's
// encoding, then its arrival.
func (pe Pending) MarshalBinary() ([]byte, error) {
	b, err := pe.Input.appendBinary(make([]byte, 0, 128))
	return binary.AppendVarint(b, pe.Arrival), err
}

// UnmarshalBinary decodes a pending input encoded by MarshalBinary.
func (pe *Pending) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	*pe = Pending{Input: d.input(), Arrival: d.varint()}
	return d.end("pending input")
}

func appendMerge(b []byte, m *Merge) []byte {
	return appendTime(appendString(appendString(b, m.From), m.Into), m.At)
}

func appendEvent(b []byte, e *Event) []byte {
	b = appendString(b, e.ID)
	b = appendTime(b, e.At)
	b = appendString(b, e.Type)
	b = appendString(b, e.Channel)
	b = appendString(b, e.Campaign)
	b = appendFloat(b, e.Revenue)
	keys := slices.Sorted(maps.Keys(e.Props))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.Props[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// decoder reads a binary encoding; its first error sticks, and every read
// after it returns a zero value.
type decoder struct {
	b   []byte
	err error
}

// end returns the decoder's error, or one for bytes left over, prefixed
// with what was decoded.
func (d *decoder) end(what string) error {
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("%s: %w", what, d.err)
	}
	return nil
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or malformed %s", what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("version")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a number of entries, which cannot exceed the bytes left.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	if ns := d.varint(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail("number")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *decoder) event(person string) Event {
	e := Event{ID: d.string(), Person: person, At: d.time(), Type: d.string(), Channel: d.string(), Campaign: d.string(), Revenue: d.float()}
	if n := d.count(); n > 0 {
		e.Props = make(map[string]string, n)
		for ; n > 0; n-- {
			k := d.string()
			e.Props[k] = d.string()
		}
	}
	return e
}

// input reads what Input.appendBinary wrote.
func (d *decoder) input() Input {
	if v := d.byte(); d.err == nil && v != inputEncoding {
		d.err = fmt.Errorf("encoding version %d, want %d", v, inputEncoding)
	}
	switch kind := d.byte(); {
	case d.err != nil:
	case kind == inputEvent:
		e := d.event(d.string())
		return Input{Event: &e}
	case kind == inputMerge:
		return Input{Merge: &Merge{From: d.string(), Into: d.string(), At: d.time()}}
	case kind == inputHold:
		return Input{Hold: &Merge{From: d.string(), Into: d.string(), At: d.time()}}
	case kind == inputTransfer:
		t := &Transfer{Into: d.string(), At: d.time(), State: &Person{}}
		n := d.count()
		if d.err == nil {
			if err := t.State.UnmarshalBinary(d.b[:n]); err != nil {
				d.err = err
			}
			d.b = d.b[n:]
		}
		return Input{Transfer: t}
	case kind == inputProgress:
		pr := &Progress{Sources: int32(min(d.uvarint(), math.MaxInt32)), Read: map[int32]time.Time{}}
		for n := d.count(); n > 0; n-- {
			s := d.uvarint()
			pr.Read[int32(min(s, math.MaxInt32))] = d.time()
		}
		return Input{Progress: pr}
	default:
		d.err = fmt.Errorf("unknown input kind %q", kind)
	}
	return Input{}
}
