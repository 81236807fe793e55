package analytics

import (
	"strings"
	"testing"
	"time"
)

// TestAlertQueriesTakeLiteralsOnly: a rule name reaches the SQL only as a
// quoted literal, and the history refuses an empty range.
func TestAlertQueriesTakeLiteralsOnly(t *testing.T) {
	rule := `x' OR 1 = 1 --`
	state, err := AlertStateQuery{Rule: rule}.SQL()
	if err != nil || !strings.Contains(state, `WHERE rule = 'x\' OR 1 = 1 --'`+"\n") {
		t.Errorf("state of a rule with a quote: %v\n%s", err, state)
	}
	r := Range{From: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 9, 29, 0, 0, 0, 0, time.UTC)}
	history, err := AlertHistoryQuery{Range: r, Rule: rule}.SQL()
	want := "WHERE notified_at >= toDateTime('2026-09-01 00:00:00', 'UTC') AND notified_at < toDateTime('2026-09-29 00:00:00', 'UTC') AND rule = 'x\\' OR 1 = 1 --'\n"
	if err != nil || !strings.Contains(history, want) {
		t.Errorf("history of a rule with a quote: %v\n%s", err, history)
	}
	if all, _ := (AlertStateQuery{}).SQL(); strings.Contains(all, "WHERE") {
		t.Errorf("the state of every rule filters:\n%s", all)
	}
	r.From = r.To
	if _, err := (AlertHistoryQuery{Range: r}).SQL(); err == nil || !strings.Contains(err.Error(), "empty time range") {
		t.Errorf("an empty range: %v", err)
	}
}
