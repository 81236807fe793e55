package avro

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// maxDepth bounds how deeply records, arrays, maps and unions may nest in one
// body, so that a recursive schema cannot make a small record recurse without
// end.
const maxDepth = 100

// shape is an Avro schema reduced to what walking a binary body needs.
type shape struct {
	kind   string   // a primitive type name, or fixed, enum, array, map, union, record
	size   int      // the size of a fixed, the number of symbols of an enum
	items  *shape   // the items of an array, the values of a map
	fields []*shape // the fields of a record, the branches of a union
	min    int      // the fewest bytes a value of this shape takes, -1 until computed
}

// mapKey is the shape of a map's keys.
var mapKey = &shape{kind: "string", min: 1}

var primitiveSizes = map[string]int{
	"null": 0, "boolean": 1, "int": 1, "long": 1, "float": 4, "double": 8, "bytes": 1, "string": 1,
}

// parseShape parses the JSON text of a schema that goavro compiled.
func parseShape(text string) (*shape, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("parsing schema: %w", err)
	}
	p := shapeParser{named: map[string]*shape{}}
	s, err := p.parse(raw, "")
	if err != nil {
		return nil, err
	}
	s.minSize()
	return s, nil
}

type shapeParser struct {
	named map[string]*shape // by full name
}

func (p *shapeParser) parse(raw any, namespace string) (*shape, error) {
	switch v := raw.(type) {
	case string:
		return p.reference(v, namespace)
	case []any:
		u := &shape{kind: "union", min: -1}
		for _, b := range v {
			s, err := p.parse(b, namespace)
			if err != nil {
				return nil, err
			}
			u.fields = append(u.fields, s)
		}
		return u, nil
	case map[string]any:
		return p.complex(v, namespace)
	default:
		return nil, fmt.Errorf("schema has a %T where a type belongs", raw)
	}
}

func (p *shapeParser) reference(name, namespace string) (*shape, error) {
	if _, ok := primitiveSizes[name]; ok {
		return &shape{kind: name, min: -1}, nil
	}
	if !strings.Contains(name, ".") && namespace != "" {
		if s, ok := p.named[namespace+"."+name]; ok {
			return s, nil
		}
	}
	if s, ok := p.named[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("schema refers to unknown type %q", name)
}

func (p *shapeParser) complex(m map[string]any, namespace string) (*shape, error) {
	typ, ok := m["type"].(string)
	if !ok {
		return p.parse(m["type"], namespace)
	}
	s := &shape{kind: typ, min: -1}
	switch typ {
	case "record", "error", "enum", "fixed":
		if typ == "error" {
			s.kind = "record"
		}
		name, _ := m["name"].(string)
		if ns, ok := m["namespace"].(string); ok && !strings.Contains(name, ".") {
			namespace = ns
		}
		full := name
		if !strings.Contains(name, ".") && namespace != "" {
			full = namespace + "." + name
		}
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			namespace = full[:i]
		}
		p.named[full] = s
	case "array", "map":
		key := map[string]string{"array": "items", "map": "values"}[typ]
		items, err := p.parse(m[key], namespace)
		if err != nil {
			return nil, err
		}
		s.items = items
		return s, nil
	default:
		return p.reference(typ, namespace)
	}
	switch s.kind {
	case "enum":
		symbols, _ := m["symbols"].([]any)
		s.size = len(symbols)
	case "fixed":
		size, _ := m["size"].(float64)
		s.size = int(size)
	case "record":
		fields, _ := m["fields"].([]any)
		for _, f := range fields {
			fm, _ := f.(map[string]any)
			fs, err := p.parse(fm["type"], namespace)
			if err != nil {
				return nil, fmt.Errorf("field %v: %w", fm["name"], err)
			}
			s.fields = append(s.fields, fs)
		}
	}
	return s, nil
}

// minSize returns the fewest bytes a value of s takes. A record met again
// while its own size is being computed counts as 0, a lower bound.
func (s *shape) minSize() int {
	if s.min >= 0 {
		return s.min
	}
	s.min = 0
	switch s.kind {
	case "fixed":
		s.min = s.size
	case "enum", "array", "map", "union":
		s.min = 1
		for _, f := range s.fields { // a union's branches are walked once, for their own sizes
			f.minSize()
		}
		if s.items != nil {
			s.items.minSize()
		}
	case "record":
		n := 0
		for _, f := range s.fields {
			n += f.minSize()
		}
		s.min = n
	default:
		s.min = primitiveSizes[s.kind]
	}
	return s.min
}

// freeAllowance is how many values that take no bytes (null, records of
// such values) a body may hold beyond one per byte: enough for any schema's
// optional fields, too few to matter for memory.
const freeAllowance = 4096

// checkBody walks body as a value of s without building it, and fails when a
// length, a count, an index or a varint cannot be right: a string, bytes or
// fixed longer than what remains, an array or map block claiming more items
// than the remaining bytes can hold, a negative length or count, a union or
// enum index out of range, a varint longer than its type allows, nesting
// deeper than maxDepth, or trailing bytes. Values that take no bytes are
// counted too: at most len(body) + freeAllowance of them, so that an array
// of nulls or of records of nulls cannot make a small body claim many. A
// body that passes decodes to at most a few values per byte, so memory is
// in proportion to its size.
func checkBody(s *shape, body []byte) error {
	w := walker{b: body, free: len(body) + freeAllowance}
	if err := w.value(s, 0); err != nil {
		return err
	}
	if w.pos != len(body) {
		return fmt.Errorf("%d trailing bytes", len(body)-w.pos)
	}
	return nil
}

type walker struct {
	b    []byte
	pos  int
	free int // values taking no bytes that the rest of the body may still hold
}

func (w *walker) left() int { return len(w.b) - w.pos }

func (w *walker) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", w.pos, fmt.Sprintf(format, args...))
}

// varint reads a zig-zag varint of a value of bits bits: at most
// ceil(bits/7) bytes, the last of which carries the bits that remain and
// ends the varint.
func (w *walker) varint(what string, bits int) (int64, error) {
	maxBytes := (bits + 6) / 7
	lastMax := byte(1)<<(bits-7*(maxBytes-1)) - 1
	var u uint64
	for i := 0; ; i++ {
		if w.pos >= len(w.b) {
			return 0, w.errorf("%s: varint cut short", what)
		}
		c := w.b[w.pos]
		w.pos++
		if i == maxBytes-1 && c > lastMax {
			return 0, w.errorf("%s: varint does not fit in %d bits", what, bits)
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (w *walker) long(what string) (int64, error) { return w.varint(what, 64) }

// length reads a non-negative length that the remaining bytes can hold.
func (w *walker) length(what string) (int, error) {
	n, err := w.long(what)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > int64(w.left()) {
		return 0, w.errorf("%s claims %d bytes, %d remain", what, n, w.left())
	}
	return int(n), nil
}

func (w *walker) skip(what string, n int) error {
	if n > w.left() {
		return w.errorf("%s needs %d bytes, %d remain", what, n, w.left())
	}
	w.pos += n
	return nil
}

// index reads an enum or union index below n.
func (w *walker) index(what string, n int) (int, error) {
	i, err := w.long(what)
	if err != nil {
		return 0, err
	}
	if i < 0 || i >= int64(n) {
		return 0, w.errorf("%s index %d out of range [0, %d)", what, i, n)
	}
	return int(i), nil
}

// value walks one value of s, and counts it against the budget of values
// that take no bytes when it took none.
func (w *walker) value(s *shape, depth int) error {
	if depth > maxDepth {
		return w.errorf("nested deeper than %d levels", maxDepth)
	}
	start := w.pos
	if err := w.walk(s, depth); err != nil {
		return err
	}
	if w.pos == start {
		if w.free == 0 {
			return w.errorf("more values taking no bytes than %d", len(w.b)+freeAllowance)
		}
		w.free--
	}
	return nil
}

func (w *walker) walk(s *shape, depth int) error {
	switch s.kind {
	case "null":
		return nil
	case "boolean":
		if w.left() < 1 || w.b[w.pos] > 1 {
			return w.errorf("boolean is not 0 or 1")
		}
		w.pos++
		return nil
	case "int":
		_, err := w.varint("int", 32)
		return err
	case "long":
		_, err := w.long("long")
		return err
	case "float", "double", "fixed":
		return w.skip(s.kind, s.minSize())
	case "bytes", "string":
		n, err := w.length(s.kind)
		if err != nil {
			return err
		}
		w.pos += n
		return nil
	case "enum":
		_, err := w.index("enum", s.size)
		return err
	case "union":
		i, err := w.index("union", len(s.fields))
		if err != nil {
			return err
		}
		return w.value(s.fields[i], depth+1)
	case "record":
		for _, f := range s.fields {
			if err := w.value(f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case "array", "map":
		return w.blocks(s, depth)
	default:
		return w.errorf("unknown type %s", s.kind)
	}
}

// blocks walks the blocks of an array or map: a count, for a negative count
// its byte size, then the items, until a count of 0.
func (w *walker) blocks(s *shape, depth int) error {
	per := s.items.minSize()
	if s.kind == "map" {
		per++ // the key's length
	}
	for {
		n, err := w.long(s.kind + " block count")
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		start, end := w.pos, -1
		if n < 0 {
			if n == math.MinInt64 {
				return w.errorf("%s block count %d", s.kind, n)
			}
			n = -n
			size, err := w.length(s.kind + " block size")
			if err != nil {
				return err
			}
			start, end = w.pos, w.pos+size
		}
		if per > 0 && n > int64(w.left()/per) || per == 0 && n > int64(w.free) {
			return w.errorf("%s claims %d items, %d bytes remain", s.kind, n, w.left())
		}
		for i := int64(0); i < n; i++ {
			if s.kind == "map" {
				if err := w.value(mapKey, depth+1); err != nil {
					return err
				}
			}
			if err := w.value(s.items, depth+1); err != nil {
				return err
			}
		}
		if end >= 0 && w.pos != end {
			return w.errorf("%s block says %d bytes, its items took %d", s.kind, end-start, w.pos-start)
		}
	}
}
