package enrich

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Suppressions is the list of erased identifiers (resolver.Suppressions,
// which follows the suppressions topic). It must be safe for concurrent
// use.
type Suppressions interface {
	// Suppressed reports whether any of ids is suppressed.
	Suppressed(ids []identifiers.Identifier) bool
}

// suppression is what a processor drops events with, and counts them in.
type suppression struct {
	list    Suppressions
	dropped prometheus.Counter
}

// WithSuppressions makes the processor drop every touchpoint that carries a
// suppressed identifier, whatever its other identifiers, and count it in
// dropped: TouchpointRow and Touchpoint then return neither a row nor a
// rejection, also for an event that is invalid otherwise. Nothing of the
// event is stored, linked or dead-lettered.
func (p *Processor) WithSuppressions(list Suppressions, dropped prometheus.Counter) *Processor {
	p.suppression = &suppression{list: list, dropped: dropped}
	return p
}

// suppressed reports whether the event of ids is to be dropped, and
// counts it.
func (p *Processor) suppressed(ids []identifiers.Identifier) bool {
	if p.suppression == nil || !p.suppression.list.Suppressed(ids) {
		return false
	}
	p.suppression.dropped.Inc()
	return true
}

// unlessSuppressed returns rej, the rejection of t, or nil when one of t's
// identifiers that can be normalised is suppressed: an erased person's
// invalid event is dropped and counted like her valid ones, never
// dead-lettered with her identifiers in it.
func (p *Processor) unlessSuppressed(t *touchpoint.Touchpoint, rej *Rejection) *Rejection {
	if p.suppression == nil {
		return rej
	}
	ids := make([]identifiers.Identifier, 0, len(t.Identifiers))
	for _, e := range t.Identifiers {
		if id, err := p.normalizer.Identifier(identifiers.NormalizeType(e.Key), e.Value); err == nil {
			ids = append(ids, id)
		}
	}
	if p.suppressed(ids) {
		return nil
	}
	return rej
}

// NewSuppressedCounter registers with reg and returns the ingest service's
// count of touchpoints dropped because they carry an erased identifier,
// touchline_ingest_suppressed_total.
func NewSuppressedCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "touchline", Subsystem: "ingest", Name: "suppressed_total",
		Help: "Touchpoints dropped, not stored, because one of their identifiers was erased (touchline forget)."})
	reg.MustRegister(c)
	return c
}
