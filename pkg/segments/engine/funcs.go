package engine

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// The feature functions segments and features call. Arguments are literals.
// A window is a duration ("1h", "30d") or "lifetime"; a filter is a map of
// channel, campaign or property names to the value they must have.
//
//	count(type[, window[, filter]])             int: events
//	sum|min|max(type, field[, window[, filter]]) double: of field (revenue, or a numeric property); 0 without events
//	last(type, field)                           string: field of the latest event of type ("" without)
//	last_time(type)                             timestamp of the latest event of type (the epoch without)
//	since(type)                                 duration since the latest event of type (100000 days without)
//	days_since(type)                            int: whole days since it (-1 without)
//	rfm_recency(), rfm_frequency(), rfm_monetary()  int: 1 to 5 by the rfm bands, 0 without purchases
type function string

const (
	fnCount     function = "count"
	fnSum       function = "sum"
	fnMin       function = "min"
	fnMax       function = "max"
	fnLast      function = "last"
	fnLastTime  function = "last_time"
	fnSince     function = "since"
	fnDaysSince function = "days_since"
	fnRFM       function = "rfm"
)

// never is what since() answers for an event type a person never had.
const never = 100000 * 24 * time.Hour

// The RFM functions, each one spec of fnRFM with its field.
var rfmFunctions = map[string]string{"rfm_recency": "recency", "rfm_frequency": "frequency", "rfm_monetary": "monetary"}

// spec is one feature function call: what to compute for a person.
type spec struct {
	fn        function
	eventType string
	field     string
	window    time.Duration // 0: lifetime
	filter    [][2]string   // sorted by key
}

// key identifies the spec.
func (s spec) key() string { return s.call() }

// call renders the spec as the CEL call that asks for it, e.g.
// count("add_to_cart", "1h").
func (s spec) call() string {
	if s.fn == fnRFM {
		return "rfm_" + s.field + "()"
	}
	args := []string{strconv.Quote(s.eventType)}
	if s.field != "" {
		args = append(args, strconv.Quote(s.field))
	}
	if s.window > 0 || len(s.filter) > 0 {
		w := "lifetime"
		if s.window > 0 {
			w = pipefile.FormatDuration(s.window)
		}
		args = append(args, strconv.Quote(w))
	}
	if len(s.filter) > 0 {
		kvs := make([]string, len(s.filter))
		for i, kv := range s.filter {
			kvs[i] = strconv.Quote(kv[0]) + ": " + strconv.Quote(kv[1])
		}
		args = append(args, "{"+strings.Join(kvs, ", ")+"}")
	}
	return string(s.fn) + "(" + strings.Join(args, ", ") + ")"
}

// matches reports whether e is of the spec's type and passes its filter.
func (s spec) matches(e *Event) bool {
	if e.Type != s.eventType {
		return false
	}
	for _, kv := range s.filter {
		if e.field(kv[0]) != kv[1] {
			return false
		}
	}
	return true
}

// argument kinds of the functions' overloads.
const (
	argType   = "type"
	argField  = "field"
	argWindow = "window"
	argFilter = "filter"
)

// signatures lists every function's overloads as argument kinds.
var signatures = map[function][][]string{
	fnCount:     {{argType}, {argType, argWindow}, {argType, argWindow, argFilter}},
	fnSum:       {{argType, argField}, {argType, argField, argWindow}, {argType, argField, argWindow, argFilter}},
	fnMin:       {{argType, argField}, {argType, argField, argWindow}, {argType, argField, argWindow, argFilter}},
	fnMax:       {{argType, argField}, {argType, argField, argWindow}, {argType, argField, argWindow, argFilter}},
	fnLast:      {{argType, argField}},
	fnLastTime:  {{argType}},
	fnSince:     {{argType}},
	fnDaysSince: {{argType}},
}

// mapType is the Go type filters convert to.
var mapType = reflect.TypeOf(map[string]string{})

var resultTypes = map[function]*types.Type{
	fnCount: types.IntType, fnSum: types.DoubleType, fnMin: types.DoubleType, fnMax: types.DoubleType,
	fnLast: types.StringType, fnLastTime: types.TimestampType, fnSince: types.DurationType, fnDaysSince: types.IntType,
}

// binder computes feature function calls for the person being evaluated.
type binder interface {
	value(c *boundCall) ref.Val
}

// boundCall is a feature function call as evaluated: its spec, and its
// text (spec.call), which names it among a change's features and keys its
// lifetime aggregate.
type boundCall struct {
	spec spec
	text string
}

// callCache finds the boundCall of a call from its argument values without
// building a string: the arguments of every call in the definitions are
// literals, so the cache holds one entry per distinct call.
type callCache struct {
	key   []byte
	calls map[string]*boundCall
}

// get returns the boundCall of fn with vals, of argument kinds.
func (c *callCache) get(fn function, kinds []string, vals []ref.Val) (*boundCall, error) {
	c.key = append(c.key[:0], fn...)
	for i, v := range vals {
		str, ok := v.(types.String) // not Value(), which allocates
		if kinds[i] == argFilter || !ok {
			return c.build(fn, kinds, vals) // a filter map: not cached
		}
		c.key = append(append(c.key, 0), str...)
	}
	if bc, ok := c.calls[string(c.key)]; ok {
		return bc, nil
	}
	bc, err := c.build(fn, kinds, vals)
	if err == nil {
		c.calls[string(c.key)] = bc
	}
	return bc, err
}

func (c *callCache) build(fn function, kinds []string, vals []ref.Val) (*boundCall, error) {
	s, err := specFromValues(fn, kinds, vals)
	if err != nil {
		return nil, err
	}
	return &boundCall{spec: s, text: s.call()}, nil
}

// newEnv returns the CEL environment of the feature functions, bound to b
// (nil: declarations only, for checking).
func newEnv(b binder) (*cel.Env, error) {
	var opts []cel.EnvOption
	cache := &callCache{calls: map[string]*boundCall{}}
	for fn, overloads := range signatures {
		var fopts []cel.FunctionOpt
		for _, kinds := range overloads {
			args := make([]*types.Type, len(kinds))
			for i, k := range kinds {
				args[i] = types.StringType
				if k == argFilter {
					args[i] = types.NewMapType(types.StringType, types.StringType)
				}
			}
			var oopts []cel.OverloadOpt
			if b != nil {
				fn, kinds := fn, kinds
				oopts = append(oopts, cel.FunctionBinding(func(vals ...ref.Val) ref.Val {
					c, err := cache.get(fn, kinds, vals)
					if err != nil {
						return types.NewErr("%v", err)
					}
					return b.value(c)
				}))
			}
			fopts = append(fopts, cel.Overload(fmt.Sprintf("%s_%d", fn, len(kinds)), args, resultTypes[fn], oopts...))
		}
		opts = append(opts, cel.Function(string(fn), fopts...))
	}
	for name, field := range rfmFunctions {
		var oopts []cel.OverloadOpt
		if b != nil {
			s := spec{fn: fnRFM, field: field}
			c := &boundCall{spec: s, text: s.call()}
			oopts = append(oopts, cel.FunctionBinding(func(...ref.Val) ref.Val { return b.value(c) }))
		}
		opts = append(opts, cel.Function(name, cel.Overload(name+"_0", nil, types.IntType, oopts...)))
	}
	return cel.NewEnv(opts...)
}

// specOf returns the spec of a call to a feature function, nil for other
// functions, or an error when an argument is not a literal or is invalid.
func specOf(call celast.CallExpr) (*spec, error) {
	name := call.FunctionName()
	if field, ok := rfmFunctions[name]; ok {
		return &spec{fn: fnRFM, field: field}, nil
	}
	fn := function(name)
	if _, ok := signatures[fn]; !ok {
		return nil, nil
	}
	vals := make([]ref.Val, len(call.Args()))
	for i, a := range call.Args() {
		v, err := literal(a)
		if err != nil {
			return nil, fmt.Errorf("%s: argument %d: %v", name, i+1, err)
		}
		vals[i] = v
	}
	kinds := overload(fn, len(vals))
	if kinds == nil {
		return nil, fmt.Errorf("%s takes no %d arguments", name, len(vals))
	}
	s, err := specFromValues(fn, kinds, vals)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &s, nil
}

// overload returns the argument kinds of fn's overload of n arguments.
func overload(fn function, n int) []string {
	for _, kinds := range signatures[fn] {
		if len(kinds) == n {
			return kinds
		}
	}
	return nil
}

// literal returns the value of a literal string or a map literal of
// strings.
func literal(e celast.Expr) (ref.Val, error) {
	switch e.Kind() {
	case celast.LiteralKind:
		return e.AsLiteral(), nil
	case celast.MapKind:
		m := map[string]string{}
		for _, entry := range e.AsMap().Entries() {
			me := entry.AsMapEntry()
			k, v := me.Key(), me.Value()
			if k.Kind() != celast.LiteralKind || v.Kind() != celast.LiteralKind {
				return nil, fmt.Errorf("a filter's keys and values must be literal strings")
			}
			ks, kok := k.AsLiteral().Value().(string)
			vs, vok := v.AsLiteral().Value().(string)
			if !kok || !vok {
				return nil, fmt.Errorf("a filter's keys and values must be literal strings")
			}
			m[ks] = vs
		}
		return types.DefaultTypeAdapter.NativeToValue(m), nil
	}
	return nil, fmt.Errorf("want a literal, so the feature can be kept up to date as events arrive")
}

// specFromValues builds the spec of a call of fn with arguments of kinds.
func specFromValues(fn function, kinds []string, vals []ref.Val) (spec, error) {
	s := spec{fn: fn}
	for i, k := range kinds {
		switch k {
		case argFilter:
			native, err := vals[i].ConvertToNative(mapType)
			if err != nil {
				return s, fmt.Errorf("filter: %v", err)
			}
			for key, value := range native.(map[string]string) {
				s.filter = append(s.filter, [2]string{key, value})
			}
			sort.Slice(s.filter, func(a, b int) bool { return s.filter[a][0] < s.filter[b][0] })
			continue
		}
		str, ok := vals[i].Value().(string)
		if !ok || str == "" {
			return s, fmt.Errorf("%s: want a non-empty string", k)
		}
		switch k {
		case argType:
			s.eventType = str
		case argField:
			s.field = str
		case argWindow:
			if str == "lifetime" {
				continue
			}
			w, err := pipefile.ParseDuration(str)
			if errors.Is(err, pipefile.ErrDurationRange) {
				return s, fmt.Errorf("window: %w", err)
			}
			if err != nil || w <= 0 {
				return s, fmt.Errorf("window %q: want a positive duration such as 1h or 30d, or lifetime", str)
			}
			s.window = w
		}
	}
	return s, nil
}
