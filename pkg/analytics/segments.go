package analytics

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// changeMillis is the SQL of a segment change's time in Unix milliseconds.
const changeMillis = "toUInt64(toUInt32(changed_at)) * 1000 + changed_millis"

// SegmentCountsQuery counts the current members of every segment (the
// segment_members view): columns segment, members.
const SegmentCountsQuery = `-- segments: the current members of every segment
SELECT segment, count() AS members FROM segment_members GROUP BY segment ORDER BY segment`

// segmentName is the form of a segment's name in segments.yaml.
var segmentName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// CheckSegment reports a segment name that segments.yaml could not hold.
func CheckSegment(name string) error {
	if !segmentName.MatchString(name) {
		return fmt.Errorf("%q is not a segment name (letters, digits and _, at most 128)", name)
	}
	return nil
}

// MaxLimit is the largest number of rows a limit may ask for.
const MaxLimit = 100000

// CheckLimit reports a limit outside 1..MaxLimit.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return fmt.Errorf("limit %d is out of range: want 1 to %d", limit, MaxLimit)
	}
	return nil
}

// SegmentMembersQuery lists the current members of a segment and since when
// (UTC), the longest-standing first.
type SegmentMembersQuery struct {
	Segment string
	// Limit is the most members listed, at most MaxLimit; 0 lists all.
	Limit int
}

// SQL renders the query. Its columns: person_id (as the segments service
// stored it), person (the person it resolves to now, through
// person_overrides; the id of the person page), member_since (UTC text).
func (q SegmentMembersQuery) SQL() (string, error) {
	if err := CheckSegment(q.Segment); err != nil {
		return "", err
	}
	limit := ""
	if q.Limit != 0 {
		if err := CheckLimit(q.Limit); err != nil {
			return "", err
		}
		limit = "\nLIMIT " + strconv.Itoa(q.Limit)
	}
	return fmt.Sprintf(`-- segment members: the current members of %s, the longest-standing first
SELECT person_id, if(surviving_person_id = '', person_id, surviving_person_id) AS person,
    toString(member_since) AS since
FROM
(
    SELECT person_id, member_since FROM segment_members WHERE segment = %s
) AS members
ANY LEFT JOIN
(
    SELECT person_id, surviving_person_id FROM person_overrides FINAL
) AS overrides USING person_id
ORDER BY member_since, person_id%s`, q.Segment, quote(q.Segment), limit), nil
}

// MaxHistoryDays is the longest range of SegmentHistoryQuery in days: a
// row per segment and day.
const MaxHistoryDays = 3660

// SegmentHistoryQuery is the members of each segment over time: per
// segment and UTC day of the range, the persons who entered, who left and
// the members at the end of the day (or at the range's end, on its last
// day). Segment, when set, keeps one segment's.
type SegmentHistoryQuery struct {
	Range   Range
	Segment string
}

// SQL renders the query. Its columns: segment, day (YYYY-MM-DD), entered,
// exited, members. Every day of the range has a row for every segment
// that had a change before the range's end. Members at the start of the
// range are the persons whose latest change before it entered the segment
// (as the segment_members view counts them); each entry adds one and each
// exit removes one, as the segments service writes a person's entries and
// exits in turn.
func (q SegmentHistoryQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	filter := ""
	if q.Segment != "" {
		if err := CheckSegment(q.Segment); err != nil {
			return "", err
		}
		filter = " AND segment = " + quote(q.Segment)
	}
	first := q.Range.From.UTC().Truncate(24 * time.Hour)
	days := int(q.Range.To.Add(-time.Second).UTC().Truncate(24*time.Hour).Sub(first)/(24*time.Hour)) + 1
	if days > MaxHistoryDays {
		return "", fmt.Errorf("the range has %d days: at most %d", days, MaxHistoryDays)
	}
	from, to := timeLit(q.Range.From), timeLit(q.Range.To)
	return fmt.Sprintf(`-- segment history: per segment and UTC day of [%[1]s, %[2]s), entries, exits and the members at the day's end
SELECT segment, toString(d.1) AS day, d.2 AS entered, d.3 AS exited, toInt64(at_start) + net AS members
FROM
(
    SELECT segment, arraySort(groupArray((on_day, n_entered, n_exited))) AS ds, sum(n_at_start) AS at_start,
        arrayCumSum(arrayMap(t -> toInt64(t.2) - toInt64(t.3), ds)) AS nets
    FROM
    (
        SELECT segment, on_day, sum(entries) AS n_entered, sum(exits) AS n_exited, sum(before) AS n_at_start
        FROM
        (
            -- every day of the range, for every segment changed before its end
            SELECT segment, arrayJoin(arrayMap(i -> toDate(%[3]s + i), range(%[4]d))) AS on_day,
                toUInt64(0) AS entries, toUInt64(0) AS exits, toUInt64(0) AS before
            FROM (SELECT DISTINCT segment FROM segment_changes WHERE changed_at < %[5]s%[6]s)
            UNION ALL
            SELECT segment, toDate(changed_at) AS on_day, toUInt64(entered) AS entries, toUInt64(1 - entered) AS exits,
                toUInt64(0) AS before
            FROM segment_changes FINAL
            WHERE changed_at >= %[7]s AND changed_at < %[5]s%[6]s
            UNION ALL
            -- the members at the start of the range
            SELECT segment, %[3]s AS on_day, toUInt64(0) AS entries, toUInt64(0) AS exits, count() AS before
            FROM
            (
                SELECT segment, person_id, argMax(entered, %[8]s) AS was_member
                FROM segment_changes FINAL
                WHERE changed_at < %[7]s%[6]s
                GROUP BY segment, person_id
            )
            WHERE was_member = 1
            GROUP BY segment
        )
        GROUP BY segment, on_day
    )
    GROUP BY segment
)
ARRAY JOIN ds AS d, nets AS net
ORDER BY segment, day`,
		q.Range.From.UTC().Format(time.RFC3339), q.Range.To.UTC().Format(time.RFC3339), // 1-2
		dateLit(first), days, to, filter, from, changeMillis), nil // 3-8
}

// personID is the form of a person id: the resolver's p_ and hex, or
// another id of letters, digits, '_', '-' and '.'.
var personID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// CheckPerson reports a person id that no person could have.
func CheckPerson(id string) error {
	if !personID.MatchString(id) {
		return fmt.Errorf("%q is not a person id (letters, digits, _ - ., at most 128)", id)
	}
	return nil
}

// Identifier is an identifier as the identity map stores it: its type and
// its normalised, hashed value.
type Identifier struct {
	Type, Value string
}

// persons renders the SQL of the ids that resolve to the person of q: the
// person (the given id, or the one the identifier's person resolves to now)
// and every person id that merged into it (person_overrides).
func (q PersonQuery) persons() string {
	person := quote(q.Person)
	if q.Identifier.Type != "" {
		person = `(
    SELECT if(surviving_person_id = '', person_id, surviving_person_id)
    FROM (SELECT person_id FROM identity_map FINAL WHERE identifier_type = ` + quote(q.Identifier.Type) +
			` AND identifier_value = ` + quote(q.Identifier.Value) + `) AS known
    ANY LEFT JOIN (SELECT person_id, surviving_person_id FROM person_overrides FINAL) AS overrides USING person_id
)`
	}
	return "(SELECT " + person + " UNION ALL SELECT person_id FROM person_overrides FINAL WHERE surviving_person_id IN (SELECT " +
		person + "))"
}

// PersonQuery is one part of the person page, for a person id or an
// identifier: its identifiers, its merge history, its touches in a range,
// or its segment entries and exits in a range.
type PersonQuery struct {
	// Person is the person id; Identifier, when its Type is set, names the
	// person instead: the person its identity map entry resolves to now.
	Person     string
	Identifier Identifier
	// Part is one of PersonParts.
	Part string
	// Range bounds the touches and the segment changes.
	Range Range
	// Limit is the most touches listed, 1..MaxLimit.
	Limit int
}

// The parts of the person page.
const (
	// PersonIdentifiers: identifier_type, identifier_value (hashed as
	// stored), first_seen of every identifier of the person and of the
	// persons merged into it.
	PersonIdentifiers = "identifiers"
	// PersonMerges: merged_person_id, surviving_person_id, request_id,
	// merged_at of every merge into the person or into a person that merged
	// into it later.
	PersonMerges = "merges"
	// PersonTouches: time (UTC, to the millisecond), channel, event_type,
	// device_type, campaign, utm_source, revenue (currency units), person_id
	// (as stored) of the person's touches in the range, oldest first.
	PersonTouches = "touches"
	// PersonSegments: changed (UTC, to the millisecond), segment, change
	// (entered or exited), person_id (as stored) of the person's segment
	// changes in the range, oldest first.
	PersonSegments = "segments"
)

// SQL renders the query.
func (q PersonQuery) SQL() (string, error) {
	if q.Identifier.Type == "" {
		if err := CheckPerson(q.Person); err != nil {
			return "", err
		}
	}
	ids := q.persons()
	switch q.Part {
	case PersonIdentifiers:
		return `-- person identifiers: every identifier of the person and of those merged into it, hashed as stored
SELECT identifier_type, identifier_value, toString(first_seen) AS seen
FROM identity_map FINAL
WHERE person_id IN ` + ids + `
ORDER BY identifier_type, identifier_value`, nil
	case PersonMerges:
		return `-- person merges: every merge into the person or into a person merged into it later
SELECT merged_person_id, surviving_person_id, request_id, toString(merged_at) AS merged
FROM identity_merges FINAL
WHERE surviving_person_id IN ` + ids + `
ORDER BY merged_at, merged_person_id`, nil
	}
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if err := CheckLimit(q.Limit); err != nil {
		return "", err
	}
	inRange := func(column string) string {
		return column + " >= " + timeLit(q.Range.From) + " AND " + column + " < " + timeLit(q.Range.To)
	}
	limit := strconv.Itoa(q.Limit)
	switch q.Part {
	case PersonTouches:
		return `-- person touches: the person's touches in the range across channels and devices, oldest first
SELECT concat(toString(event_time), '.', substring(toString(1000 + event_millis), 2)) AS touched, channel, event_type,
    device_type, campaign, utm_source, toFloat64(revenue) / 1000000 AS revenue_units, person_id
FROM touchpoints FINAL
WHERE ` + inRange("event_time") + ` AND person_id IN ` + ids + `
ORDER BY ` + eventMillis + `, event_type, channel
LIMIT ` + limit, nil
	case PersonSegments:
		return `-- person segments: the person's segment entries and exits in the range, oldest first
SELECT concat(toString(changed_at), '.', substring(toString(1000 + changed_millis), 2)) AS changed, segment,
    if(entered = 1, 'entered', 'exited') AS change, person_id
FROM segment_changes FINAL
WHERE ` + inRange("changed_at") + ` AND person_id IN ` + ids + `
ORDER BY ` + changeMillis + `, segment
LIMIT ` + limit, nil
	}
	return "", fmt.Errorf("person: unknown part %q", q.Part)
}
