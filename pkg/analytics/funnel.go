package analytics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Fields are the touchpoint columns a funnel step can filter on and a funnel
// can be broken down by. Any other filter name is looked up in the
// touchpoint's properties.
var Fields = []string{"channel", "campaign", "utm_source", "utm_medium", "utm_campaign", "utm_content",
	"utm_term", "referrer", "page_url", "currency", "order_id", "device_type", "os", "country"}

func isField(name string) bool {
	for _, f := range Fields {
		if f == name {
			return true
		}
	}
	return false
}

// Filter requires a field, or else a property, of an event to equal Value.
type Filter struct {
	Name, Value string
}

// Step is one step of a funnel: an event type and filters that all hold.
type Step struct {
	EventType string
	Filters   []Filter
}

// String renders the step in the syntax ParseSteps reads.
func (s Step) String() string {
	if len(s.Filters) == 0 {
		return s.EventType
	}
	f := make([]string, len(s.Filters))
	for i, x := range s.Filters {
		f[i] = x.Name + "=" + x.Value
	}
	return s.EventType + "[" + strings.Join(f, ";") + "]"
}

// condition renders the SQL that an event matches the step.
func (s Step) condition() string {
	conds := []string{"event_type = " + quote(s.EventType)}
	for _, f := range s.Filters {
		if isField(f.Name) {
			conds = append(conds, f.Name+" = "+quote(f.Value))
		} else {
			conds = append(conds, property(f.Name)+" = "+quote(f.Value))
		}
	}
	return strings.Join(conds, " AND ")
}

// property renders the SQL of a touchpoint's property: the empty string
// when the touchpoint has none.
func property(name string) string {
	return "property_values[indexOf(property_keys, " + quote(name) + ")]"
}

// PropertyBreakdown is the prefix of a breakdown by a property rather than
// a field: property:category splits by the property category, in a column
// of that name.
const PropertyBreakdown = "property:"

// breakdownNames are the names a property breakdown's column cannot take:
// the funnel's other columns and the names its outermost SELECT uses.
var breakdownNames = []string{"step", "step_name", "persons", "conversion_from_first", "conversion_from_previous",
	"median_seconds_from_first", "step_row", "step_rows", "first_breakdown"}

var (
	breakdownSyntax = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	stepSyntax      = regexp.MustCompile(`^([a-z][a-z0-9_]*)(?:\[(.*)\])?$`)
	nameSyntax      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)
)

// ParseSteps reads funnel steps separated by commas; a step may carry
// filters in brackets, separated by semicolons:
//
//	page_view[channel=email;category=shoes],add_to_cart,purchase
func ParseSteps(s string) ([]Step, error) {
	var steps []Step
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '[':
				depth++
			case ']':
				depth--
			}
			if s[i] != ',' || depth > 0 {
				continue
			}
		}
		step, err := parseStep(strings.TrimSpace(s[start:i]))
		if err != nil {
			return nil, fmt.Errorf("funnel step %d: %w", len(steps)+1, err)
		}
		steps = append(steps, step)
		start = i + 1
	}
	return steps, nil
}

func parseStep(s string) (Step, error) {
	m := stepSyntax.FindStringSubmatch(s)
	if m == nil {
		return Step{}, fmt.Errorf("%q is not an event type with optional [name=value;...] filters", s)
	}
	step := Step{EventType: m[1]}
	if m[2] == "" {
		return step, nil
	}
	for _, f := range strings.Split(m[2], ";") {
		name, value, ok := strings.Cut(f, "=")
		name = strings.TrimSpace(name)
		if !ok || !nameSyntax.MatchString(name) {
			return Step{}, fmt.Errorf("filter %q of %s: want name=value", f, m[1])
		}
		step.Filters = append(step.Filters, Filter{Name: name, Value: strings.TrimSpace(value)})
	}
	return step, nil
}

// MaxSteps bounds the steps of a funnel, as ClickHouse's windowFunnel
// bounds its conditions: the query grows with every step, and a request of
// thousands of steps would only load the server.
const MaxSteps = 32

// FunnelQuery counts the persons who reach each step of an ordered funnel.
type FunnelQuery struct {
	Range Range
	Steps []Step
	// Window bounds the time from step 1 to the last step reached.
	Window time.Duration
	// Breakdown, when set, is a field (see Fields) of the person's first
	// step-1 event in the range by which the result is split, or
	// PropertyBreakdown and the name of one of its properties.
	Breakdown string
}

// SQL returns the query. Its columns: [the breakdown field,] step,
// step_name, persons, conversion_from_first, conversion_from_previous,
// median_seconds_from_first.
//
// A person reaches step k when events matching steps 1..k occur in that
// order, at strictly increasing times, with step k at most Window after step
// 1 (windowFunnel semantics). For each step-1 event (start) the query
// follows the earliest matching events (which reaches the furthest step from
// that start); the person's level is the best over all starts, and the time
// to step k is taken from the earliest start that reaches it. The starts are
// walked with array functions within the person's row rather than spread
// into rows of their own: it saves a second GROUP BY over persons, which in
// ClickHouse 18.16 held most of the query's memory.
func (q FunnelQuery) SQL() (string, error) {
	if err := q.validate(); err != nil {
		return "", err
	}
	n := len(q.Steps)
	window := strconv.FormatInt(q.Window.Milliseconds(), 10)
	conds := make([]string, n)
	names := make([]string, n) // step names as SQL literals
	cols := []column{{expr: eventMillis, name: "at_ms"}}
	for i, s := range q.Steps {
		conds[i] = "(" + s.condition() + ")"
		names[i] = quote(s.String())
		cols = append(cols, column{expr: conds[i], name: fmt.Sprintf("is_step_%d", i+1)})
	}
	bd, bdKey, bdOut := "", "", ""
	if q.Breakdown != "" {
		expr, name := q.Breakdown, q.Breakdown
		if prop, ok := strings.CutPrefix(q.Breakdown, PropertyBreakdown); ok {
			expr, name = property(prop), prop
		}
		cols = append(cols, column{expr: expr, name: "breakdown_value"})
		bd = "argMinIf(breakdown_value, at_ms, is_step_1) AS first_breakdown"
		bdKey = "first_breakdown, "
		bdOut = "first_breakdown AS " + name + ",\n    "
	}
	where := "event_time >= " + timeLit(q.Range.From) + " AND event_time < " + timeLit(q.Range.To) +
		" AND (" + strings.Join(conds, " OR ") + ")"

	perPerson := []string{"person"}
	if bd != "" {
		perPerson = append(perPerson, bd)
	}
	// at_k holds, per start, the time of the earliest step-k event of the
	// chain from it (0 where the chain stops before k), reach_k the first
	// start whose chain reaches k (0 for none). Starts are sorted, so
	// reach_k is also the earliest such start.
	var chain, level, since strings.Builder
	steps := make([]string, n)
	for k := 1; k <= n; k++ {
		steps[k-1] = strconv.Itoa(k)
		perPerson = append(perPerson, fmt.Sprintf("arraySort(groupArrayIf(at_ms, is_step_%d)) AS times_%d", k, k))
		if k == 1 {
			continue
		}
		if k == 2 {
			fmt.Fprintf(&chain, "\n                arrayMap((start, ts) -> arrayFirst(t -> t > start AND t <= start + %s, ts), times_1, replicate(times_2, times_1)) AS at_2,", window)
		} else {
			fmt.Fprintf(&chain, "\n                arrayMap((start, prev, ts) -> if(prev > 0, arrayFirst(t -> t > prev AND t <= start + %s, ts), 0), times_1, at_%d, replicate(times_%d, times_1)) AS at_%d,",
				window, k-1, k, k)
		}
		fmt.Fprintf(&chain, "\n                arrayFirstIndex(x -> x > 0, at_%d) AS reach_%d,", k, k)
		fmt.Fprintf(&level, " + (reach_%d > 0)", k)
		fmt.Fprintf(&since, ",\n                 if(reach_%[1]d = 0, 0, toInt64(at_%[1]d[reach_%[1]d]) - toInt64(times_1[reach_%[1]d]))", k)
	}
	groupBreakdown := ""
	if bdKey != "" {
		groupBreakdown = "\n    GROUP BY " + strings.TrimSuffix(bdKey, ", ")
	}
	sql := fmt.Sprintf(`-- Funnel %s over [%s, %s), window %s.
SELECT
    %sstep,
    arrayElement([%s], step) AS step_name,
    tupleElement(step_row, 2) AS persons,
    persons / tupleElement(arrayElement(step_rows, 1), 2) AS conversion_from_first,
    persons / tupleElement(arrayElement(step_rows, if(step = 1, 1, step - 1)), 2) AS conversion_from_previous,
    tupleElement(step_row, 3) / 1000 AS median_seconds_from_first
FROM
(
    SELECT
        %sarraySort(groupArray((step_number, reached, median_ms))) AS step_rows
    FROM
    (
        -- per step: persons who reached it, and the exact median of their
        -- times from step 1 (the mean of the two middle ones for an even count)
        SELECT
            %sstep_number,
            countIf(person_level >= step_number) AS reached,
            arraySort(groupArrayIf(since_first, person_level >= step_number)) AS durations,
            if(empty(durations), NULL,
               (arrayElement(durations, intDiv(length(durations) + 1, 2)) + arrayElement(durations, intDiv(length(durations), 2) + 1)) / 2) AS median_ms
        FROM
        (
            -- per person: for each step-1 event (start), the earliest events
            -- of the next steps in order within the window; the furthest step
            -- over all starts, and the time from step 1 to each step from the
            -- earliest start that reaches it
            SELECT
                %sperson,%s
                1%s AS person_level,
                [toInt64(0)%s] AS since_first_by_step
            FROM
            (
                SELECT
                    %s
                FROM %s
                GROUP BY person
                HAVING notEmpty(times_1)
            )
        )
        ARRAY JOIN [%s] AS step_number, since_first_by_step AS since_first
        GROUP BY %sstep_number
    )%s
)
ARRAY JOIN step_rows AS step_row, arrayEnumerate(step_rows) AS step
ORDER BY %sstep`,
		strings.Join(stepNames(q.Steps), " -> "), q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), pipefile.FormatDuration(q.Window),
		bdOut, strings.Join(names, ", "),
		bdKey,
		bdKey,
		bdKey, chain.String(), level.String(), since.String(),
		strings.Join(perPerson, ",\n                    "), resolvedEvents(cols, where),
		strings.Join(steps, ", "),
		bdKey, groupBreakdown,
		bdKey)
	return sql, nil
}

func stepNames(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}

func (q FunnelQuery) validate() error {
	if err := q.Range.Validate(); err != nil {
		return err
	}
	var problems []string
	if len(q.Steps) < 1 {
		problems = append(problems, "a funnel needs at least one step")
	}
	if len(q.Steps) > MaxSteps {
		problems = append(problems, fmt.Sprintf("%d funnel steps: at most %d", len(q.Steps), MaxSteps))
	}
	if q.Window < time.Second {
		problems = append(problems, fmt.Sprintf("window %s is shorter than a second", q.Window))
	}
	if prop, ok := strings.CutPrefix(q.Breakdown, PropertyBreakdown); ok {
		if !breakdownSyntax.MatchString(prop) || isField(prop) || slices.Contains(breakdownNames, prop) {
			problems = append(problems, fmt.Sprintf("cannot break down by property %q: want a lower-case name of letters, digits and _, "+
				"not a field and none of %s", prop, strings.Join(breakdownNames, ", ")))
		}
	} else if q.Breakdown != "" && !isField(q.Breakdown) {
		problems = append(problems, fmt.Sprintf("cannot break down by %q: want one of %s, or %sNAME", q.Breakdown, strings.Join(Fields, ", "), PropertyBreakdown))
	}
	return errorList(problems)
}
