package collect

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/touchline-io/touchline/pkg/utf8fast"
)

// The collector reads Segment messages with the scanner of this file
// rather than with encoding/json: one pass over the body fills the
// messages directly, unknown fields are skipped without being built, and
// the strings that need no unescaping are slices of one copy of the body.
// What it gives is what encoding/json gives for the same body (numbers as
// json.Number), field by field:
//   - keys are matched exactly, else without regard to case (as
//     strings.EqualFold has it); a repeated key is read again, the last
//     winning, into what the earlier one left (an object into the same
//     context, the same properties map);
//   - null leaves a string as it is and empties an id, a map or an
//     object;
//   - invalid UTF-8 and unpaired \u surrogates become U+FFFD;
//   - a value of the wrong type makes the message bad, but the rest of
//     the body is still read, so that a syntax error after it is the
//     body's error;
//   - nesting deeper than maxDepth is a syntax error.

// maxDepth is the deepest nesting of objects and arrays a body may have,
// encoding/json's own limit.
const maxDepth = 10000

// syntaxError is a body that is not JSON.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.msg, e.off) }

// scanner reads JSON from s. Syntax errors end the reading; a value of
// the wrong type is kept in bad (the first one) and skipped.
type scanner struct {
	s     string
	i     int
	depth int
	bad   error
	rooms *rooms
	// read holds the members of the dicts read, each a slice of it.
	read []member
}

// rooms hands out the objects of a message's context, so that a batch's
// take a few allocations instead of one each. A scratch keeps its rooms
// for the next batch, which takes the same values again (reset).
type rooms struct {
	contexts  slab[messageContext]
	campaigns slab[campaign]
	pages     slab[page]
	devices   slab[device]
	oses      slab[osInfo]
	locations slab[location]
}

// reset makes every value handed out by r free for the next batch.
func (r *rooms) reset() {
	r.contexts.reset()
	r.campaigns.reset()
	r.pages.reset()
	r.devices.reset()
	r.oses.reset()
	r.locations.reset()
}

// slab hands out zero values of T from chunks of slabChunk, which it keeps
// for reuse (reset).
type slab[T any] struct {
	chunks [][]T
	// used is how many values of chunks have been handed out since the
	// last reset.
	used int
}

// slabChunk is how many values a slab makes room for at a time.
const slabChunk = 32

// maxKeptSlabChunks is how many chunks a slab keeps for reuse: the room of
// a batch of a few thousand messages with every context object. A larger
// batch's further chunks are dropped, so that one large batch does not
// hold on to its room for good.
const maxKeptSlabChunks = 128

// take returns a pointer to a zero T.
func (s *slab[T]) take() *T {
	c, i := s.used/slabChunk, s.used%slabChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
	s.used++
	v := &s.chunks[c][i]
	*v = *new(T) // left by a batch before
	return v
}

// reset makes the values handed out free to be handed out again: none of
// them may be used after it.
func (s *slab[T]) reset() {
	s.used = 0
	if len(s.chunks) > maxKeptSlabChunks {
		clear(s.chunks[maxKeptSlabChunks:])
		s.chunks = s.chunks[:maxKeptSlabChunks]
	}
}

// eof is the error of a body that ends too soon.
func (sc *scanner) eof() error {
	return &syntaxError{msg: "unexpected end of JSON input", off: len(sc.s)}
}

// invalid is the error of an unexpected byte at sc.i, where what was
// looked for.
func (sc *scanner) invalid(what string) error {
	if sc.i >= len(sc.s) {
		return sc.eof()
	}
	return &syntaxError{msg: fmt.Sprintf("invalid character %s %s", quoteChar(sc.s[sc.i]), what), off: sc.i}
}

// quoteChar formats c as encoding/json's syntax errors do.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := fmt.Sprintf("%q", string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// peek skips white space and returns the next byte, 0 at the end (and
// for a NUL byte, which no JSON value starts with either). Its first test
// is all that bodies without white space need, and is inlined.
func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) && sc.s[sc.i] > ' ' {
		return sc.s[sc.i]
	}
	return sc.skipSpace()
}

// skipSpace is peek past the first byte.
func (sc *scanner) skipSpace() byte {
	for ; sc.i < len(sc.s); sc.i++ {
		switch c := sc.s[sc.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// mismatch skips a value of the wrong type at path, noting it (the first
// one is the error) when it is JSON at all.
func (sc *scanner) mismatch(path, want string) error {
	start := sc.i
	if err := sc.skip(); err != nil {
		return err
	}
	if sc.bad == nil {
		sc.bad = fmt.Errorf("%s: cannot take %s, want %s", path, kindOf(sc.s[start]), want)
	}
	return nil
}

// kindOf names the JSON value that starts with c.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// open enters an object or array, reporting whether it is empty (closing,
// its last byte, follows at once; it is then left too).
func (sc *scanner) open(closing byte) (empty bool, err error) {
	sc.depth++
	if sc.depth > maxDepth {
		return false, &syntaxError{msg: "exceeded max depth", off: sc.i}
	}
	sc.i++
	return sc.peek() == closing && sc.next(closing) == io.EOF, nil
}

// next reads the comma after a member of an object or array (nil), or
// closing, which leaves it (io.EOF); anything else is an error about
// what follows a member.
func (sc *scanner) next(closing byte) error {
	switch sc.peek() {
	case ',':
		sc.i++
		return nil
	case closing:
		sc.i++
		sc.depth--
		return io.EOF
	}
	return errNoSeparator
}

// errNoSeparator is next's answer when neither a comma nor the closing
// byte follows a member.
var errNoSeparator = errors.New("no separator")

// members reads the members of an object or array (sc.i at its first
// byte) with member until the closing byte; after is what a syntax error
// names as following a member.
func (sc *scanner) members(closing byte, after string, member func() error) error {
	if empty, err := sc.open(closing); err != nil || empty {
		return err
	}
	for {
		if err := member(); err != nil {
			return err
		}
		switch err := sc.next(closing); err {
		case io.EOF:
			return nil
		case errNoSeparator:
			return sc.invalid(after)
		}
	}
}

// object reads an object (sc.i at its '{'), calling each with every key
// and sc.i at the key's value, which each must read.
func (sc *scanner) object(each func(key string) error) error {
	return sc.members('}', "after object key:value pair", func() error {
		if sc.peek() != '"' {
			return sc.invalid("looking for beginning of object key string")
		}
		key, err := sc.str()
		if err != nil {
			return err
		}
		if sc.peek() != ':' {
			return sc.invalid("after object key")
		}
		sc.i++
		sc.peek()
		return each(key)
	})
}

// array reads an array (sc.i at its '['), calling each with every index
// and sc.i at the element, which each must read.
func (sc *scanner) array(each func(i int) error) error {
	n := 0
	return sc.members(']', "after array element", func() error {
		sc.peek()
		n++
		return each(n - 1)
	})
}

// str reads a string (sc.i at its opening quote), unescaped, with invalid
// UTF-8 replaced. A string that needs neither is a slice of s.
func (sc *scanner) str() (string, error) {
	start := sc.i + 1
	j := start
	for s := sc.s; j+8 <= len(s); j += 8 { // eight bytes at a time up to one that matters
		b := s[j : j+8]
		w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if special(w) {
			break
		}
	}
	for ; j < len(sc.s); j++ {
		switch c := sc.s[j]; {
		case c == '"':
			sc.i = j + 1
			return sc.s[start:j], nil
		case c == '\\' || c >= utf8.RuneSelf:
			return sc.unquote(start, j)
		case c < ' ':
			sc.i = j
			return "", sc.invalid("in string literal")
		}
	}
	return "", sc.eof()
}

// special reports whether one of the eight bytes of w may end a string's
// plain run: a quote, a backslash, a control character or a byte of a
// character beyond ASCII (false alarms only send str byte by byte).
func special(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|(w-ones*' ')|w)&highs != 0
}

// unquote reads the rest of a string from j on, start being its first
// byte, unescaping and replacing invalid UTF-8 as encoding/json does.
func (sc *scanner) unquote(start, j int) (string, error) {
	var b []byte // nil while the string is a slice of s
	s := sc.s
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			sc.i = j + 1
			if b == nil {
				return s[start:j], nil
			}
			return string(b), nil
		case c < ' ':
			sc.i = j
			return "", sc.invalid("in string literal")
		case c < utf8.RuneSelf && c != '\\':
			if b != nil {
				b = append(b, c)
			}
			j++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 && b == nil {
				b = append(make([]byte, 0, len(s[start:j])+16), s[start:j]...)
			}
			if b != nil {
				b = utf8.AppendRune(b, r)
			}
			j += size
		default: // an escape
			if b == nil {
				b = append(make([]byte, 0, len(s[start:j])+16), s[start:j]...)
			}
			if j+1 >= len(s) {
				return "", sc.eof()
			}
			switch e := s[j+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := sc.hex4(j)
				if err != nil {
					return "", err
				}
				j += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := sc.nextU(j); ok {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							j += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				sc.i = j + 1
				return "", sc.invalid("in string escape code")
			}
			j += 2
		}
	}
	return "", sc.eof()
}

// hex4 reads the four hex digits of the \u escape at j.
func (sc *scanner) hex4(j int) (rune, error) {
	var r rune
	for k := j + 2; k < j+6; k++ {
		if k >= len(sc.s) {
			return 0, sc.eof()
		}
		c := sc.s[k]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			sc.i = k
			return 0, sc.invalid("in \\u hexadecimal character escape")
		}
		r = r*16 + rune(c)
	}
	return r, nil
}

// nextU reads the \u escape at j, if one is there and well formed (the
// second half of a surrogate pair).
func (sc *scanner) nextU(j int) (rune, bool) {
	if j+6 > len(sc.s) || sc.s[j] != '\\' || sc.s[j+1] != 'u' {
		return 0, false
	}
	save := sc.i
	r, err := sc.hex4(j)
	sc.i = save
	return r, err == nil
}

// number reads a number, as written.
func (sc *scanner) number() (string, error) {
	s, start := sc.s, sc.i
	digits := func(what string) error {
		if sc.i >= len(s) || s[sc.i] < '0' || s[sc.i] > '9' {
			return sc.invalid(what)
		}
		for sc.i < len(s) && s[sc.i] >= '0' && s[sc.i] <= '9' {
			sc.i++
		}
		return nil
	}
	if s[sc.i] == '-' {
		sc.i++
	}
	if sc.i < len(s) && s[sc.i] == '0' {
		sc.i++
	} else if err := digits("in numeric literal"); err != nil {
		return "", err
	}
	if sc.i < len(s) && s[sc.i] == '.' {
		sc.i++
		if err := digits("after decimal point in numeric literal"); err != nil {
			return "", err
		}
	}
	if sc.i < len(s) && (s[sc.i] == 'e' || s[sc.i] == 'E') {
		sc.i++
		if sc.i < len(s) && (s[sc.i] == '+' || s[sc.i] == '-') {
			sc.i++
		}
		if err := digits("in exponent of numeric literal"); err != nil {
			return "", err
		}
	}
	return s[start:sc.i], nil
}

// literal reads true, false or null.
func (sc *scanner) literal() error {
	var want string
	switch sc.s[sc.i] {
	case 't':
		want = "true"
	case 'f':
		want = "false"
	default:
		want = "null"
	}
	for k := 0; k < len(want); k++ {
		if sc.i >= len(sc.s) {
			return sc.eof()
		}
		if sc.s[sc.i] != want[k] {
			return sc.invalid("in literal " + want + " (expecting " + quoteChar(want[k]) + ")")
		}
		sc.i++
	}
	return nil
}

// skip reads a value without keeping it.
func (sc *scanner) skip() error {
	switch c := sc.peek(); {
	case c == '{':
		return sc.object(func(string) error { return sc.skip() })
	case c == '[':
		return sc.array(func(int) error { return sc.skip() })
	case c == '"':
		return sc.skipStr()
	case c == '-' || c >= '0' && c <= '9':
		_, err := sc.number()
		return err
	case c == 't' || c == 'f' || c == 'n':
		return sc.literal()
	}
	return sc.invalid("looking for beginning of value")
}

// skipStr reads a string without unescaping it.
func (sc *scanner) skipStr() error {
	s := sc.s
	for j := sc.i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			sc.i = j + 1
			return nil
		case c == '\\':
			if j+1 >= len(s) {
				return sc.eof()
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, err := sc.hex4(j); err != nil {
					return err
				}
				j += 5
			default:
				sc.i = j + 1
				return sc.invalid("in string escape code")
			}
		case c < ' ':
			sc.i = j
			return sc.invalid("in string literal")
		}
	}
	return sc.eof()
}

// value reads any value as encoding/json reads it into an interface, with
// numbers as json.Number.
func (sc *scanner) value() (any, error) {
	switch sc.peek() {
	case '{':
		m := map[string]any{}
		err := sc.object(func(key string) error {
			v, err := sc.value()
			m[key] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := sc.array(func(int) error {
			v, err := sc.value()
			a = append(a, v)
			return err
		})
		return a, err
	}
	v, err := sc.scalar()
	return v.boxed(), err
}

// text reads a string into *dst; null leaves it as it is.
func (sc *scanner) text(dst *string, path string) error {
	switch sc.peek() {
	case '"':
		s, err := sc.str()
		*dst = s
		return err
	case 'n':
		return sc.literal()
	}
	return sc.mismatch(path, "a string")
}

// id reads an id sent as a string or a number (null empties it).
func (sc *scanner) id(dst *flexString, path string) error {
	switch c := sc.peek(); {
	case c == '"':
		s, err := sc.str()
		*dst = flexString(s)
		return err
	case c == '-' || c >= '0' && c <= '9':
		n, err := sc.number()
		*dst = flexString(n)
		return err
	case c == 'n':
		*dst = ""
		return sc.literal()
	}
	start := sc.i
	if err := sc.skip(); err != nil {
		return err
	}
	if sc.bad == nil {
		sc.bad = fmt.Errorf("%s: an id must be a string or a number, not %s", path, sc.s[start:sc.i])
	}
	return nil
}

// fields reads an object into what set does with each key (null calls
// null instead, an object first calls alloc).
func (sc *scanner) fields(path string, null, alloc func(), set func(key string) error) error {
	switch sc.peek() {
	case '{':
		alloc()
		return sc.object(set)
	case 'n':
		null()
		return sc.literal()
	}
	return sc.mismatch(path, "an object")
}

// dict reads an object into *dst, after the members it holds. The
// members of a body's objects are appended to one buffer, each object
// a slice of it, so that they take a few allocations per body.
func (sc *scanner) dict(dst *dict, path string) error {
	switch sc.peek() {
	case '{':
		start := len(sc.read)
		err := sc.object(func(key string) error {
			v, err := sc.member()
			sc.read = append(sc.read, member{key: key, val: v})
			return err
		})
		read := sc.read[start:len(sc.read):len(sc.read)]
		switch {
		case *dst != nil:
			*dst = append(*dst, read...)
		case read == nil:
			*dst = dict{}
		default:
			*dst = read
		}
		return err
	case 'n':
		*dst = nil
		return sc.literal()
	}
	return sc.mismatch(path, "an object")
}

// member reads the value of a dict's member: a string, a number or a
// literal as its text, an object or an array as value does.
func (sc *scanner) member() (jsonValue, error) {
	switch sc.peek() {
	case '{', '[':
		v, err := sc.value()
		return jsonValue{kind: kindNested, nested: v}, err
	}
	return sc.scalar()
}

// scalar reads a string, a number or a literal as its text.
func (sc *scanner) scalar() (jsonValue, error) {
	switch c := sc.peek(); {
	case c == '"':
		s, err := sc.str()
		return jsonValue{kind: kindString, text: s}, err
	case c == '-' || c >= '0' && c <= '9':
		n, err := sc.number()
		return jsonValue{kind: kindNumber, text: n}, err
	case c == 't' || c == 'f' || c == 'n':
		err := sc.literal()
		switch c {
		case 't':
			return jsonValue{kind: kindBool, text: "true"}, err
		case 'f':
			return jsonValue{kind: kindBool, text: "false"}, err
		}
		return jsonValue{}, err
	}
	return jsonValue{}, sc.invalid("looking for beginning of value")
}

// obj reads an object into the struct *dst points to (a new one from room
// when nil), each key read by set.
func obj[T any](sc *scanner, dst **T, room *slab[T], path string, set func(v *T, key string) error) error {
	return sc.fields(path, func() { *dst = nil }, func() {
		if *dst == nil {
			*dst = room.take()
		}
	}, func(key string) error { return set(*dst, key) })
}

// field is the index of key in names (all ASCII): the exact name, else
// the first equal without regard to case; -1 for none.
func field(key string, names []string) int {
	for i, n := range names {
		if key == n {
			return i
		}
	}
	// Only a key longer than a name and beyond ASCII (the Kelvin sign
	// folds to k) can equal a name of another length without regard to
	// case.
	ascii := utf8fast.IsASCII(key)
	for i, n := range names {
		if len(key) != len(n) && (ascii || len(key) < len(n)) {
			continue
		}
		if strings.EqualFold(key, n) {
			return i
		}
	}
	return -1
}

// The keys of a message and of its context, in the order of their
// switch cases.
var (
	messageKeys = []string{"type", "messageId", "anonymousId", "userId", "previousId", "groupId", "event", "name",
		"properties", "traits", "context", "timestamp", "originalTimestamp", "sentAt", "writeKey"}
	contextKeys  = []string{"campaign", "page", "userAgent", "ip", "traits", "device", "os", "location"}
	campaignKeys = []string{"name", "source", "medium", "term", "content"}
	pageKeys     = []string{"url", "referrer"}
	deviceKeys   = []string{"type"}
	osKeys       = []string{"name"}
	locationKeys = []string{"country"}
)

// nothing is what fields does for a null or a new object whose value
// needs no change.
func nothing() {}

// message reads a message (an object, or null) into m.
func (sc *scanner) message(m *Message) error {
	return sc.fields("message", nothing, nothing, func(key string) error {
		switch field(key, messageKeys) {
		case 0:
			return sc.text(&m.Type, "type")
		case 1:
			return sc.text(&m.MessageID, "messageId")
		case 2:
			return sc.id(&m.AnonymousID, "anonymousId")
		case 3:
			return sc.id(&m.UserID, "userId")
		case 4:
			return sc.id(&m.PreviousID, "previousId")
		case 5:
			return sc.id(&m.GroupID, "groupId")
		case 6:
			return sc.text(&m.Event, "event")
		case 7:
			return sc.text(&m.Name, "name")
		case 8:
			return sc.dict(&m.Properties, "properties")
		case 9:
			return sc.dict(&m.Traits, "traits")
		case 10:
			return obj(sc, &m.Context, &sc.rooms.contexts, "context", sc.context)
		case 11:
			return sc.text(&m.Timestamp, "timestamp")
		case 12:
			return sc.text(&m.OriginalTimestamp, "originalTimestamp")
		case 13:
			return sc.text(&m.SentAt, "sentAt")
		case 14:
			return sc.text(&m.WriteKey, "writeKey")
		}
		return sc.skip()
	})
}

// context reads a key of a message's context into c.
func (sc *scanner) context(c *messageContext, key string) error {
	switch field(key, contextKeys) {
	case 0:
		return obj(sc, &c.Campaign, &sc.rooms.campaigns, "context.campaign", func(cp *campaign, key string) error {
			return sc.texts(key, campaignKeys, "context.campaign.", &cp.Name, &cp.Source, &cp.Medium, &cp.Term, &cp.Content)
		})
	case 1:
		return obj(sc, &c.Page, &sc.rooms.pages, "context.page", func(p *page, key string) error {
			return sc.texts(key, pageKeys, "context.page.", &p.URL, &p.Referrer)
		})
	case 2:
		return sc.text(&c.UserAgent, "context.userAgent")
	case 3:
		return sc.text(&c.IP, "context.ip")
	case 4:
		return sc.dict(&c.Traits, "context.traits")
	case 5:
		return obj(sc, &c.Device, &sc.rooms.devices, "context.device", func(d *device, key string) error {
			return sc.texts(key, deviceKeys, "context.device.", &d.Type)
		})
	case 6:
		return obj(sc, &c.OS, &sc.rooms.oses, "context.os", func(o *osInfo, key string) error {
			return sc.texts(key, osKeys, "context.os.", &o.Name)
		})
	case 7:
		return obj(sc, &c.Location, &sc.rooms.locations, "context.location", func(l *location, key string) error {
			return sc.texts(key, locationKeys, "context.location.", &l.Country)
		})
	}
	return sc.skip()
}

// texts reads key of an object of strings into the one of dsts whose name
// in names it is (as field finds it), and skips any other key; path,
// which names the object in errors, ends with a dot.
func (sc *scanner) texts(key string, names []string, path string, dsts ...*string) error {
	i := field(key, names)
	if i < 0 {
		return sc.skip()
	}
	switch sc.peek() {
	case '"', 'n':
		return sc.text(dsts[i], "")
	}
	return sc.mismatch(path+names[i], "a string")
}

// end checks that nothing but white space follows the value.
func (sc *scanner) end() error {
	if sc.peek(); sc.i < len(sc.s) {
		return &syntaxError{msg: "data after the JSON value", off: sc.i}
	}
	return nil
}

// decodeMessage reads body, one Segment message. The error is the
// body's syntax error, or the first value of a wrong type.
func decodeMessage(body string) (*Message, error) {
	sc := &scanner{s: body, rooms: new(rooms)}
	m := &Message{}
	if err := sc.message(m); err != nil {
		return nil, err
	}
	if err := sc.end(); err != nil {
		return nil, err
	}
	if sc.bad != nil {
		return nil, sc.bad
	}
	return m, nil
}

// The keys of a batch call's body: its messages, and the others (no key
// of one list is another's in another case).
var (
	batchKeys  = []string{"batch"}
	headerKeys = []string{"sentAt", "writeKey"}
)

// The bytes of a batch's body per message and per member of a dict that
// decodeBatch makes room for at first.
const (
	batchBytesPerMessage = 512
	batchBytesPerMember  = 128
)

// decodeBatch reads the body of a batch call in one pass. A message of
// the wrong shape is refused alone; the error is the body's (a syntax
// error, or a body that is not a batch). A message without a messageId
// keeps its JSON, which its event id is made of.
func decodeBatch(body string) ([]record, batchHeader, error) {
	return new(scratch).decodeBatch(body)
}

// decodeBatch is decodeBatch reading the messages and their dicts' members
// into w's room, which it keeps for the next batch. That room is made,
// from the body's length, as large as a batch of the analytics SDKs'
// messages (some hundreds of bytes each, a member in about every 150)
// needs, so that it is not grown by copying while read.
func (w *scratch) decodeBatch(body string) ([]record, batchHeader, error) {
	w.rooms.reset()
	sc := &scanner{s: body, read: w.members(len(body)), rooms: &w.rooms}
	var (
		h       batchHeader
		msgs    = w.messages(len(body)) // every batch array is read into it, as encoding/json reuses a slice
		raws    []string                // the last batch array's messages
		bad     []error                 // and which of them are of the wrong shape
		arrays  int
		anyBad  bool
		readMsg = func(i int) error {
			switch {
			case i >= cap(msgs):
				msgs = append(msgs, Message{})
			case i >= len(msgs):
				msgs = msgs[:i+1]
			}
			w.written = max(w.written, i+1)
			start, outer := sc.i, sc.bad
			sc.bad = nil
			err := sc.message(&msgs[i])
			raws, bad = append(raws, sc.s[start:sc.i]), append(bad, sc.bad)
			anyBad = anyBad || sc.bad != nil
			sc.bad = outer
			return err
		}
	)
	defer func() {
		// The room kept is the largest either had.
		w.read = sc.read
		if cap(msgs) > cap(w.msgs) {
			w.msgs = msgs
		}
	}()
	err := sc.fields("body", nothing, nothing, func(key string) error {
		if field(key, batchKeys) < 0 {
			return sc.texts(key, headerKeys, "", &h.SentAt, &h.WriteKey)
		}
		arrays++
		raws, bad = raws[:0], bad[:0]
		switch sc.peek() {
		case '[':
			n := 0
			if err := sc.array(func(i int) error { n = i + 1; return readMsg(i) }); err != nil {
				return err
			}
			msgs = msgs[:n]
			if n == 0 {
				msgs = []Message{}
			}
			return nil
		case 'n':
			msgs = nil
			return sc.literal()
		}
		return sc.mismatch("batch", "an array")
	})
	if err == nil {
		err = sc.end()
	}
	if err == nil {
		err = sc.bad
	}
	if err != nil {
		return nil, batchHeader{}, err
	}
	// encoding/json read a batch in one pass into a slice of messages kept
	// from one "batch" key to the next (a repeated key's messages were read
	// into the earlier one's), as msgs is; but when a message was of the
	// wrong shape or had no messageId, it read each message of the last
	// array on its own. With one batch array the two are the same; with
	// several, each message of the last one is then read again.
	again := arrays > 1 && (anyBad || slices.ContainsFunc(msgs, func(m Message) bool { return m.MessageID == "" }))
	recs := make([]record, len(raws))
	for i := range recs {
		switch {
		case again:
			recs[i] = messageRecord(raws[i], "")
		case bad[i] != nil:
			recs[i] = badMessage(bad[i])
		default:
			recs[i] = record{raw: raws[i], msg: &msgs[i]}
		}
	}
	return recs, h, nil
}
