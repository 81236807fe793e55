package analytics

import "fmt"

// NewCustomersQuery counts the persons whose first conversion ever falls in
// Range: the new customers of blended CAC.
type NewCustomersQuery struct {
	Range Range
	// ConversionType is the event type of conversions.
	ConversionType string
}

// SQL returns the query. Its one column: new_customers.
func (q NewCustomersQuery) SQL() (string, error) {
	if err := q.Range.Validate(); err != nil {
		return "", err
	}
	if q.ConversionType == "" {
		return "", fmt.Errorf("new customers: conversion type is empty")
	}
	events := resolvedEvents([]column{{expr: "event_time", name: "conversion_time"}},
		"event_type = "+quote(q.ConversionType)+" AND event_time < "+timeLit(q.Range.To))
	return `-- Persons whose first ` + q.ConversionType + ` lies in [` + timeLit(q.Range.From) + `, ` + timeLit(q.Range.To) + `).
SELECT count() AS new_customers
FROM
(
    SELECT person, min(conversion_time) AS first_conversion
    FROM ` + events + `
    GROUP BY person
)
WHERE first_conversion >= ` + timeLit(q.Range.From), nil
}
