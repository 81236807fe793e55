package generate

import (
	"testing"

	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestTrafficMatchesShippedChannelRules classifies generated traffic with the
// shipped pipelines/channels.yaml: every channel that has spend must also have
// clicks, so the dev report's spend lines up with its traffic.
func TestTrafficMatchesShippedChannelRules(t *testing.T) {
	rules, err := channel.Load("../../pipelines/channels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Events: 30_000, Persons: 500, Days: 20, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	clicks := map[string]int{}
	unassigned := 0
	if err := g.Touchpoints(func(tp *touchpoint.Touchpoint) error {
		ch := rules.Classify(channel.Input{Channel: tp.Channel, UTMSource: tp.UTMSource, UTMMedium: tp.UTMMedium,
			UTMCampaign: tp.UTMCampaign, Referrer: tp.Referrer, EventType: tp.EventType})
		if tp.EventType == "click" {
			clicks[ch]++
		}
		if ch == "unassigned" {
			unassigned++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.Spend(func(s *touchpoint.Spend) error {
		id, ok := rules.Lookup(s.Channel)
		if !ok || clicks[id] == 0 {
			t.Errorf("spend on %q (%q, known %v) but no generated click is classified there; clicks by channel: %v", s.Channel, id, ok, clicks)
			return errStop
		}
		return nil
	}); err != nil && err != errStop {
		t.Fatal(err)
	}
	if unassigned > 30_000/10 {
		t.Errorf("%d of 30000 generated touchpoints are unassigned", unassigned)
	}
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}
