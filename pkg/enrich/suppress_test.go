package enrich

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// erased is a suppression list keyed as the resolver keys the list it
// follows: by stitch.SuppressionKey of the normalised identifier.
type erased map[string]bool

func (e erased) Suppressed(ids []identifiers.Identifier) bool {
	for _, id := range ids {
		if e[stitch.SuppressionKey(id)] {
			return true
		}
	}
	return false
}

// TestProcessorDropsSuppressedEvents: with jane's email on the
// suppression list (as the resolver writes it on forget), an event that
// carries it, alone or with an identifier nobody erased, gives neither a
// row, a link request nor a dead letter, even when it is invalid otherwise,
// and is counted; events without it are stored or rejected as before.
func TestProcessorDropsSuppressedEvents(t *testing.T) {
	p, _ := newProcessor(t)
	email, err := p.normalizer.Identifier("email", "jane@example.com")
	if err != nil {
		t.Fatal(err)
	}
	list := erased{stitch.SuppressionKey(email): true}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	p.WithSuppressions(list, dropped)
	at := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		name    string
		ids     map[string]string
		typ     string
		stored  bool
		reason  touchpoint.Reason
		dropped float64
	}{
		{"the erased email, written differently", map[string]string{"email": " Jane@Example.COM "}, "page_view", false, "", 1},
		{"the erased email with a new anonymous id", map[string]string{"email": "jane@example.com", "anonymous_id": "a-new"}, "page_view", false, "", 2},
		{"an invalid event of the erased email", map[string]string{"email": "jane@example.com"}, "", false, "", 3},
		{"the erased email with an invalid phone", map[string]string{"email": "jane@example.com", "phone": "call me"}, "page_view", false, "", 4},
		{"another person", map[string]string{"email": "john@example.com", "anonymous_id": "a-new"}, "page_view", true, "", 4},
		{"an invalid event of another person", map[string]string{"email": "john@example.com"}, "", false, touchpoint.ReasonMissingField, 4},
	} {
		tp, rej := p.TouchpointRow(&touchpoint.Touchpoint{EventID: "e", EventType: c.typ, EventTime: at, Identifiers: touchpoint.AttrsOf(c.ids)})
		switch {
		case c.stored && (tp == nil || rej != nil || tp.Link == nil):
			t.Errorf("%s: got %+v, %+v; want a row and a link request", c.name, tp, rej)
		case !c.stored && tp != nil:
			t.Errorf("%s: stored as %+v", c.name, tp.Row)
		case c.reason == "" && rej != nil:
			t.Errorf("%s: rejected (%s: %v), want dropped", c.name, rej.Reason, rej.Err)
		case c.reason != "" && (rej == nil || rej.Reason != c.reason):
			t.Errorf("%s: rejection %+v, want %s", c.name, rej, c.reason)
		}
		var m dto.Metric
		if err := dropped.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != c.dropped {
			t.Errorf("%s: %v dropped in all, want %v", c.name, got, c.dropped)
		}
	}
}
