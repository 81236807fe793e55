package analytics

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// StagesFile is the name of the funnel stages file in the pipelines
// directory.
const StagesFile = "stages.yaml"

// StageNames are the marketing funnel's stages, in order.
var StageNames = []string{"awareness", "consideration", "conversion", "retention"}

// Stages maps each stage of StageNames to the event types that reach it. An
// event type may belong to several stages. A retention event counts only
// after the person's first conversion event.
type Stages map[string][]string

// DefaultStages returns the stages that hold when pipelines/stages.yaml
// does not exist.
func DefaultStages() Stages {
	return Stages{
		"awareness":     {"impression", "email_open"},
		"consideration": {"click", "email_click", "sms_click", "push_open", "page_view", "add_to_cart", "checkout_start", "store_visit"},
		"conversion":    {"purchase"},
		"retention":     {"purchase", "login", "app_open"},
	}
}

// Validate reports a stage without event types, an empty event type, and
// stages other than StageNames.
func (s Stages) Validate() error {
	var problems []string
	for _, name := range StageNames {
		if len(s[name]) == 0 {
			problems = append(problems, fmt.Sprintf("stage %s has no event types", name))
		}
		for _, t := range s[name] {
			if t == "" {
				problems = append(problems, fmt.Sprintf("stage %s has an empty event type", name))
			}
		}
	}
	for name := range s {
		if !isStage(name) {
			problems = append(problems, fmt.Sprintf("unknown stage %q (want %s)", name, strings.Join(StageNames, ", ")))
		}
	}
	return errorList(problems)
}

func isStage(name string) bool {
	for _, n := range StageNames {
		if n == name {
			return true
		}
	}
	return false
}

// LoadStages reads the stages file at path: a mapping stages: {stage: [event
// types]} with every stage of StageNames. A missing file gives
// DefaultStages. A bad file gives a *pipefile.ConfigError naming path, the
// line and the reason.
func LoadStages(path string) (Stages, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return DefaultStages(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("funnel stages: %w", err)
	}
	return ParseStages(path, data)
}

// ParseStages reads funnel stages from data; name is the file name used in
// errors.
func ParseStages(name string, data []byte) (Stages, error) {
	root, err := pipefile.Document(name, data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, pipefile.Errorf(name, 0, "empty file: want stages: with %s", strings.Join(StageNames, ", "))
	}
	top, err := pipefile.Pairs(name, root, "top level")
	if err != nil {
		return nil, err
	}
	var mapping *yaml.Node
	for _, kv := range top {
		if kv[0].Value != "stages" {
			return nil, pipefile.Errorf(name, kv[0].Line, "unknown key %q (want stages)", kv[0].Value)
		}
		mapping = kv[1]
	}
	if mapping == nil {
		return nil, pipefile.Errorf(name, root.Line, "stages: missing")
	}
	pairs, err := pipefile.Pairs(name, mapping, "stages")
	if err != nil {
		return nil, err
	}
	stages := Stages{}
	var errs pipefile.List
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		var types []string
		switch {
		case !isStage(k.Value):
			errs.Add(name, pipefile.Errorf(name, k.Line, "unknown stage %q (want %s)", k.Value, strings.Join(StageNames, ", ")))
		case v.Kind != yaml.SequenceNode || v.Decode(&types) != nil:
			errs.Add(name, pipefile.Errorf(name, v.Line, "%s: want a list of event types", k.Value))
		default:
			stages[k.Value] = types
		}
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	if err := stages.Validate(); err != nil {
		return nil, pipefile.Errorf(name, mapping.Line, "stages: %v", err)
	}
	return stages, nil
}

// StagesQuery counts the persons reaching each funnel stage in Range, per
// acquisition channel: a person reaches a stage with an event of one of its
// types in Range; retention only with one after their first conversion
// event (before Range.To). A person's acquisition channel is that of their
// oldest touch (Attribution.TouchTypes) before their first purchase ever
// (Attribution.ConversionType), or before Range.To when they never
// purchased; (none) without such a touch.
type StagesQuery struct {
	Range       Range
	Stages      Stages
	Attribution Attribution
	// ByChannel splits the persons by acquisition channel.
	ByChannel bool
}

// SQL returns the query. Its columns: [channel,] stage_number (1 to 4),
// stage, persons, rate_from_previous (persons over those of the previous
// stage, 1 for the first, NULL after a stage of no person).
func (q StagesQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if err := q.Stages.Validate(); err != nil {
		return "", err
	}
	if err := q.Attribution.Validate(); err != nil {
		return "", err
	}
	inRange := "event_time >= " + timeLit(q.Range.From)
	var types []string
	columns := []column{
		{expr: eventMillis, name: "at_ms"},
		col("channel"),
		col("campaign"),
		{expr: "event_type = " + quote(q.Attribution.ConversionType), name: "is_purchase"},
		{expr: "event_type IN (" + quoteList(q.Attribution.TouchTypes) + ")", name: "is_touch"},
		{expr: "event_type IN (" + quoteList(q.Stages["conversion"]) + ")", name: "is_conversion_stage"},
	}
	reached := make([]string, len(StageNames))
	for i, name := range StageNames {
		types = append(types, q.Stages[name]...)
		columns = append(columns, column{expr: inRange + " AND event_type IN (" + quoteList(q.Stages[name]) + ")", name: "in_" + name})
		reached[i] = "countIf(in_" + name + ") > 0"
	}
	// Retention: an event of its types after the first conversion event.
	reached[3] = "first_conversion_ms > 0 AND maxIf(at_ms, in_retention) > first_conversion_ms"
	types = append(types, q.Attribution.ConversionType)
	types = append(types, q.Attribution.TouchTypes...)
	where := "event_time < " + timeLit(q.Range.To) + " AND event_type IN (" + quoteList(types) + ")"
	ones := make([]string, len(StageNames))
	for i := range StageNames {
		ones[i] = "toUInt8(" + reached[i] + ")"
	}
	key, keySelect, keyOrder := "everyone", "", ""
	if q.ByChannel {
		key, keySelect, keyOrder = "acquisition_channel", "\n    acquisition_channel AS channel,", "channel, "
	}
	return `-- Funnel stages (` + strings.Join(StageNames, ", ") + `) reached in [` + q.Range.From.UTC().Format(time.RFC3339) +
		`, ` + q.Range.To.UTC().Format(time.RFC3339) + `),
-- per acquisition channel: the oldest touch before the first purchase ever.
SELECT` + keySelect + `
    stage_number,
    stage,
    stage_persons AS persons,
    multiIf(stage_number = 1, toFloat64(1), previous_persons = 0, NULL, persons / previous_persons) AS rate_from_previous
FROM
(
    SELECT
        ` + key + `,
        sumForEach(stage_reached) AS totals
    FROM
    (
        -- per resolved person: the stages reached and the acquisition channel
        SELECT
            person,
            toUInt8(1) AS everyone,
            minIf(at_ms, is_purchase) AS first_purchase_ms,
            minIf(at_ms, is_conversion_stage) AS first_conversion_ms,
            [` + strings.Join(ones, ",\n             ") + `] AS stage_reached,
            ` + acquisition + `
        FROM ` + resolvedEvents(columns, where) + `
        GROUP BY person
        HAVING arraySum(stage_reached) > 0
    )
    GROUP BY ` + key + `
)
ARRAY JOIN
    arrayEnumerate(totals) AS stage_number,
    [` + quoteList(StageNames) + `] AS stage,
    totals AS stage_persons,
    arrayPushFront(arrayPopBack(totals), toUInt64(0)) AS previous_persons
ORDER BY ` + keyOrder + `stage_number`, nil
}

// acquisition is the select items of a per-person aggregation of events
// with is_touch, at_ms, channel and campaign, which has first_purchase_ms (0
// for none), that name the channel and campaign of the person's oldest
// acquiring touch (one before the first purchase, or any without one) as
// acquisition_channel and acquisition_campaign, or (none) without one. The
// oldest touch acquires if any does, so it is the one to look at; among
// touches at the same millisecond the least channel, then campaign, wins.
const acquisition = `minIf((at_ms, channel, campaign), is_touch) AS first_touch,
            countIf(is_touch) > 0 AND (first_purchase_ms = 0 OR tupleElement(first_touch, 1) < first_purchase_ms) AS acquired,
            if(acquired, tupleElement(first_touch, 2), '` + NoTouch + `') AS acquisition_channel,
            if(acquired, tupleElement(first_touch, 3), '` + NoTouch + `') AS acquisition_campaign`
