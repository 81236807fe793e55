// Package rules reads the alert rules of pipelines/alerts.yaml: each rule's
// KPI, scope, filters, window, condition, severity and message template,
// with every error placed at its file and line. The alerts service
// evaluates the rules; the web UI lists them. docs/alerts.md is the
// reference.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// RulesFile is the name of the alert rules file in the pipelines directory.
const RulesFile = "alerts.yaml"

// KPI names a measured quantity.
type KPI string

// The KPIs. docs/alerts.md defines each.
const (
	Spend       KPI = "spend"
	Impressions KPI = "impressions"
	Clicks      KPI = "clicks"
	CTR         KPI = "ctr"
	Conversions KPI = "conversions"
	CVR         KPI = "cvr"
	CPA         KPI = "cpa"
	CAC         KPI = "cac"
	Revenue     KPI = "revenue"
	ROAS        KPI = "roas"
	ROMI        KPI = "romi"
	Events      KPI = "events"
	NoData      KPI = "no_data"
	// AOV, PurchaseFrequency and RepeatRate are the retail KPIs of the
	// orders in the window, per acquisition channel and campaign.
	AOV               KPI = "aov"
	PurchaseFrequency KPI = "purchase_frequency"
	RepeatRate        KPI = "repeat_rate"
)

// KPIs lists every KPI.
var KPIs = []KPI{Spend, Impressions, Clicks, CTR, Conversions, CVR, CPA, CAC, Revenue, ROAS, ROMI, Events, NoData,
	AOV, PurchaseFrequency, RepeatRate}

// NeedsSpend reports KPIs computed from the spend table, which holds whole
// days: their windows must be whole days.
func (k KPI) NeedsSpend() bool {
	return k == Spend || k == CPA || k == CAC || k == ROAS || k == ROMI
}

// Attributed reports KPIs computed from attributed conversions.
func (k KPI) Attributed() bool { return k == CPA || k == ROAS || k == ROMI }

// Money reports KPIs computed from revenue or spend, which are measured in
// the reporting currency of the pipelines when they name one.
func (k KPI) Money() bool {
	return k == Revenue || k == Spend || k == CAC || k == AOV || k.Attributed()
}

// Retail reports KPIs computed from the retail KPIs query, whose groups are
// the customers' acquisition channels and campaigns.
func (k KPI) Retail() bool { return k == AOV || k == PurchaseFrequency || k == RepeatRate }

// Scope is how a rule groups what it measures.
type Scope string

// The scopes.
const (
	// ScopeAll measures everything the rule's filters keep as one group.
	ScopeAll Scope = "all"
	// ScopeChannel measures each channel.
	ScopeChannel Scope = "channel"
	// ScopeCampaign measures each (channel, campaign).
	ScopeCampaign Scope = "campaign"
)

// Severities lists the accepted severities, least urgent first.
var Severities = []string{"info", "warning", "critical"}

// ConditionKind is the kind of a rule's condition.
type ConditionKind string

// The condition kinds.
const (
	// Threshold holds when the value is above Above or below Below.
	Threshold ConditionKind = "threshold"
	// Change holds when the value changed, in percent of the reference
	// window's value, by more than Above or less than Below.
	Change ConditionKind = "change"
	// Anomaly holds when the value's z-score against the trailing windows
	// is at least Z in Direction.
	Anomaly ConditionKind = "anomaly"
	// Silence holds when a group that had events in the lookback before the
	// window has none in it; the condition of the no_data KPI.
	Silence ConditionKind = "no_data"
)

// The references of a Change condition.
const (
	PreviousWindow = "previous_window"
	WeekAgo        = "week_ago"
)

// The directions of an Anomaly condition.
const (
	Up   = "up"
	Down = "down"
	Both = "both"
)

// maxTrailing bounds an anomaly's trailing windows, each of which is
// measured by a ClickHouse query on every evaluation: a year of daily
// seasons.
const maxTrailing = 366

// Condition is when a rule's KPI is in breach.
type Condition struct {
	Kind ConditionKind
	// Above and Below bound the value (Threshold) or its change in percent
	// (Change); nil when not set. At least one is set.
	Above, Below *float64
	// Versus is the reference of a Change: PreviousWindow or WeekAgo.
	Versus string
	// Z is the z-score an Anomaly needs; Trailing the number of earlier
	// windows it is computed against; Season, when set, makes those the
	// windows one, two, ... seasons earlier (e.g. 1d: the same hour on the
	// previous days) instead of the windows just before.
	Z         float64
	Trailing  int
	Season    time.Duration
	Direction string
	// Lookback is how far before the window a group must have had events
	// for Silence to miss them. Default 7d.
	Lookback time.Duration
}

// Rule is one alert rule of pipelines/alerts.yaml.
type Rule struct {
	Name        string
	Description string
	KPI         KPI
	// Model is the attribution model of cpa, roas and romi; empty means
	// the default of pipelines/attribution.yaml.
	Model analytics.Model
	Scope Scope
	// Channels, Campaigns and EventTypes keep only what they list; empty
	// keeps everything. EventTypes applies to the events and no_data KPIs.
	Channels, Campaigns, EventTypes []string
	// Window is the length of the measured window, which ends Delay before
	// the evaluation time.
	Window time.Duration
	Delay  time.Duration
	// Every is how often the rule is evaluated. Default 1m.
	Every     time.Duration
	Condition Condition
	// MinVolume is the volume (docs/alerts.md: impressions for ctr, clicks
	// for cvr, ...) below which a group's value counts as no breach.
	MinVolume float64
	// For is the number of consecutive breaching evaluations before the
	// rule fires. Default 1.
	For int
	// Severity is one of Severities. Default warning.
	Severity string
	// Cooldown is how long after an incident resolves the rule and group
	// stay quiet: a new incident fires no earlier.
	Cooldown time.Duration
	Labels   map[string]string
	// Message renders a notification's text from a Notification.
	Message *template.Template
	// Line is the rule's line in its file.
	Line int
}

// DefaultMessage is the message template of rules that give none.
const DefaultMessage = `{{.Rule}} {{.Status}}: {{.KPI}}{{if .Channel}} of {{.Channel}}{{end}}{{if .Campaign}} / {{.Campaign}}{{end}} is {{printf "%.4g" .Value}}`

// Rules is the content of an alert rules file.
type Rules struct {
	Rules []*Rule
}

// LoadRules reads the rules at path. A missing file gives no rules; a bad
// one a *pipefile.ConfigError with path, line and reason.
func LoadRules(path string) (*Rules, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return &Rules{}, nil
	}
	return LoadRulesFile(path)
}

// LoadRulesFile is LoadRules for a file that must exist.
func LoadRulesFile(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	return ParseRules(path, data)
}

// ruleName is what a rule name may look like: it appears in metrics,
// topics and idempotency keys.
var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// ParseRules reads rules from data; name is the file name used in errors.
func ParseRules(name string, data []byte) (*Rules, error) {
	rules := &Rules{}
	root, err := pipefile.Document(name, data)
	if err != nil || root == nil {
		return rules, err
	}
	top, err := pipefile.Pairs(name, root, "top level")
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	var errs pipefile.List
	for _, kv := range top {
		if kv[0].Value != "rules" {
			errs.Add(name, pipefile.Errorf(name, kv[0].Line, "unknown key %q: want rules", kv[0].Value))
			continue
		}
		if kv[1].Kind != yaml.SequenceNode {
			errs.Add(name, pipefile.Errorf(name, kv[1].Line, "rules: want a list of rules"))
			continue
		}
		for i, n := range kv[1].Content {
			n = pipefile.Deref(n)
			r, err := parseRule(name, n, i+1)
			if err != nil {
				errs.Add(name, err)
				continue
			}
			if first, dup := seen[r.Name]; dup {
				errs.Add(name, pipefile.Errorf(name, n.Line, "rule %q: duplicate name (first on line %d)", r.Name, first))
				continue
			}
			seen[r.Name] = n.Line
			rules.Rules = append(rules.Rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return rules, nil
}

// ruleParser reads one rule, remembering which condition keys it saw.
type ruleParser struct {
	file, what string
	r          *Rule
	conditions []*yaml.Node // keys of threshold, change, anomaly
	message    string
}

func parseRule(file string, n *yaml.Node, index int) (*Rule, error) {
	p := &ruleParser{file: file, what: fmt.Sprintf("rule %d", index), r: &Rule{
		Scope: ScopeAll, Every: time.Minute, For: 1, Severity: "warning", Line: n.Line,
		Condition: Condition{Lookback: 7 * 24 * time.Hour},
	}}
	pairs, err := pipefile.Pairs(file, n, p.what)
	if err != nil {
		return nil, err
	}
	var errs pipefile.List
	for _, kv := range pairs {
		errs.Add(file, p.set(kv[0], kv[1]))
	}
	if len(errs) > 0 {
		return nil, errs // what check would say next follows from these
	}
	if err := p.check(n); err != nil {
		return nil, err
	}
	return p.r, nil
}

// errorf places an error of the rule at node n.
func (p *ruleParser) errorf(n *yaml.Node, format string, args ...any) error {
	return pipefile.Errorf(p.file, n.Line, "%s: %s", p.what, fmt.Sprintf(format, args...))
}

// scalar returns v's value, refusing anything but a non-empty scalar.
func (p *ruleParser) scalar(k, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return "", p.errorf(v, "%s: want a value", k.Value)
	}
	return v.Value, nil
}

func (p *ruleParser) duration(k, v *yaml.Node) (time.Duration, error) {
	s, err := p.scalar(k, v)
	if err != nil {
		return 0, err
	}
	d, err := pipefile.ParseDuration(s)
	if err != nil {
		return 0, p.errorf(v, "%s: %v", k.Value, err)
	}
	return d, nil
}

func (p *ruleParser) number(k, v *yaml.Node) (float64, error) {
	s, err := p.scalar(k, v)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, p.errorf(v, "%s: %q is not a number", k.Value, s)
	}
	return f, nil
}

func (p *ruleParser) oneOf(k, v *yaml.Node, allowed ...string) (string, error) {
	s, err := p.scalar(k, v)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", p.errorf(v, "%s: unknown value %q: want one of %s", k.Value, s, strings.Join(allowed, ", "))
}

func (p *ruleParser) strings(k, v *yaml.Node) ([]string, error) {
	var out []string
	if v.Kind == yaml.ScalarNode && v.Value != "" {
		return []string{v.Value}, nil
	}
	if v.Kind != yaml.SequenceNode || v.Decode(&out) != nil || len(out) == 0 {
		return nil, p.errorf(v, "%s: want a value or a non-empty list of values", k.Value)
	}
	return out, nil
}

func (p *ruleParser) set(k, v *yaml.Node) error {
	r := p.r
	var err error
	switch k.Value {
	case "name":
		if r.Name, err = p.scalar(k, v); err == nil && !ruleName.MatchString(r.Name) {
			err = p.errorf(v, "name %q: want lower-case letters, digits, '.', '_' and '-'", r.Name)
		}
		if err == nil {
			p.what = fmt.Sprintf("rule %q", r.Name)
		}
	case "description":
		r.Description, err = p.scalar(k, v)
	case "kpi":
		var s string
		if s, err = p.oneOf(k, v, kpiNames()...); err == nil {
			r.KPI = KPI(s)
		}
	case "model":
		var s string
		if s, err = p.scalar(k, v); err == nil {
			if r.Model, err = analytics.ParseModel(s); err != nil {
				err = p.errorf(v, "model: %v", err)
			}
		}
	case "scope":
		var s string
		if s, err = p.oneOf(k, v, string(ScopeAll), string(ScopeChannel), string(ScopeCampaign)); err == nil {
			r.Scope = Scope(s)
		}
	case "where":
		err = p.setWhere(v)
	case "window":
		r.Window, err = p.duration(k, v)
	case "delay":
		r.Delay, err = p.duration(k, v)
	case "every":
		r.Every, err = p.duration(k, v)
	case "threshold", "change", "anomaly":
		p.conditions = append(p.conditions, k)
		err = p.setCondition(ConditionKind(k.Value), v)
	case "no_data":
		p.conditions = append(p.conditions, k)
		err = p.setCondition(Silence, v)
	case "min_volume":
		r.MinVolume, err = p.number(k, v)
	case "for":
		var f float64
		if f, err = p.number(k, v); err == nil && (f < 1 || f != float64(int(f))) {
			err = p.errorf(v, "for: want a whole number of evaluations, at least 1")
		}
		r.For = int(f)
	case "severity":
		r.Severity, err = p.oneOf(k, v, Severities...)
	case "cooldown":
		r.Cooldown, err = p.duration(k, v)
	case "labels":
		if v.Kind != yaml.MappingNode || v.Decode(&r.Labels) != nil {
			err = p.errorf(v, "labels: want a mapping of names to values")
		}
	case "message":
		p.message, err = p.scalar(k, v)
		if err == nil {
			r.Message, err = ParseMessage(p.message)
			if err != nil {
				err = p.errorf(v, "message: %v", err)
			}
		}
	default:
		err = p.errorf(k, "unknown key %q", k.Value)
	}
	return err
}

func (p *ruleParser) setWhere(v *yaml.Node) error {
	pairs, err := pipefile.Pairs(p.file, v, p.what+": where")
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		values, err := p.strings(kv[0], kv[1])
		if err != nil {
			return err
		}
		switch kv[0].Value {
		case "channel":
			p.r.Channels = values
		case "campaign":
			p.r.Campaigns = values
		case "event_type":
			p.r.EventTypes = values
		default:
			return p.errorf(kv[0], "where: unknown key %q: want channel, campaign or event_type", kv[0].Value)
		}
	}
	return nil
}

func (p *ruleParser) setCondition(kind ConditionKind, v *yaml.Node) error {
	c := &p.r.Condition
	c.Kind = kind
	c.Direction = Both
	if kind == Silence && v.Kind == yaml.ScalarNode && v.Value == "true" {
		return nil
	}
	pairs, err := pipefile.Pairs(p.file, v, p.what+": "+string(kind))
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		k, n := kv[0], kv[1]
		allowed := map[ConditionKind][]string{
			Threshold: {"above", "below"},
			Change:    {"versus", "above", "below"},
			Anomaly:   {"z", "trailing", "season", "direction"},
			Silence:   {"lookback"},
		}[kind]
		if !slices.Contains(allowed, k.Value) {
			return p.errorf(k, "%s: unknown key %q: want %s", kind, k.Value, strings.Join(allowed, ", "))
		}
		var f float64
		switch k.Value {
		case "above", "below":
			if f, err = p.number(k, n); err == nil {
				if k.Value == "above" {
					c.Above = &f
				} else {
					c.Below = &f
				}
			}
		case "versus":
			c.Versus, err = p.oneOf(k, n, PreviousWindow, WeekAgo)
		case "z":
			if c.Z, err = p.number(k, n); err == nil && c.Z <= 0 {
				err = p.errorf(n, "z: want a positive z-score")
			}
		case "trailing":
			if f, err = p.number(k, n); err == nil && (f < 3 || f > maxTrailing || f != float64(int(f))) {
				err = p.errorf(n, "trailing: want a whole number of windows, at least 3 and at most %d (each is a ClickHouse query per evaluation)", maxTrailing)
			}
			c.Trailing = int(f)
		case "season":
			c.Season, err = p.duration(k, n)
		case "direction":
			c.Direction, err = p.oneOf(k, n, Up, Down, Both)
		case "lookback":
			c.Lookback, err = p.duration(k, n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check validates the rule as a whole, placing errors at its node n.
func (p *ruleParser) check(n *yaml.Node) error {
	r, c := p.r, &p.r.Condition
	switch {
	case r.Name == "":
		return p.errorf(n, "name is missing")
	case r.KPI == "":
		return p.errorf(n, "kpi is missing: want one of %s", strings.Join(kpiNames(), ", "))
	case r.Window <= 0:
		return p.errorf(n, "window is missing: e.g. window: 1h")
	case r.Every <= 0:
		return p.errorf(n, "every must be positive")
	case len(p.conditions) > 1:
		return p.errorf(p.conditions[1], "%s: a rule has one condition (it already has %s)", p.conditions[1].Value, p.conditions[0].Value)
	case r.KPI == NoData && len(p.conditions) == 1 && c.Kind != Silence,
		r.KPI != NoData && c.Kind == Silence:
		return p.errorf(p.conditions[0], "%s: the no_data KPI, and only it, takes the no_data condition", p.conditions[0].Value)
	case r.KPI != NoData && len(p.conditions) == 0:
		return p.errorf(n, "condition is missing: want threshold, change or anomaly")
	case r.KPI.NeedsSpend() && r.Window%(24*time.Hour) != 0:
		return p.errorf(n, "kpi %s needs a window of whole days: spend is reported per day", r.KPI)
	case r.KPI == CAC && r.Scope != ScopeAll:
		return p.errorf(n, "kpi cac is blended (all spend over all new customers): scope must be all")
	case r.Model != "" && !r.KPI.Attributed():
		return p.errorf(n, "model applies to cpa, roas and romi only")
	case len(r.EventTypes) > 0 && r.KPI != Events && r.KPI != NoData:
		return p.errorf(n, "where.event_type applies to the events and no_data KPIs only")
	}
	if r.KPI == NoData {
		c.Kind = Silence
		if c.Lookback <= r.Window {
			return p.errorf(n, "no_data: lookback %s must be longer than the window %s", c.Lookback, r.Window)
		}
	}
	switch c.Kind {
	case Threshold, Change:
		if c.Above == nil && c.Below == nil {
			return p.errorf(p.conditions[0], "%s: want above, below or both", c.Kind)
		}
		if c.Kind == Change && c.Versus == "" {
			return p.errorf(p.conditions[0], "change: versus is missing: want %s or %s", PreviousWindow, WeekAgo)
		}
		if c.Versus == WeekAgo && r.Window > 7*24*time.Hour {
			return p.errorf(p.conditions[0], "change: a window longer than a week cannot be compared with a week ago")
		}
	case Anomaly:
		if c.Z == 0 || c.Trailing == 0 {
			return p.errorf(p.conditions[0], "anomaly: want z and trailing")
		}
		if c.Season != 0 && c.Season < r.Window {
			return p.errorf(p.conditions[0], "anomaly: season %s is shorter than the window %s", c.Season, r.Window)
		}
	}
	if r.Message == nil {
		r.Message, _ = ParseMessage(DefaultMessage)
	}
	return nil
}

// Notification is what a firing or resolved incident sends, and the data
// a rule's Message renders.
type Notification struct {
	// Key is the idempotency key: the same notification always has the
	// same key, retries and restarts included.
	Key      string `json:"idempotency_key"`
	Incident string `json:"incident"`
	// Status is "firing" or "resolved".
	Status      string  `json:"status"`
	Rule        string  `json:"rule"`
	Description string  `json:"description,omitempty"`
	KPI         KPI     `json:"kpi"`
	Severity    string  `json:"severity"`
	Channel     string  `json:"channel,omitempty"`
	Campaign    string  `json:"campaign,omitempty"`
	Value       float64 `json:"value"`
	Reference   float64 `json:"reference"`
	Score       float64 `json:"score"`
	// Currency is the ISO 4217 code Value and Reference are in, for a
	// money KPI in the pipelines' reporting currency; empty otherwise.
	Currency    string            `json:"currency,omitempty"`
	WindowStart time.Time         `json:"window_start"`
	WindowEnd   time.Time         `json:"window_end"`
	At          time.Time         `json:"at"`
	Labels      map[string]string `json:"labels,omitempty"`
	Message     string            `json:"message"`
}

// messageFuncs are the functions message templates may use besides Go's.
var messageFuncs = template.FuncMap{
	// percent renders a ratio as a percentage: 0.0123 -> "1.23%".
	"percent": func(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" },
}

// maxMessageBytes bounds a rendered message; a template that writes more
// fails.
const maxMessageBytes = 16 << 10

// ParseMessage parses a message template and renders it once with sample
// data, so an unknown field is an error at start rather than at the first
// notification. A template may not define or call templates, and may range
// only over a field (.Labels): with those, and its output bounded, its
// rendering is linear in its size, as a loop over a number or templates
// calling each other would not be.
func ParseMessage(text string) (*template.Template, error) {
	t, err := template.New("message").Option("missingkey=zero").Funcs(messageFuncs).Parse(text)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("a message may not define templates")
	}
	if err := checkMessageNode(t.Tree.Root); err != nil {
		return nil, err
	}
	if _, err := RenderMessage(t, &Notification{}); err != nil {
		return nil, err
	}
	return t, nil
}

// checkMessageNode refuses template calls, and ranges over anything but a
// field, in n and below.
func checkMessageNode(n parse.Node) error {
	var lists []*parse.ListNode
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if err := checkMessageNode(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TemplateNode:
		return fmt.Errorf("a message may not call templates (%s)", n)
	case *parse.RangeNode:
		if cmds := n.Pipe.Cmds; len(cmds) != 1 || len(cmds[0].Args) != 1 || cmds[0].Args[0].Type() != parse.NodeField {
			return fmt.Errorf("range over %s: a message may range only over a field, such as .Labels", n.Pipe)
		}
		lists = []*parse.ListNode{n.List, n.ElseList}
	case *parse.IfNode:
		lists = []*parse.ListNode{n.List, n.ElseList}
	case *parse.WithNode:
		lists = []*parse.ListNode{n.List, n.ElseList}
	}
	for _, l := range lists {
		if l != nil {
			if err := checkMessageNode(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// errMessageTooLong is the error of a message longer than maxMessageBytes.
var errMessageTooLong = fmt.Errorf("the message is longer than %d bytes", maxMessageBytes)

// messageBuffer is a buffer that refuses to grow past maxMessageBytes.
type messageBuffer struct{ bytes.Buffer }

func (b *messageBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxMessageBytes {
		return 0, errMessageTooLong
	}
	return b.Buffer.Write(p)
}

// RenderMessage renders the message template t for n, refusing output
// longer than 16 KiB.
func RenderMessage(t *template.Template, n *Notification) (string, error) {
	var b messageBuffer
	if err := t.Execute(&b, n); err != nil {
		return "", err
	}
	return b.String(), nil
}

func kpiNames() []string {
	names := make([]string, len(KPIs))
	for i, k := range KPIs {
		names[i] = string(k)
	}
	return names
}
