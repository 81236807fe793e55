// Package engine keeps persons' audiences up to date: segment definitions
// from pipelines/segments.yaml (CEL conditions over per-person features such
// as counts and sums of events in sliding event-time windows, days since an
// event, RFM scores) are evaluated on every event and on timers, and every
// entry and exit is reported with the feature values that decided it.
//
// A Processor holds the state of the persons of one partition and processes
// their events in event time: events wait until the partition's watermark
// (the earliest time the router has read its source partitions to, minus
// the allowed lateness) passes them, and events older than the watermark
// on arrival are dropped as too late. The
// changes it emits are therefore a function of the input alone, which is what
// makes a restart from the changelog, or a replay, produce the same changes.
// docs/segments.md is the reference.
package engine

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// DefinitionsFile is the name of the segment definitions file in the
// pipelines directory.
const DefinitionsFile = "segments.yaml"

// Definitions are the content of a segment definitions file.
type Definitions struct {
	// AllowedLateness is how far behind the latest event time an event may
	// arrive and still count. Default 5m.
	AllowedLateness time.Duration
	// MaxKeptEvents bounds the events kept per person for windowed
	// features; beyond it the oldest go, and windowed features of such a
	// person count only the newest. It keeps memory and changelog records
	// bounded for bots and test accounts. Default 1000.
	MaxKeptEvents int
	// MaxCost bounds the cost of one evaluation of a feature or a segment
	// condition, in CEL cost units: an expression whose estimated cost may
	// exceed it is refused, and an evaluation that reaches it at run time
	// is stopped. Default DefaultMaxCost.
	MaxCost uint64
	// RFM are the fixed bands of the RFM scores.
	RFM RFM
	// Features are named CEL expressions that segments may use as variables.
	Features []*Feature
	// Segments are the audiences, in file order.
	Segments []*Segment

	// specs are the feature functions the expressions call, by key.
	specs map[string]spec
	// rfmKeys are the keys of the lifetime count and revenue of RFM's
	// event type.
	rfmKeys [2]string
	// offsets are the durations after an event at which a condition may
	// change without a new event: windows and durations written in the
	// definitions.
	offsets []time.Duration
	// sinceTypes are the event types of since() and days_since() calls.
	sinceTypes []string
	// tracksLast holds the event types whose latest event persons keep.
	tracksLast map[string]bool
	// maxWindow is the longest window: how long events are kept.
	maxWindow time.Duration
	env       *cel.Env
	estimator *costEstimator
}

// RFM holds the fixed bands of recency (days since the last purchase, at
// most), frequency (purchases, at least) and monetary (revenue, at least)
// scores: four ascending bounds each, for the scores 5 to 2 (recency) or 2
// to 5 (frequency, monetary); a person without purchases scores 0.
type RFM struct {
	EventType string
	Recency   [4]float64
	Frequency [4]float64
	Monetary  [4]float64
}

// Feature is a named expression.
type Feature struct {
	Name string
	Expr string
	Line int
	checked
}

// Segment is one audience.
type Segment struct {
	Name        string
	Description string
	// When is the CEL condition of membership.
	When string
	Line int
	checked
}

// checked is a type-checked expression and what its cost estimate found.
type checked struct {
	ast *cel.Ast
	// Cost is the estimated cost of its most expensive evaluation.
	Cost uint64
	// dynamic reports an expression that reads strings of events through
	// last(), directly or through a named feature: the only values whose
	// size the estimate assumes rather than knows, so the only expressions
	// whose evaluation needs the cost limit at run time.
	dynamic bool
}

// defaultDefinitions returns empty definitions with the defaults.
func defaultDefinitions() *Definitions {
	return &Definitions{
		AllowedLateness: 5 * time.Minute,
		MaxKeptEvents:   1000,
		MaxCost:         DefaultMaxCost,
		RFM: RFM{EventType: "purchase", Recency: [4]float64{30, 90, 180, 365},
			Frequency: [4]float64{2, 3, 5, 10}, Monetary: [4]float64{100, 250, 500, 1000}},
		specs:      map[string]spec{},
		tracksLast: map[string]bool{},
	}
}

// LoadDefinitions reads the definitions at path; a bad file gives a
// *pipefile.ConfigError with path, line and reason.
func LoadDefinitions(path string) (*Definitions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("segment definitions: %w", err)
	}
	return ParseDefinitions(path, data)
}

var segmentName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseDefinitions reads definitions from data; name is the file name used
// in errors.
func ParseDefinitions(name string, data []byte) (*Definitions, error) {
	d := defaultDefinitions()
	d.estimator = &costEstimator{d: d, sizes: map[string]checker.SizeEstimate{}, dynamic: map[string]bool{}}
	root, err := pipefile.Document(name, data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, pipefile.Errorf(name, 0, "no segments defined")
	}
	top, err := pipefile.Pairs(name, root, "top level")
	if err != nil {
		return nil, err
	}
	var errs pipefile.List
	var featureNodes, segmentNodes *yaml.Node
	for _, kv := range top {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "allowed_lateness":
			if d.AllowedLateness, err = duration(v); err != nil {
				errs.Add(name, pipefile.Errorf(name, v.Line, "allowed_lateness: %v", err))
			}
		case "max_kept_events":
			if v.Kind != yaml.ScalarNode || v.Decode(&d.MaxKeptEvents) != nil || d.MaxKeptEvents < 1 {
				errs.Add(name, pipefile.Errorf(name, v.Line, "max_kept_events: want a whole number, at least 1"))
			}
		case "max_cost":
			if v.Kind != yaml.ScalarNode || v.Decode(&d.MaxCost) != nil || d.MaxCost < 1 {
				errs.Add(name, pipefile.Errorf(name, v.Line, "max_cost: want a whole number, at least 1"))
			}
		case "rfm":
			errs.Add(name, d.RFM.parse(name, v))
		case "features":
			featureNodes = v
		case "segments":
			segmentNodes = v
		default:
			errs.Add(name, pipefile.Errorf(name, k.Line, "unknown key %q: want allowed_lateness, max_kept_events, max_cost, rfm, features or segments", k.Value))
		}
	}
	if segmentNodes == nil {
		errs.Add(name, pipefile.Errorf(name, root.Line, "no segments defined"))
		return nil, errs.Err()
	}
	if d.env, err = newEnv(nil); err != nil {
		return nil, err
	}
	if featureNodes != nil {
		errs.Add(name, d.parseFeatures(name, featureNodes))
	}
	errs.Add(name, d.parseSegments(name, segmentNodes))
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	d.finish()
	return d, nil
}

func duration(v *yaml.Node) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want a duration such as 5m or 1d")
	}
	return pipefile.ParseDuration(v.Value)
}

func (r *RFM) parse(file string, n *yaml.Node) error {
	pairs, err := pipefile.Pairs(file, n, "rfm")
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		var bands *[4]float64
		switch k.Value {
		case "event_type":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return pipefile.Errorf(file, v.Line, "rfm: event_type: want an event type")
			}
			r.EventType = v.Value
			continue
		case "recency_days":
			bands = &r.Recency
		case "frequency":
			bands = &r.Frequency
		case "monetary":
			bands = &r.Monetary
		default:
			return pipefile.Errorf(file, k.Line, "rfm: unknown key %q: want event_type, recency_days, frequency or monetary", k.Value)
		}
		var values []float64
		if v.Decode(&values) != nil || len(values) != 4 || !sort.Float64sAreSorted(values) || values[0] < 0 {
			return pipefile.Errorf(file, v.Line, "rfm: %s: want four ascending, non-negative bounds", k.Value)
		}
		copy(bands[:], values)
	}
	return nil
}

func (d *Definitions) parseFeatures(file string, n *yaml.Node) error {
	pairs, err := pipefile.Pairs(file, n, "features")
	if err != nil {
		return err
	}
	var errs pipefile.List
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		if err := d.parseFeature(file, k, v); err != nil {
			errs.Add(file, err)
			// Declared all the same, so that what uses it is not also
			// reported as referring to an unknown name.
			if env, err := d.env.Extend(cel.Variable(k.Value, cel.DynType)); err == nil {
				d.env = env
			}
		}
	}
	return errs.Err()
}

// parseFeature compiles feature k: v and adds it to d.
func (d *Definitions) parseFeature(file string, k, v *yaml.Node) error {
	if !segmentName.MatchString(k.Value) {
		return pipefile.Errorf(file, k.Line, "feature %q: want a name of lower-case letters, digits and _", k.Value)
	}
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return pipefile.Errorf(file, v.Line, "feature %q: want a CEL expression", k.Value)
	}
	f := &Feature{Name: k.Value, Expr: v.Value, Line: v.Line}
	var err error
	if f.checked, err = d.compile(file, v, "feature "+f.Name, nil); err != nil {
		return err
	}
	if size, ok := d.estimator.sizeOf(f.ast.NativeRep().Expr()); ok {
		d.estimator.sizes[f.Name] = size
	}
	d.estimator.dynamic[f.Name] = f.dynamic
	// Later features and the segments see this one as a variable.
	if d.env, err = d.env.Extend(cel.Variable(f.Name, f.ast.OutputType())); err != nil {
		return pipefile.Errorf(file, v.Line, "feature %q: %v", f.Name, err)
	}
	d.Features = append(d.Features, f)
	return nil
}

func (d *Definitions) parseSegments(file string, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return pipefile.Errorf(file, n.Line, "segments: want a list of segments")
	}
	seen := map[string]int{}
	var errs pipefile.List
	for i, item := range n.Content {
		errs.Add(file, d.parseSegment(file, pipefile.Deref(item), i, seen))
	}
	return errs.Err()
}

// parseSegment compiles the i-th segment, item, and adds it to d; seen
// holds the lines of the names before it.
func (d *Definitions) parseSegment(file string, item *yaml.Node, i int, seen map[string]int) error {
	what := fmt.Sprintf("segment %d", i+1)
	pairs, err := pipefile.Pairs(file, item, what)
	if err != nil {
		return err
	}
	s := &Segment{Line: item.Line}
	var when *yaml.Node
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		if v.Kind != yaml.ScalarNode {
			return pipefile.Errorf(file, v.Line, "%s: %s: want a value", what, k.Value)
		}
		switch k.Value {
		case "name":
			s.Name = v.Value
			what = fmt.Sprintf("segment %q", s.Name)
			if !segmentName.MatchString(s.Name) {
				return pipefile.Errorf(file, v.Line, "%s: want a name of lower-case letters, digits and _", what)
			}
		case "description":
			s.Description = v.Value
		case "when":
			s.When, when = v.Value, v
		default:
			return pipefile.Errorf(file, k.Line, "%s: unknown key %q: want name, description or when", what, k.Value)
		}
	}
	switch {
	case s.Name == "":
		return pipefile.Errorf(file, item.Line, "%s: name is missing", what)
	case when == nil:
		return pipefile.Errorf(file, item.Line, "%s: when is missing: want a CEL condition", what)
	}
	if first, dup := seen[s.Name]; dup {
		return pipefile.Errorf(file, item.Line, "%s: duplicate name (first on line %d)", what, first)
	}
	seen[s.Name] = item.Line
	if s.checked, err = d.compile(file, when, what, types.BoolType); err != nil {
		return err
	}
	d.Segments = append(d.Segments, s)
	return nil
}

// compile checks the CEL expression of node n: it must compile, have type
// want (when set), call the feature functions with literal arguments, and
// cost at most MaxCost; the calls become specs.
func (d *Definitions) compile(file string, n *yaml.Node, what string, want *types.Type) (checked, error) {
	line := func(exprLine int) int {
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return n.Line + exprLine
		}
		return n.Line + max(exprLine, 1) - 1
	}
	ast, iss := d.env.Compile(n.Value)
	if iss.Err() != nil {
		e := iss.Errors()[0]
		return checked{}, pipefile.Errorf(file, line(e.Location.Line()), "%s: %s (column %d of the expression)", what, e.Message, e.Location.Column()+1)
	}
	if want != nil && !ast.OutputType().IsExactType(want) {
		return checked{}, pipefile.Errorf(file, n.Line, "%s: the condition is of type %s, want bool", what, ast.OutputType())
	}
	var problem error
	c := checked{ast: ast}
	info := ast.NativeRep().SourceInfo()
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if problem != nil {
			return
		}
		switch e.Kind() {
		case celast.IdentKind:
			c.dynamic = c.dynamic || d.estimator.dynamic[e.AsIdent()]
		case celast.CallKind:
			c.dynamic = c.dynamic || function(e.AsCall().FunctionName()) == fnLast
			if dur, ok := durationLiteral(e.AsCall()); ok {
				d.offsets = append(d.offsets, dur)
			}
			if s, err := specOf(e.AsCall()); err != nil {
				loc := info.GetStartLocation(e.ID())
				problem = pipefile.Errorf(file, line(loc.Line()), "%s: %v (column %d of the expression)", what, err, loc.Column()+1)
			} else if s != nil {
				d.addSpec(*s)
			}
		}
	}))
	if problem != nil {
		return checked{}, problem
	}
	var err error
	if c.Cost, err = d.checkCost(ast); err != nil {
		return checked{}, pipefile.Errorf(file, n.Line, "%s: %v", what, err)
	}
	return c, nil
}

// durationLiteral returns the duration of a call duration("1h") with a
// literal argument.
func durationLiteral(call celast.CallExpr) (time.Duration, bool) {
	if call.FunctionName() != "duration" || len(call.Args()) != 1 || call.Args()[0].Kind() != celast.LiteralKind {
		return 0, false
	}
	s, ok := call.Args()[0].AsLiteral().Value().(string)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// addSpec records a feature function call.
func (d *Definitions) addSpec(s spec) {
	if s.fn == fnRFM {
		for i, l := range []spec{rfmCount(d.RFM), rfmRevenue(d.RFM)} {
			d.rfmKeys[i] = l.key()
			d.specs[d.rfmKeys[i]] = l
		}
		d.trackSince(d.RFM.EventType)
		return
	}
	d.specs[s.key()] = s
	if s.window > 0 {
		d.offsets = append(d.offsets, s.window)
		d.maxWindow = max(d.maxWindow, s.window)
	}
	switch s.fn {
	case fnLast, fnLastTime:
		d.tracksLast[s.eventType] = true
	case fnSince, fnDaysSince:
		d.trackSince(s.eventType)
	}
}

// reads reports whether a feature function of d reads e: counts it, or
// keeps it as the latest of its type. An event that none reads changes no
// person's state, hence no membership.
func (d *Definitions) reads(e *Event) bool {
	if d.tracksLast[e.Type] {
		return true
	}
	for _, s := range d.specs {
		if s.matches(e) {
			return true
		}
	}
	return false
}

// trackSince makes persons keep the latest event of type t and be
// evaluated when durations pass since it.
func (d *Definitions) trackSince(t string) {
	d.tracksLast[t] = true
	if !slices.Contains(d.sinceTypes, t) {
		d.sinceTypes = append(d.sinceTypes, t)
	}
}

// finish sorts what compile collected.
func (d *Definitions) finish() {
	sort.Slice(d.offsets, func(i, j int) bool { return d.offsets[i] < d.offsets[j] })
	var offsets []time.Duration
	for i, o := range d.offsets {
		if o > 0 && (i == 0 || o != d.offsets[i-1]) {
			offsets = append(offsets, o)
		}
	}
	d.offsets = offsets
	sort.Strings(d.sinceTypes)
}

// Segment returns the segment named name, or nil.
func (d *Definitions) Segment(name string) *Segment {
	for _, s := range d.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Names lists the segments' names in file order.
func (d *Definitions) Names() []string {
	names := make([]string, len(d.Segments))
	for i, s := range d.Segments {
		names[i] = s.Name
	}
	return names
}
