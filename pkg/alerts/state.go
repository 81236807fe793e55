package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
)

// Status is where a rule and group stand.
type Status string

// The statuses. A breach moves ok to pending; For consecutive breaches (and
// the end of the cooldown) move pending to firing; an evaluation without a
// breach moves either back to ok.
const (
	StatusOK      Status = "ok"
	StatusPending Status = "pending"
	StatusFiring  Status = "firing"
)

// The kinds of notification.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// State is the durable state of one rule and group.
type State struct {
	Rule   string
	Group  Group
	Status Status
	// Streak counts the consecutive breaching evaluations.
	Streak int
	// Incident identifies the open incident (pending or firing); "" when ok.
	Incident string
	// PendingSince is when the open incident's first breach was seen.
	PendingSince time.Time
	// FiredAt is when the last incident fired, ResolvedAt when it resolved.
	FiredAt, ResolvedAt time.Time
	// EvaluatedAt, Value and Defined are of the last evaluation, and
	// Currency that of Value, as in a notification's (rules.Notification).
	EvaluatedAt time.Time
	Value       float64
	Currency    string
	Defined     bool
	// Outbox holds notifications not yet delivered to every sink.
	Outbox []Delivery
}

// Delivery is a notification and the sinks it still has to reach.
type Delivery struct {
	Notification rules.Notification `json:"notification"`
	Sinks        []string           `json:"sinks"`
}

// advance applies observation o of the evaluation at `at` over window w to
// s, the state of r and o's group, and returns the notification the
// transition sends, if any.
func advance(r *rules.Rule, s *State, o Observation, at time.Time, w analytics.Range) *rules.Notification {
	s.EvaluatedAt, s.Value, s.Currency, s.Defined = at, o.Value, o.Currency, o.Defined
	if !o.Breach {
		s.Streak = 0
		was := s.Status
		s.Status = StatusOK
		if was != StatusFiring {
			s.Incident = ""
			return nil
		}
		s.ResolvedAt = at
		n := notificationOf(r, s, o, at, w, Resolved)
		s.Incident = ""
		return n
	}
	s.Streak++
	if s.Status == StatusOK {
		s.Status, s.PendingSince, s.Incident = StatusPending, at, incidentID(r.Name, s.Group, at)
	}
	if s.Status != StatusPending || s.Streak < r.For || at.Before(s.ResolvedAt.Add(r.Cooldown)) {
		return nil
	}
	s.Status, s.FiredAt = StatusFiring, at
	return notificationOf(r, s, o, at, w, Firing)
}

// incidentID names the incident of rule and group that began at start.
func incidentID(rule string, g Group, start time.Time) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + g.Channel + "\x00" + g.Campaign + "\x00" + start.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:12])
}

func notificationOf(r *rules.Rule, s *State, o Observation, at time.Time, w analytics.Range, status string) *rules.Notification {
	n := &rules.Notification{
		Key: s.Incident + ":" + status, Incident: s.Incident, Status: status,
		Rule: r.Name, Description: r.Description, KPI: r.KPI, Severity: r.Severity,
		Channel: s.Group.Channel, Campaign: s.Group.Campaign,
		Value: o.Value, Reference: o.Reference, Score: o.Score, Currency: o.Currency,
		WindowStart: w.From, WindowEnd: w.To, At: at, Labels: r.Labels,
	}
	message, err := rules.RenderMessage(r.Message, n)
	if err != nil {
		message = r.Name + " " + status + " (message template failed: " + err.Error() + ")"
	}
	n.Message = message
	return n
}

// window returns the measured window of n.
func windowOf(n *rules.Notification) analytics.Range {
	return analytics.Range{From: n.WindowStart, To: n.WindowEnd}
}
