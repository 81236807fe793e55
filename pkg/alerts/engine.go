// Package alerts watches channel KPIs: rules from pipelines/alerts.yaml
// (read by package rules) are evaluated against ClickHouse on a schedule,
// each rule and group (all, a channel, or a campaign) moves through the
// states ok, pending and firing, and firing and resolved notifications go to
// webhooks, a Kafka topic and Prometheus. The state lives in ClickHouse, so a
// restarted service neither sends a notification twice nor forgets an
// incident. docs/alerts.md is the reference.
package alerts

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/health"
)

// Engine evaluates rules on a schedule, keeps their states durable in a
// Store and delivers notifications to sinks. One engine (one alerts
// service) runs per deployment; a receiver that sees a notification twice
// (after a crash between delivery and the state write) recognises it by its
// idempotency key.
type Engine struct {
	rules   []*rules.Rule
	source  *Source
	store   *Store
	sinks   []Sink
	cfg     Config
	metrics *Metrics
	log     *zap.Logger

	states map[stateKey]*State
	due    map[string]time.Time // per rule, its next evaluation
	// health fails while steps or rule evaluations fail (ClickHouse
	// unreachable, say).
	health *health.Status
}

// NewEngine returns an engine over the rules of set, whose states it loads from store.
// A nil log discards logs.
func NewEngine(ctx context.Context, set *rules.Rules, source *Source, store *Store, sinks []Sink, cfg Config, metrics *Metrics, log *zap.Logger) (*Engine, error) {
	if log == nil {
		log = zap.NewNop()
	}
	states, err := store.load(ctx)
	if err != nil {
		return nil, err
	}
	return &Engine{rules: set.Rules, source: source, store: store, sinks: sinks, cfg: cfg, metrics: metrics, log: log,
		states: states, due: map[string]time.Time{}, health: health.New(nil)}, nil
}

// Ready reports whether the engine can serve: NewEngine returns only once
// the states are loaded, and then it is ready unless its last step failed
// or the last evaluation of a rule did.
func (e *Engine) Ready() error { return e.health.Err() }

// Outcome is the result of evaluating one rule for one group.
type Outcome struct {
	Rule        *rules.Rule
	Window      analytics.Range
	Observation Observation
	// Before is the group's status before the evaluation; State is the
	// state after it.
	Before Status
	State  State
	// Notification is what the transition sends, or nil.
	Notification *rules.Notification
}

// Plan evaluates rules at `at` against the current states without changing
// anything: the dry run of `touchline alerts eval`. Outcomes are ordered by
// rule (file order) and group.
func (e *Engine) Plan(ctx context.Context, at time.Time, due []*rules.Rule) ([]Outcome, error) {
	var out []Outcome
	for _, r := range due {
		outcomes, err := e.plan(ctx, r, at)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		out = append(out, outcomes...)
	}
	return out, nil
}

func (e *Engine) plan(ctx context.Context, r *rules.Rule, at time.Time) ([]Outcome, error) {
	start := time.Now()
	current, refs := ruleWindows(r, at)
	cur, err := e.source.measure(ctx, r, current)
	if err != nil {
		e.metrics.evaluations.WithLabelValues(r.Name, "error").Inc()
		return nil, fmt.Errorf("measuring %s: %w", describe(current), err)
	}
	refMeasures := make([]map[Group]*measures, len(refs))
	for i, w := range refs {
		if refMeasures[i], err = e.source.measure(ctx, r, w); err != nil {
			e.metrics.evaluations.WithLabelValues(r.Name, "error").Inc()
			return nil, fmt.Errorf("measuring %s: %w", describe(w), err)
		}
	}
	observations := observe(r, cur, refMeasures)
	// Groups with an open incident that measured nothing this time are
	// evaluated too (as no breach), so their incidents resolve.
	seen := map[Group]bool{}
	for _, o := range observations {
		seen[o.Group] = true
	}
	for k, s := range e.states {
		if k.rule == r.Name && s.Status != StatusOK && !seen[s.Group] {
			observations = append(observations, Observation{Group: s.Group})
		}
	}
	out := make([]Outcome, 0, len(observations))
	currency := e.source.currencyOf(r).Code
	for _, o := range observations {
		o.Currency = currency
		st := State{Rule: r.Name, Group: o.Group, Status: StatusOK}
		if s := e.states[keyOf(r.Name, o.Group)]; s != nil {
			st = *s
			st.Outbox = slices.Clone(s.Outbox)
		}
		before := st.Status
		n := advance(r, &st, o, at, current)
		out = append(out, Outcome{Rule: r, Window: current, Observation: o, Before: before, State: st, Notification: n})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Observation.Group.Key() < out[j].Observation.Group.Key() })
	e.metrics.evaluations.WithLabelValues(r.Name, "ok").Inc()
	e.metrics.evaluationSeconds.Observe(time.Since(start).Seconds())
	return out, nil
}

// Step evaluates the rules due at `at`, makes the new states and
// notifications durable, and delivers every notification still in an
// outbox. A rule whose evaluation fails is logged and tried at the next
// step; a failure to write the states is returned, and nothing of the step
// is kept.
func (e *Engine) Step(ctx context.Context, at time.Time) error {
	var changed []*State
	var notifications []*rules.Notification
	evaluated := map[string]bool{}
	for _, r := range e.rules {
		if at.Before(e.due[r.Name]) {
			continue
		}
		outcomes, err := e.plan(ctx, r, at)
		if err != nil {
			e.health.Fail("rule "+r.Name, err)
			e.log.Warn("evaluating alert rule", zap.String("rule", r.Name), zap.Error(err))
			continue
		}
		e.health.Pass("rule " + r.Name)
		evaluated[r.Name] = true
		e.metrics.observe(r, outcomes)
		for i := range outcomes {
			o := &outcomes[i]
			st := &o.State
			if n := o.Notification; n != nil {
				st.Outbox = append(st.Outbox, Delivery{Notification: *n, Sinks: e.sinkNames()})
				notifications = append(notifications, n)
			}
			if old := e.states[keyOf(r.Name, st.Group)]; old != nil || st.Status != StatusOK {
				changed = append(changed, st)
			}
		}
	}
	if len(notifications) > 0 {
		if err := e.store.Record(ctx, notifications); err != nil {
			return err
		}
	}
	if err := e.store.Save(ctx, changed); err != nil {
		return err
	}
	for _, st := range changed {
		e.states[keyOf(st.Rule, st.Group)] = st
	}
	for _, r := range e.rules {
		if evaluated[r.Name] {
			e.due[r.Name] = at.Add(r.Every)
		}
	}
	return e.deliver(ctx)
}

// sinkNames lists the names of the engine's sinks.
func (e *Engine) sinkNames() []string {
	names := make([]string, len(e.sinks))
	for i, s := range e.sinks {
		names[i] = s.Name()
	}
	return names
}

// deliver sends every outbox's notifications to the sinks they have not
// reached, retrying with backoff up to MaxAttempts each, and writes the
// states whose outboxes shrank.
func (e *Engine) deliver(ctx context.Context) error {
	var shrunk []*State
	pending := 0
	for _, st := range sortStates(e.states) {
		if len(st.Outbox) == 0 {
			continue
		}
		before := deliveries(st.Outbox)
		var kept []Delivery
		for _, d := range st.Outbox {
			var left []string
			for _, name := range d.Sinks {
				if !e.send(ctx, name, &d.Notification) {
					left = append(left, name)
				}
			}
			if len(left) > 0 {
				kept = append(kept, Delivery{Notification: d.Notification, Sinks: left})
			}
		}
		st.Outbox = kept
		pending += deliveries(kept)
		if deliveries(kept) != before {
			shrunk = append(shrunk, st)
		}
	}
	e.metrics.outbox.Set(float64(pending))
	return e.store.Save(ctx, shrunk)
}

// deliveries counts the (notification, sink) pairs of an outbox.
func deliveries(outbox []Delivery) int {
	n := 0
	for _, d := range outbox {
		n += len(d.Sinks)
	}
	return n
}

// send delivers n to the sink named name, with retries, and reports
// whether it arrived. A sink no longer configured counts as reached.
func (e *Engine) send(ctx context.Context, name string, n *rules.Notification) bool {
	i := slices.IndexFunc(e.sinks, func(s Sink) bool { return s.Name() == name })
	if i < 0 {
		e.log.Warn("dropping a notification for a sink that is no longer configured", zap.String("sink", name), zap.String("key", n.Key))
		return true
	}
	sink := e.sinks[i]
	attempts := 0
	attemptCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := e.cfg.Policy().Retry(attemptCtx, func(ctx context.Context) error {
		attempts++
		err := sink.Send(ctx, n)
		if err != nil {
			e.metrics.notifications.WithLabelValues(name, n.Status, "failed").Inc()
			if attempts >= e.cfg.MaxAttempts {
				e.log.Warn("alert notification stays in the outbox until the next tick", zap.String("sink", name),
					zap.String("key", n.Key), zap.Int("attempts", attempts), zap.Error(err))
				cancel()
			}
		}
		return err
	}, func(attempt int, wait time.Duration, err error) {
		e.log.Warn("delivering alert notification", zap.String("sink", name), zap.String("key", n.Key),
			zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.Error(err))
	})
	if err != nil {
		return false
	}
	e.metrics.notifications.WithLabelValues(name, n.Status, "sent").Inc()
	e.log.Info("alert notification sent", zap.String("sink", name), zap.String("key", n.Key), zap.String("message", n.Message))
	return true
}

// Run steps the engine every cfg.Tick until ctx ends; failed steps are
// logged and retried at the next tick.
func (e *Engine) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	for {
		switch err := e.Step(ctx, time.Now()); {
		case ctx.Err() != nil:
		case err != nil:
			e.health.Fail("step", err)
			e.log.Error("alerts step failed; retrying at the next tick", zap.Error(err))
		default:
			e.health.Pass("step")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
