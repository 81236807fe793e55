package analyticscases

import (
	"time"

	"github.com/touchline-io/touchline/pkg/analytics"
)

// segmentsFixture: vip holds a and b before September; c enters on the 1st,
// d enters and b exits on the 2nd, d exits on the 3rd. cart gets old (merged
// into a) on the 3rd and e after the range. a's touches include one stored
// as old and one after the range; b's are not a's.
func segmentsFixture() Fixture {
	sep := func(d, h int) time.Time { return at(2026, 9, d, h, 0, 0) }
	change := func(segment, person string, entered bool, t time.Time) SegmentChange {
		return SegmentChange{Segment: segment, Person: person, Entered: entered, At: t}
	}
	withMillis := func(e Event, ms int) Event { e.At = e.At.Add(time.Duration(ms) * time.Millisecond); return e }
	return Fixture{
		Changes: []SegmentChange{
			change("vip", "a", true, at(2026, 8, 20, 10, 0, 0)),
			change("vip", "b", true, at(2026, 8, 25, 0, 0, 0)), change("vip", "b", false, sep(2, 9)),
			change("vip", "c", true, sep(1, 12)),
			change("vip", "d", true, sep(2, 8)), change("vip", "d", false, sep(3, 18)),
			change("cart", "old", true, sep(3, 7).Add(5*time.Millisecond)),
			change("cart", "e", true, sep(5, 0)),
		},
		Overrides: []Override{{Person: "old", Survivor: "a", Version: 1}},
		Identities: []Identity{
			{Type: "email", Value: "h1", Person: "a", FirstSeen: day(2026, 8, 1)},
			{Type: "anonymous_id", Value: "h2", Person: "old", FirstSeen: day(2026, 8, 2)},
			{Type: "email", Value: "h3", Person: "b", FirstSeen: day(2026, 8, 3)},
		},
		Merges: []Merge{
			{Merged: "old", Survivor: "a", Request: "r1", At: day(2026, 8, 15)},
			{Merged: "x", Survivor: "b", Request: "r2", At: day(2026, 8, 16)},
		},
		Events: []Event{
			ev("t1", "old", "page_view", "web", "fall", sep(1, 9)),
			withMillis(ev("t2", "a", "email_click", "email", "fall", sep(1, 10)), 250),
			purchase("t3", "a", sep(2, 11), 25.5),
			ev("t4", "b", "page_view", "web", "fall", sep(2, 12)),
			ev("t5", "a", "page_view", "web", "fall", sep(10, 0)),
		},
	}
}

// segmentCases: the segments and person pages' analyses, by hand.
func segmentCases() []spec {
	f := segmentsFixture()
	sep := analytics.Range{From: day(2026, 9, 1), To: day(2026, 9, 4)}
	return []spec{
		{
			name:    "segment history: entries, exits and members at each day's end, from the members at the start",
			fixture: f, query: analytics.SegmentHistoryQuery{Range: sep},
			columns: []string{"segment", "day", "entered", "exited", "members"}, key: 2,
			want: [][]any{
				{"cart", "2026-09-01", 0.0, 0.0, 0.0}, {"cart", "2026-09-02", 0.0, 0.0, 0.0}, {"cart", "2026-09-03", 1.0, 0.0, 1.0},
				{"vip", "2026-09-01", 1.0, 0.0, 3.0}, {"vip", "2026-09-02", 1.0, 1.0, 3.0}, {"vip", "2026-09-03", 0.0, 1.0, 2.0},
			},
		},
		{
			name:    "segment history: one segment, a range starting mid-day",
			fixture: f, query: analytics.SegmentHistoryQuery{Range: analytics.Range{From: at(2026, 9, 2, 8, 30, 0), To: day(2026, 9, 4)}, Segment: "vip"},
			columns: []string{"segment", "day", "entered", "exited", "members"}, key: 2,
			// At 08:30 on the 2nd: a, b, c, d; b exits that day; d on the 3rd.
			want: [][]any{{"vip", "2026-09-02", 0.0, 1.0, 3.0}, {"vip", "2026-09-03", 0.0, 1.0, 2.0}},
		},
		{
			name: "segments: current members", fixture: f, query: constQuery(analytics.SegmentCountsQuery),
			columns: []string{"segment", "members"}, key: 1,
			want: [][]any{{"cart", 2.0}, {"vip", 2.0}},
		},
		{
			name: "segment members: the person each resolves to", fixture: f, query: analytics.SegmentMembersQuery{Segment: "cart", Limit: 10},
			columns: []string{"person_id", "person", "since"}, key: 1,
			want: [][]any{{"e", "e", "2026-09-05 00:00:00"}, {"old", "a", "2026-09-03 07:00:00"}},
		},
		{
			name: "person identifiers: its own and those of the persons merged into it", fixture: f,
			query:   analytics.PersonQuery{Person: "a", Part: analytics.PersonIdentifiers},
			columns: []string{"identifier_type", "identifier_value", "seen"}, key: 2,
			want: [][]any{{"anonymous_id", "h2", "2026-08-02 00:00:00"}, {"email", "h1", "2026-08-01 00:00:00"}},
		},
		{
			name: "person identifiers of the person of an identifier: old's, so a's", fixture: f,
			query:   analytics.PersonQuery{Identifier: analytics.Identifier{Type: "anonymous_id", Value: "h2"}, Part: analytics.PersonIdentifiers},
			columns: []string{"identifier_type", "identifier_value", "seen"}, key: 2,
			want: [][]any{{"anonymous_id", "h2", "2026-08-02 00:00:00"}, {"email", "h1", "2026-08-01 00:00:00"}},
		},
		{
			name: "person merges", fixture: f, query: analytics.PersonQuery{Person: "a", Part: analytics.PersonMerges},
			columns: []string{"merged_person_id", "surviving_person_id", "request_id", "merged"}, key: 1,
			want: [][]any{{"old", "a", "r1", "2026-08-15 00:00:00"}},
		},
		{
			name: "person touches: in the range, stored under a merged id too", fixture: f,
			query:   analytics.PersonQuery{Person: "a", Part: analytics.PersonTouches, Range: sep, Limit: 10},
			columns: []string{"touched", "channel", "event_type", "device_type", "campaign", "utm_source", "revenue_units", "person_id"}, key: 1,
			want: [][]any{
				{"2026-09-01 09:00:00.000", "web", "page_view", "", "fall", "", 0.0, "old"},
				{"2026-09-01 10:00:00.250", "email", "email_click", "", "fall", "", 0.0, "a"},
				{"2026-09-02 11:00:00.000", "web", "purchase", "", "", "", 25.5, "a"},
			},
		},
		{
			name: "person segments: entries and exits in the range", fixture: f,
			query:   analytics.PersonQuery{Person: "a", Part: analytics.PersonSegments, Range: sep, Limit: 10},
			columns: []string{"changed", "segment", "change", "person_id"}, key: 1,
			want: [][]any{{"2026-09-03 07:00:00.005", "cart", "entered", "old"}},
		},
	}
}

// constQuery is a query without parameters.
type constQuery string

// SQL returns the query.
func (q constQuery) SQL() (string, error) { return string(q), nil }
