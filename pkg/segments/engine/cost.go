package engine

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// DefaultMaxCost is the default budget of one evaluation of a feature or a
// segment condition, in CEL cost units (one unit is about one basic
// operation, some 50 ns): about half a millisecond of work at most.
const DefaultMaxCost = 10_000

// maxStringSize is the length the cost estimate assumes of the strings
// last() returns: the ingest service's default bound on a field. A
// deployment that raises ingest.limits.max_field_bytes can see longer
// strings; the runtime limit still bounds what they cost.
var maxStringSize = uint64(touchpoint.DefaultLimits().MaxFieldBytes)

// unboundedCost is where an estimate stops being a cost and says that a
// size was unknown (CEL estimates unknown sizes as the largest uint64,
// scaled by its cost factors): days of work per evaluation.
const unboundedCost = 1 << 50

// eventScanCost is the cost, per kept event, of a windowed count, sum, min
// or max, which scans the person's kept events: a tenth of a unit, as CEL
// charges for each character of a string it traverses.
const eventScanCost = 0.1

// scanCost is the cost of a windowed feature function over events kept
// events.
func scanCost(events int) uint64 {
	return 1 + uint64(math.Ceil(eventScanCost*float64(events)))
}

// windowed reports whether a call of fn with n arguments scans the kept
// events rather than reading a lifetime aggregate: whether it has a window
// argument that is not "lifetime". arg returns the string value of an
// argument, when it is known.
func windowed(fn function, n int, arg func(i int) (string, bool)) bool {
	for i, k := range overload(fn, n) {
		if k == argWindow {
			w, ok := arg(i)
			return !ok || w != "lifetime"
		}
	}
	return false
}

// costEstimator estimates the cost of the definitions' expressions: the
// feature functions' costs, the length of the strings last() returns, and
// the sizes of named features that are lists, maps or strings of a known
// size. An expression of a size it cannot bound gets an unbounded
// estimate, and is refused.
type costEstimator struct {
	d *Definitions
	// sizes are the sizes of the named features whose size is known, and
	// dynamic the named features that read strings through last().
	sizes   map[string]checker.SizeEstimate
	dynamic map[string]bool
}

// EstimateSize implements checker.CostEstimator: the size of a named
// feature.
func (c *costEstimator) EstimateSize(node checker.AstNode) *checker.SizeEstimate {
	if path := node.Path(); len(path) == 1 {
		if s, ok := c.sizes[path[0]]; ok {
			return &s
		}
	}
	return nil
}

// EstimateCallCost implements checker.CostEstimator for the feature
// functions: a windowed aggregate scans up to max_kept_events events, and
// last() returns a string of up to maxStringSize characters.
func (c *costEstimator) EstimateCallCost(name, _ string, _ *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	fn := function(name)
	if _, ok := signatures[fn]; !ok {
		return nil
	}
	est := &checker.CallEstimate{CostEstimate: checker.FixedCostEstimate(1)}
	if windowed(fn, len(args), func(i int) (string, bool) { return literalString(args[i].Expr()) }) {
		est.CostEstimate = checker.CostEstimate{Min: 1, Max: scanCost(c.d.MaxKeptEvents)}
	}
	if fn == fnLast {
		est.ResultSize = &checker.SizeEstimate{Min: 0, Max: maxStringSize}
	}
	return est
}

// literalString returns the value of a string literal.
func literalString(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().Value().(string)
	return s, ok
}

// sizeOf returns the size of an expression's value when it is known: a
// list or map literal, a string literal, a named feature of known size, or
// a call of last().
func (c *costEstimator) sizeOf(e celast.Expr) (checker.SizeEstimate, bool) {
	switch e.Kind() {
	case celast.ListKind:
		return checker.FixedSizeEstimate(uint64(e.AsList().Size())), true
	case celast.MapKind:
		return checker.FixedSizeEstimate(uint64(e.AsMap().Size())), true
	case celast.LiteralKind:
		if s, ok := literalString(e); ok {
			return checker.FixedSizeEstimate(uint64(len([]rune(s)))), true
		}
	case celast.IdentKind:
		s, ok := c.sizes[e.AsIdent()]
		return s, ok
	case celast.CallKind:
		if function(e.AsCall().FunctionName()) == fnLast {
			return checker.SizeEstimate{Min: 0, Max: maxStringSize}, true
		}
	}
	return checker.SizeEstimate{}, false
}

// checkCost estimates the most expensive evaluation of a checked
// expression and refuses it above the definitions' max_cost.
func (d *Definitions) checkCost(ast *cel.Ast) (uint64, error) {
	est, err := d.env.EstimateCost(ast, d.estimator)
	if err != nil {
		return 0, fmt.Errorf("estimating its cost: %v", err)
	}
	switch {
	case est.Max >= unboundedCost:
		return est.Max, fmt.Errorf("its cost cannot be bounded (a comprehension such as all() or exists(), or a string function, "+
			"over a value of unknown size); max_cost is %d", d.MaxCost)
	case est.Max > d.MaxCost:
		return est.Max, fmt.Errorf("its evaluation may cost up to %d, above max_cost %d: comprehensions (all, exists, map, filter) "+
			"cost the product of their lists' sizes; simplify it or raise max_cost", est.Max, d.MaxCost)
	}
	return est.Max, nil
}

// interruptCost is the budget above which evaluations check the
// processor's context as they run (about 5 ms of work): below it, the
// check between evaluations is soon enough, and checking costs each
// evaluation a context of its own.
const interruptCost = 100_000

// programOptions returns the options of the program of an expression:
// the cost limit for one whose cost the estimate cannot bound (dynamic),
// and checks of the context while it runs when the budget allows long
// evaluations. Tracking costs time and memory on every evaluation, so the
// others go without.
func (p *Processor) programOptions(c checked) []cel.ProgramOption {
	var opts []cel.ProgramOption
	if c.dynamic {
		opts = append(opts, cel.CostLimit(p.defs.MaxCost), cel.CostTracking(p))
	}
	if p.defs.MaxCost > interruptCost {
		opts = append(opts, cel.InterruptCheckFrequency(interruptEvery))
	}
	return opts
}

// CallCost implements interpreter.ActualCostEstimator for the feature
// functions: a windowed aggregate costs in proportion to the events the
// person keeps.
func (p *Processor) CallCost(name, _ string, args []ref.Val, _ ref.Val) *uint64 {
	fn := function(name)
	if _, ok := signatures[fn]; !ok || p.current == nil {
		return nil
	}
	cost := uint64(1)
	if windowed(fn, len(args), func(i int) (string, bool) { s, ok := args[i].(types.String); return string(s), ok }) {
		cost = scanCost(len(p.current.Events))
	}
	return &cost
}

// overBudget reports whether err is an evaluation stopped at the cost
// limit.
func overBudget(err error) bool {
	var c interpreter.EvalCancelledError
	return errors.As(err, &c) && c.Cause == interpreter.CostLimitExceeded
}
