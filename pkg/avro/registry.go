package avro

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/touchline-io/touchline/schemas"
)

// Kind names a record kind touchline ships a schema for.
type Kind string

// The record kinds.
const (
	KindTouchpoint Kind = "touchpoint"
	KindSpend      Kind = "spend"
	KindAlert      Kind = "alert"
	KindSegment    Kind = "segment_change"
	KindRate       Kind = "exchange_rate"
)

// Shipped describes a schema version shipped in schemas/avro and the id it has
// when no Schema Registry is configured.
type Shipped struct {
	Kind    Kind
	Version int
	ID      int
	File    string
}

// ShippedSchemas lists the shipped schemas. Ids are fixed forever: a new
// version gets a new id.
var ShippedSchemas = []Shipped{
	{Kind: KindTouchpoint, Version: 1, ID: 1, File: "avro/touchpoint.v1.avsc"},
	{Kind: KindSpend, Version: 1, ID: 2, File: "avro/spend.v1.avsc"},
	{Kind: KindAlert, Version: 1, ID: 3, File: "avro/alert.v1.avsc"},
	{Kind: KindSegment, Version: 1, ID: 4, File: "avro/segment_change.v1.avsc"},
	{Kind: KindRate, Version: 1, ID: 5, File: "avro/exchange_rate.v1.avsc"},
	{Kind: KindAlert, Version: 2, ID: 6, File: "avro/alert.v2.avsc"},
}

// Latest returns the newest shipped schema of kind k.
func Latest(k Kind) Shipped {
	var best Shipped
	for _, s := range ShippedSchemas {
		if s.Kind == k && s.Version > best.Version {
			best = s
		}
	}
	return best
}

// Text returns the schema's JSON text.
func (s Shipped) Text() (string, error) {
	b, err := fs.ReadFile(schemas.Avro, s.File)
	if err != nil {
		return "", fmt.Errorf("reading shipped schema %s: %w", s.File, err)
	}
	return string(b), nil
}

// RegisterLatest registers the newest shipped schema of kind k under
// <topic>-value (the topic-name strategy) and returns its id.
func RegisterLatest(ctx context.Context, reg Registry, k Kind, topic string) (int, error) {
	text, err := Latest(k).Text()
	if err != nil {
		return 0, err
	}
	return reg.Register(ctx, topic+"-value", text)
}

// Registry resolves schema ids to their schema text and registers schemas.
// Implementations are safe for concurrent use.
type Registry interface {
	// SchemaText returns the schema with id, or an error wrapping
	// ErrUnknownSchema.
	SchemaText(ctx context.Context, id int) (string, error)
	// Register returns the id of schema text under subject, registering it
	// if needed.
	Register(ctx context.Context, subject, text string) (int, error)
}

// StaticRegistry is a Registry of the shipped schemas with their fixed ids,
// used when no Schema Registry is configured. It registers nothing: Register
// only finds shipped schemas.
type StaticRegistry struct {
	byID map[int]string
}

// NewStaticRegistry returns the registry of the shipped schemas.
func NewStaticRegistry() (*StaticRegistry, error) {
	r := &StaticRegistry{byID: map[int]string{}}
	for _, s := range ShippedSchemas {
		text, err := s.Text()
		if err != nil {
			return nil, err
		}
		r.byID[s.ID] = text
	}
	return r, nil
}

// SchemaText implements Registry.
func (r *StaticRegistry) SchemaText(_ context.Context, id int) (string, error) {
	text, ok := r.byID[id]
	if !ok {
		return "", fmt.Errorf("%w: %d (no Schema Registry configured; known ids: %s)", ErrUnknownSchema, id, r.ids())
	}
	return text, nil
}

// Register implements Registry for shipped schemas only.
func (r *StaticRegistry) Register(_ context.Context, subject, text string) (int, error) {
	for id, known := range r.byID {
		if known == text {
			return id, nil
		}
	}
	return 0, fmt.Errorf("registering a schema under %s needs a Schema Registry", subject)
}

func (r *StaticRegistry) ids() string {
	ids := make([]string, 0, len(r.byID))
	for id := range r.byID {
		ids = append(ids, fmt.Sprint(id))
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// SchemaRegistry is a Registry backed by a Confluent-compatible Schema Registry.
type SchemaRegistry struct {
	cl *sr.Client
}

// NewSchemaRegistry returns a Registry talking to the Schema Registry cl.
func NewSchemaRegistry(cl *sr.Client) *SchemaRegistry { return &SchemaRegistry{cl: cl} }

// SchemaText implements Registry.
func (r *SchemaRegistry) SchemaText(ctx context.Context, id int) (string, error) {
	s, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return "", fmt.Errorf("%w: %d: %v", ErrUnknownSchema, id, err)
		}
		return "", fmt.Errorf("fetching schema %d from the Schema Registry: %w", id, err)
	}
	return s.Schema, nil
}

// Register implements Registry.
func (r *SchemaRegistry) Register(ctx context.Context, subject, text string) (int, error) {
	id, err := r.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("registering schema under %s: %w", subject, err)
	}
	return id, nil
}

// Codecs caches compiled codecs by schema id over a Registry. It is safe for
// concurrent use.
type Codecs struct {
	reg Registry
	// byID holds the compiled schemas. It is read for every record, by
	// many goroutines at once, so it is a map never changed once stored:
	// adding a schema stores a copy with it. A read lock would write to
	// one counter that every core reading shares.
	byID atomic.Pointer[map[int]*compiled]
	// mu orders the additions to byID and guards known, the ids that
	// cannot be compiled (read only when byID lacks an id).
	mu    sync.Mutex
	known map[int]error
}

// compiled is a schema's codec and the shape that checks bodies before the
// codec decodes them.
type compiled struct {
	codec *goavro.Codec
	shape *shape
	// touchpoint says the schema is the shipped Touchpoint schema, which
	// the fast path reads and writes (touchpoint.go).
	touchpoint bool
}

// NewCodecs returns a codec cache over reg.
func NewCodecs(reg Registry) *Codecs {
	c := &Codecs{reg: reg, known: map[int]error{}}
	c.byID.Store(&map[int]*compiled{})
	return c
}

// Codec returns the compiled codec of schema id. Unknown ids are remembered,
// so a stream of records with a bad id costs one registry lookup.
func (c *Codecs) Codec(ctx context.Context, id int) (*goavro.Codec, error) {
	comp, err := c.compiled(ctx, id)
	if err != nil {
		return nil, err
	}
	return comp.codec, nil
}

func (c *Codecs) compiled(ctx context.Context, id int) (*compiled, error) {
	if comp, ok := (*c.byID.Load())[id]; ok {
		return comp, nil
	}
	c.mu.Lock()
	bad := c.known[id]
	c.mu.Unlock()
	if bad != nil {
		return nil, bad
	}
	text, err := c.reg.SchemaText(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownSchema) {
			c.remember(id, nil, err)
		}
		return nil, err
	}
	comp := &compiled{}
	if comp.codec, err = goavro.NewCodec(text); err == nil {
		comp.shape, err = parseShape(text)
	}
	if err != nil {
		err = fmt.Errorf("%w: schema %d does not compile: %v", ErrUnknownSchema, id, err)
		c.remember(id, nil, err)
		return nil, err
	}
	comp.touchpoint = isShippedTouchpoint(comp.codec, text)
	c.remember(id, comp, nil)
	return comp, nil
}

func (c *Codecs) remember(id int, comp *compiled, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if comp == nil {
		c.known[id] = err
		return
	}
	old := *c.byID.Load()
	if _, ok := old[id]; ok {
		return // compiled by another goroutine meanwhile
	}
	byID := make(map[int]*compiled, len(old)+1)
	maps.Copy(byID, old)
	byID[id] = comp
	c.byID.Store(&byID)
}

// Decode decodes a wire-format message to its schema id and native Avro
// record. Errors wrap ErrNotWireFormat, ErrUnknownSchema or ErrCorrupt, or are
// registry failures worth retrying. The body is checked against the writer's
// schema before it is decoded (checkBody), so a body whose lengths or counts
// lie is ErrCorrupt and decoding takes memory in proportion to its size.
func (c *Codecs) Decode(ctx context.Context, b []byte) (int, map[string]any, error) {
	id, body, err := SplitHeader(b)
	if err != nil {
		return 0, nil, err
	}
	comp, err := c.compiled(ctx, id)
	if err != nil {
		return id, nil, err
	}
	if err := checkBody(comp.shape, body); err != nil {
		return id, nil, fmt.Errorf("%w: schema %d: %v", ErrCorrupt, id, err)
	}
	native, rest, err := comp.codec.NativeFromBinary(body)
	if err != nil {
		return id, nil, fmt.Errorf("%w: schema %d: %s", ErrCorrupt, id, clip(err.Error()))
	}
	if len(rest) > 0 {
		return id, nil, fmt.Errorf("%w: schema %d: %d trailing bytes", ErrCorrupt, id, len(rest))
	}
	rec, ok := native.(map[string]any)
	if !ok {
		return id, nil, fmt.Errorf("%w: schema %d is not a record", ErrCorrupt, id)
	}
	return id, rec, nil
}

// maxErrorBytes bounds the codec's error text in a decoding error: it may
// quote a map key of any length, which then lands in logs and dead-letter
// headers.
const maxErrorBytes = 256

func clip(msg string) string {
	if len(msg) <= maxErrorBytes {
		return msg
	}
	return strings.ToValidUTF8(msg[:maxErrorBytes], "") + "..."
}

// Encode encodes native with schema id into a wire-format message.
func (c *Codecs) Encode(ctx context.Context, id int, native map[string]any) ([]byte, error) {
	codec, err := c.Codec(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := codec.BinaryFromNative(AppendHeader(make([]byte, 0, 256), id), native)
	if err != nil {
		return nil, fmt.Errorf("encoding with schema %d: %w", id, err)
	}
	return b, nil
}
