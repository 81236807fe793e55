// Package request reads the parameters of an analysis request into the SQL
// of one of pkg/analytics' queries. The flags of `touchline query` and the
// query parameters of the web UI's API are the same parameters, with the
// same names, defaults and checks, read by this one package: the same
// parameters give the same SQL, whichever asked.
package request

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/table"
)

// Kind is the type of a parameter's value.
type Kind int

// The kinds of parameters.
const (
	// String is free text, checked by the analysis.
	String Kind = iota
	// Bool is true or false.
	Bool
	// Int is a decimal integer.
	Int
)

// Param is one parameter of an analysis.
type Param struct {
	// Name is the parameter's name: the CLI's flag without its dashes,
	// the API's query parameter.
	Name string
	// Default is the value of a parameter that is not given ("" for none).
	Default string
	// Usage is the one-line help of the flag.
	Usage string
	// Kind is the type of the value, checked before the analysis sees it.
	Kind Kind
	// Required parameters have no default.
	Required bool
}

// Env is what an analysis depends on besides its parameters.
type Env struct {
	// Now gives the default range: the 30 whole UTC days up to the day of
	// Now.
	Now time.Time
	// Attribution is the attribution settings of the pipelines directory
	// (analytics.LoadAttribution), which the parameters override.
	Attribution analytics.Attribution
	// Prefix goes before a parameter's name in errors: "--" for flags.
	Prefix string
	// Stages is the funnel stages of the pipelines directory
	// (analytics.LoadStages); nil for analytics.DefaultStages.
	Stages analytics.Stages
	// Identify normalises and hashes an identifier given as type:value, as
	// ingest does, for a person named by an identifier; nil refuses them.
	Identify func(arg string) (analytics.Identifier, error)
}

// Values are the given parameters by name. A parameter that is missing
// takes its default.
type Values map[string]string

// Analysis is one analysis that `touchline query` runs and the API serves.
type Analysis struct {
	// Name is the subcommand and the API path: query <Name>, /api/<Name>.
	Name string
	// Use is the subcommand's usage line without the shared flags.
	Use string
	// Short is one line of what the analysis answers.
	Short string
	// Long, when set, adds to Short in the subcommand's help.
	Long string
	// Params are the analysis's parameters, the range's first.
	Params []Param
	// UsesStages says the analysis reads Env.Stages: callers load the
	// stages file for it, and only for it.
	UsesStages bool

	build func(p *reader, r analytics.Range) (string, error)
}

// Plan is what an analysis runs: its SQL and, for the analyses whose
// result is computed from the rows of the SQL (the data-driven
// attribution models), Finish, which computes it.
type Plan struct {
	SQL string
	// Finish, when set, turns the rows of SQL into the analysis's result.
	Finish func(*table.Result) (*table.Result, error)
}

// The range parameters every analysis takes.
var rangeParams = []Param{
	{Name: "from", Usage: "start of the range, inclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: 30 days before --to)"},
	{Name: "to", Usage: "end of the range, exclusive: RFC 3339 time or YYYY-MM-DD, UTC (default: the next UTC midnight)"},
}

// withRange returns the range parameters followed by params.
func withRange(params ...Param) []Param {
	return append(append([]Param{}, rangeParams...), params...)
}

// DefaultDays is the length of the default range in days.
const DefaultDays = 30

// Analyses returns every analysis, by name.
func Analyses() []Analysis {
	return []Analysis{overview(), funnel(), attribution(false), attribution(true), paths(), cohort(), alertState(), alertHistory(),
		segmentCounts(), segmentHistory(), segmentMembers(), person(analytics.PersonIdentifiers), person(analytics.PersonMerges),
		person(analytics.PersonTouches), person(analytics.PersonSegments), retailKPIs(), stages()}
}

// Lookup returns the analysis called name.
func Lookup(name string) (Analysis, bool) {
	for _, a := range Analyses() {
		if a.Name == name {
			return a, true
		}
	}
	return Analysis{}, false
}

// Param returns the parameter called name.
func (a Analysis) Param(name string) (Param, bool) {
	for _, p := range a.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Defaults returns the value each parameter takes when it is not given:
// its Default, or, for the attribution settings (model, lookback,
// half-life, currency), the value of attribution, the settings of the pipelines
// directory. The range's defaults depend on the time and stay empty.
func (a Analysis) Defaults(attribution analytics.Attribution) map[string]string {
	fromSettings := map[string]string{
		"model":     string(attribution.Model),
		"lookback":  pipefile.FormatDuration(attribution.Lookback),
		"half-life": pipefile.FormatDuration(attribution.HalfLife),
		"currency":  attribution.Currency.Code,
	}
	out := map[string]string{}
	for _, p := range a.Params {
		out[p.Name] = p.Default
		if v, ok := fromSettings[p.Name]; ok && p.Default == "" {
			out[p.Name] = v
		}
	}
	return out
}

// SQL returns the SQL of the analysis for values. Every error names the
// parameter at fault, or says which parameters do not fit together: it is
// the caller's request that is wrong, never the server.
func (a Analysis) SQL(values Values, env Env) (string, error) {
	plan, err := a.Plan(values, env)
	return plan.SQL, err
}

// Plan returns the SQL of the analysis for values, as SQL does, and the
// step that computes its result from the SQL's rows, if it has one.
func (a Analysis) Plan(values Values, env Env) (Plan, error) {
	p := &reader{analysis: a, values: values, env: env}
	for _, param := range a.Params {
		if err := p.check(param); err != nil {
			return Plan{}, err
		}
	}
	r, err := p.queryRange()
	if err != nil {
		return Plan{}, err
	}
	sql, err := a.build(p, r)
	if err != nil {
		return Plan{}, err
	}
	return Plan{SQL: sql, Finish: p.finish}, nil
}

// reader reads the values of one request.
type reader struct {
	analysis Analysis
	values   Values
	env      Env
	// finish is set by an analysis whose result Go computes from the rows.
	finish func(*table.Result) (*table.Result, error)
}

// get returns the value of the parameter called name, or its default.
func (p *reader) get(name string) string {
	if v, ok := p.values[name]; ok {
		return v
	}
	param, _ := p.analysis.Param(name)
	return param.Default
}

// errorf returns an error about the parameter called name.
func (p *reader) errorf(name, format string, args ...any) error {
	return fmt.Errorf("%s%s: %s", p.env.Prefix, name, fmt.Sprintf(format, args...))
}

// wrap returns err, if any, as an error about the parameter called name.
func (p *reader) wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return p.errorf(name, "%v", err)
}

// MaxValueBytes bounds a parameter's value. At ingest's default limits
// (touchpoint.DefaultLimits: 8,192 bytes of a field) a longer one names no
// stored field, and written into the SQL, which repeats some values, it
// could take the query past ClickHouse's max_query_size (256 KiB): refused
// here, it gets an answer that says so.
const MaxValueBytes = 16 << 10

// check refuses a missing required value, a value over MaxValueBytes and
// one that is not of its kind.
func (p *reader) check(param Param) error {
	v := p.get(param.Name)
	switch {
	case param.Required && strings.TrimSpace(v) == "":
		return p.errorf(param.Name, "required")
	case len(v) > MaxValueBytes:
		return p.errorf(param.Name, "%d bytes: at most %d", len(v), MaxValueBytes)
	case param.Kind == Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return p.errorf(param.Name, "%q is not true or false", v)
		}
	case param.Kind == Int:
		if _, err := strconv.Atoi(v); err != nil {
			return p.errorf(param.Name, "%q is not an integer", v)
		}
	}
	return nil
}

// flag returns a checked Bool value.
func (p *reader) flag(name string) bool {
	b, _ := strconv.ParseBool(p.get(name))
	return b
}

// integer returns a checked Int value.
func (p *reader) integer(name string) int {
	n, _ := strconv.Atoi(p.get(name))
	return n
}

// duration reads a duration (pipefile's: 90m, 36h, 30d, 2w).
func (p *reader) duration(name string) (time.Duration, error) {
	d, err := pipefile.ParseDuration(p.get(name))
	if err != nil {
		return 0, p.wrap(name, err)
	}
	return d, nil
}

// queryRange returns the range of the from and to parameters.
func (p *reader) queryRange() (analytics.Range, error) {
	return p.env.Range(p.get("from"), p.get("to"))
}

// Range returns the range of from and to (each "" when not given): by
// default the DefaultDays whole UTC days up to the day of Now, or before
// to when only to is given. Errors name the parameter with Prefix.
func (e Env) Range(from, to string) (analytics.Range, error) {
	r := analytics.LastDays(e.Now, DefaultDays)
	var err error
	if to != "" {
		if r.To, err = ParseTime(to); err != nil {
			return r, fmt.Errorf("%sto: %w", e.Prefix, err)
		}
	}
	r.From = r.To.AddDate(0, 0, -DefaultDays)
	if from != "" {
		if r.From, err = ParseTime(from); err != nil {
			return r, fmt.Errorf("%sfrom: %w", e.Prefix, err)
		}
	}
	return r, r.Validate()
}

// ParseTime reads an RFC 3339 time or a date (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither YYYY-MM-DD nor an RFC 3339 time like 2026-04-01T00:00:00Z", s)
	}
	return t.UTC(), nil
}

func overview() Analysis {
	return Analysis{
		Name:  "overview",
		Use:   "overview [--by-day] [--channel C] [--campaign K] [--currency USD]",
		Short: "Touchpoints, persons, purchases, revenue, spend and ROAS per channel (or per day and channel)",
		Params: withRange(
			Param{Name: "by-day", Default: "false", Kind: Bool, Usage: "split by UTC day"},
			Param{Name: "channel", Usage: "only this channel's touchpoints and spend"},
			Param{Name: "campaign", Usage: "only this campaign's touchpoints and spend"},
			currencyParam,
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			c, err := p.currency()
			if err != nil {
				return "", err
			}
			return analytics.OverviewQuery{Range: r, PurchaseType: p.env.Attribution.ConversionType,
				Channel: p.get("channel"), Campaign: p.get("campaign"), ByDay: p.flag("by-day"), Currency: c}.SQL()
		},
	}
}

func funnel() Analysis {
	return Analysis{
		Name:  "funnel",
		Use:   "funnel --steps a,b[k=v],c [--window 24h] [--breakdown channel]",
		Short: "Persons reaching each step of an ordered funnel within a window",
		Params: withRange(
			Param{Name: "steps", Required: true, Usage: "steps in order: event types, each with optional [name=value;...] filters (required)"},
			Param{Name: "window", Default: "24h", Usage: "conversion window from step 1 (e.g. 30m, 24h, 7d)"},
			Param{Name: "breakdown", Usage: "split by a field of the step-1 event (channel, campaign, device_type, country, ...) or by property:NAME"},
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			s, err := analytics.ParseSteps(p.get("steps"))
			if err != nil {
				return "", p.wrap("steps", err)
			}
			w, err := p.duration("window")
			if err != nil {
				return "", err
			}
			return analytics.FunnelQuery{Range: r, Steps: s, Window: w, Breakdown: p.get("breakdown")}.SQL()
		},
	}
}

// attribution returns the attribution analysis, or ROMI when romi is set:
// both attribute conversions with the same settings.
func attribution(romi bool) Analysis {
	a := Analysis{
		Name:  "attribution",
		Short: "Revenue and conversions credited to channels by a multi-touch model",
	}
	if romi {
		a.Name, a.Short = "romi", "Attributed revenue against spend per channel: ROAS, ROMI and CPA"
	}
	a.Use = a.Name + " [--model M] [--order 1..4] [--lookback 30d] [--half-life 7d] [--by-campaign] [--currency USD]"
	a.Long = "Defaults come from " + analytics.AttributionFile + " in the pipelines directory;\n" +
		"the flags override them. Models: " + strings.Join(modelNames(analytics.Models), ", ") + ";\n" +
		"data-driven (computed from every path, per query): " + strings.Join(modelNames(analytics.DataDrivenModels), ", ") + "."
	a.Params = withRange(
		Param{Name: "model", Usage: "attribution model (default from " + analytics.AttributionFile + ")"},
		Param{Name: "order", Default: "1", Kind: Int, Usage: "order of the markov model: a state is the last 1 to 4 touches"},
		Param{Name: "lookback", Usage: "how far before a conversion a touch counts, e.g. 30d"},
		Param{Name: "half-life", Usage: "half-life of the time_decay model, e.g. 7d"},
		Param{Name: "by-campaign", Default: "false", Kind: Bool, Usage: "split by campaign within each channel"},
		currencyParam,
	)
	a.build = func(p *reader, r analytics.Range) (string, error) {
		settings, err := p.attribution()
		if err != nil {
			return "", err
		}
		if model, _ := analytics.ParseQueryModel(p.get("model")); model.DataDriven() {
			q := analytics.DataDrivenQuery{Range: r, Attribution: settings, Model: model, Order: p.integer("order"),
				ByCampaign: p.flag("by-campaign"), Currency: settings.Currency, ROMI: romi}
			if q.Order < 1 || q.Order > analytics.MaxMarkovOrder || q.Order > 1 && model != analytics.Markov {
				return "", p.errorf("order", "%d: the markov model's order is 1 to %d; the other models have none", q.Order, analytics.MaxMarkovOrder)
			}
			p.finish = q.Finish
			return q.SQL()
		}
		if p.integer("order") != 1 {
			return "", p.errorf("order", "only the markov model has an order")
		}
		q := analytics.AttributionQuery{Range: r, Attribution: settings, ByCampaign: p.flag("by-campaign"), Currency: settings.Currency}
		if romi {
			return analytics.ROMIQuery(q).SQL()
		}
		return q.SQL()
	}
	return a
}

func modelNames(models []analytics.Model) []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = string(m)
	}
	return names
}

// attribution returns the environment's attribution settings with the
// model, lookback, half-life and currency parameters that were given.
func (p *reader) attribution() (analytics.Attribution, error) {
	a := p.env.Attribution
	var err error
	if v := p.get("model"); v != "" {
		m, err := analytics.ParseQueryModel(v)
		if err != nil {
			return a, p.wrap("model", err)
		}
		if !m.DataDriven() {
			a.Model = m
		}
	}
	if p.get("lookback") != "" {
		if a.Lookback, err = p.duration("lookback"); err != nil {
			return a, err
		}
	}
	if p.get("half-life") != "" {
		if a.HalfLife, err = p.duration("half-life"); err != nil {
			return a, err
		}
	}
	a.Currency, err = p.currency()
	return a, err
}

// currencyParam is the reporting currency of a money analysis.
var currencyParam = Param{Name: "currency", Usage: "reporting currency (ISO 4217) money is converted into at the day's exchange rate (default reporting_currency of " +
	analytics.AttributionFile + "; none: amounts as stored, for a shop with one currency)"}

// currency returns the environment's reporting currency, or the currency
// parameter's when it was given.
func (p *reader) currency() (analytics.Currency, error) {
	c := p.env.Attribution.Currency
	if v := p.get("currency"); v != "" {
		c.Code = v
		if err := c.Validate(); err != nil {
			return c, p.wrap("currency", err)
		}
	}
	return c, nil
}

func paths() Analysis {
	return Analysis{
		Name:  "paths",
		Use:   "paths [--by channel|event_type|campaign] [--converting|--all] [--collapse=false] [--max-length N] [--top 20] [--report paths|lengths|times] [--lookback 30d] [--currency USD]",
		Short: "The journeys to conversion: the most frequent paths of touches, or the distributions of path lengths and times to convert",
		Long: "A path is the touches (the touch types of " + analytics.AttributionFile + ") within the lookback before a conversion;\n" +
			"--all adds a null path per person with touches and no conversion in the range.",
		Params: withRange(
			Param{Name: "by", Default: "channel", Usage: "what a touch is in a path: channel, event_type or campaign"},
			Param{Name: "converting", Default: "false", Kind: Bool, Usage: "only the paths of conversions (the default)"},
			Param{Name: "all", Default: "false", Kind: Bool, Usage: "also the null paths of persons without a conversion in the range"},
			Param{Name: "collapse", Default: "true", Kind: Bool, Usage: "collapse consecutive repeats of a touch"},
			Param{Name: "max-length", Default: "0", Kind: Int, Usage: "keep only the last N touches of a path (0: all)"},
			Param{Name: "top", Default: "20", Kind: Int, Usage: "how many paths to list, the most frequent first (1 to 10000)"},
			Param{Name: "report", Default: analytics.PathsReport, Usage: "paths, lengths (the distribution of path lengths) or times (of days to convert)"},
			currencyParam,
			Param{Name: "lookback", Usage: "how far before a conversion a touch counts, e.g. 30d"},
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			if p.flag("converting") && p.flag("all") {
				return "", p.errorf("all", "--converting and --all do not go together")
			}
			settings, err := p.attribution()
			if err != nil {
				return "", err
			}
			return analytics.PathsQuery{Range: r, Attribution: settings, By: p.get("by"), All: p.flag("all"), Collapse: p.flag("collapse"),
				MaxLength: p.integer("max-length"), Top: p.integer("top"), Report: p.get("report"), Currency: settings.Currency}.SQL()
		},
	}
}

func cohort() Analysis {
	return Analysis{
		Name:  "cohort",
		Use:   "cohort [--period day|week|month] [--periods 6] [--by first_purchase|first_seen] [--activity purchase|any] [--by-channel] [--currency USD]",
		Short: "Retention and revenue per person of cohorts, period by period",
		Params: withRange(
			Param{Name: "period", Default: "month", Usage: "cohort and activity period: day, week (from Monday) or month, UTC"},
			Param{Name: "periods", Default: "6", Kind: Int, Usage: "how many periods (0 .. periods-1) to report"},
			Param{Name: "by", Default: analytics.FirstPurchase, Usage: "what places a person in a cohort: first_purchase or first_seen"},
			Param{Name: "activity", Default: analytics.PurchaseActivity, Usage: "what makes a member active in a period: purchase or any (event)"},
			Param{Name: "by-channel", Default: "false", Kind: Bool, Usage: "split cohorts by the channel of the event that placed the person"},
			currencyParam,
		),
		build: func(p *reader, r analytics.Range) (string, error) {
			c, err := p.currency()
			if err != nil {
				return "", err
			}
			return analytics.CohortQuery{Range: r, Period: analytics.Period(p.get("period")), Periods: p.integer("periods"),
				By: p.get("by"), Activity: p.get("activity"), ByChannel: p.flag("by-channel"),
				PurchaseType: p.env.Attribution.ConversionType, Currency: c}.SQL()
		},
	}
}

// ruleParam keeps one alert rule's rows.
var ruleParam = Param{Name: "rule", Usage: "only this alert rule's (a name of alerts.yaml)"}

func alertState() Analysis {
	return Analysis{
		Name:   "alert-state",
		Use:    "alert-state [--rule R]",
		Short:  "The current state of every alert rule and group: ok, pending or firing, its incident and when it last fired",
		Long:   "The state the alerts service stored last (alert_states); the range does not apply.",
		Params: withRange(ruleParam),
		build: func(p *reader, _ analytics.Range) (string, error) {
			return analytics.AlertStateQuery{Rule: p.get("rule")}.SQL()
		},
	}
}

func alertHistory() Analysis {
	return Analysis{
		Name:   "alert-history",
		Use:    "alert-history [--rule R]",
		Short:  "The incident history: every alert notification (firing, resolved) sent in the range, newest first",
		Params: withRange(ruleParam),
		build: func(p *reader, r analytics.Range) (string, error) {
			return analytics.AlertHistoryQuery{Range: r, Rule: p.get("rule")}.SQL()
		},
	}
}

// segmentParam keeps one segment's rows.
var segmentParam = Param{Name: "segment", Usage: "only this segment's (a name of segments.yaml)"}

// limitParam bounds the rows of a list.
var limitParam = Param{Name: "limit", Default: "1000", Kind: Int, Usage: "at most this many rows (1 to 100000)"}

func segmentCounts() Analysis {
	return Analysis{
		Name:   "segments",
		Use:    "segments",
		Short:  "The current members of every segment",
		Long:   "The segment_members view; the range does not apply.",
		Params: withRange(),
		build: func(*reader, analytics.Range) (string, error) {
			return analytics.SegmentCountsQuery, nil
		},
	}
}

func segmentHistory() Analysis {
	return Analysis{
		Name:   "segment-history",
		Use:    "segment-history [--segment S]",
		Short:  "Members of each segment over time: per UTC day, the persons who entered, who exited, and the members at the day's end",
		Params: withRange(segmentParam),
		build: func(p *reader, r analytics.Range) (string, error) {
			if s := p.get("segment"); s != "" {
				if err := analytics.CheckSegment(s); err != nil {
					return "", p.wrap("segment", err)
				}
			}
			return analytics.SegmentHistoryQuery{Range: r, Segment: p.get("segment")}.SQL()
		},
	}
}

func segmentMembers() Analysis {
	return Analysis{
		Name:   "segment-members",
		Use:    "segment-members --segment S [--limit 1000]",
		Short:  "The current members of a segment, the person each resolves to, and since when",
		Long:   "The segment_members view; the range does not apply.",
		Params: withRange(Param{Name: "segment", Required: true, Usage: "the segment (a name of segments.yaml; required)"}, limitParam),
		build: func(p *reader, _ analytics.Range) (string, error) {
			if err := analytics.CheckSegment(p.get("segment")); err != nil {
				return "", p.wrap("segment", err)
			}
			limit, err := p.limit()
			if err != nil {
				return "", err
			}
			return analytics.SegmentMembersQuery{Segment: p.get("segment"), Limit: limit}.SQL()
		},
	}
}

// person returns the analysis of one part of the person page.
func person(part string) Analysis {
	a := Analysis{Name: "person-" + part, Use: "person-" + part + " --person ID"}
	params := []Param{{Name: "person", Required: true, Usage: "the person: its id (as segment-members and identity show give it) or an identifier as type:value (required)"}}
	switch part {
	case analytics.PersonIdentifiers:
		a.Short, a.Long = "Every identifier of a person and of the persons merged into it, hashed as stored", "The range does not apply."
	case analytics.PersonMerges:
		a.Short, a.Long = "The merge history of a person: every person merged into it, directly or through another", "The range does not apply."
	case analytics.PersonTouches:
		a.Short = "The touch timeline of a person across channels and devices, oldest first"
		params = append(params, limitParam)
		a.Use += " [--limit 1000]"
	case analytics.PersonSegments:
		a.Short = "The segments a person entered and exited in the range, oldest first"
		params = append(params, limitParam)
		a.Use += " [--limit 1000]"
	}
	a.Params = withRange(params...)
	a.build = func(p *reader, r analytics.Range) (string, error) {
		q := analytics.PersonQuery{Person: p.get("person"), Part: part, Range: r}
		if typ, _, ok := strings.Cut(q.Person, ":"); ok && typ != "" {
			if p.env.Identify == nil {
				return "", p.errorf("person", "an identifier (type:value) needs the identity settings; give the person id")
			}
			id, err := p.env.Identify(q.Person)
			if err != nil {
				return "", p.wrap("person", err)
			}
			q.Identifier = id
		} else if err := analytics.CheckPerson(q.Person); err != nil {
			return "", p.wrap("person", err)
		}
		if _, ok := a.Param("limit"); ok {
			var err error
			if q.Limit, err = p.limit(); err != nil {
				return "", err
			}
		}
		return q.SQL()
	}
	return a
}

// limit returns the limit parameter, refused outside 1..analytics.MaxLimit.
func (p *reader) limit() (int, error) {
	n := p.integer("limit")
	return n, p.wrap("limit", analytics.CheckLimit(n))
}
