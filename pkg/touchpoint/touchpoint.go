// Package touchpoint defines touchline's records, a touchpoint (one interaction
// of a person with a channel) and a spend record (a day of ad spend), with
// their JSON form, their Avro form and the validation the ingest service
// applies before anything reaches ClickHouse.
package touchpoint

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/touchline-io/touchline/pkg/channel"
)

// Touchpoint is one interaction of a person with a channel: an ad impression or
// click, an email, SMS or push interaction, a page or app view, a cart, a
// purchase, a store visit, a support contact. Empty optional strings mean
// absent.
type Touchpoint struct {
	EventID     string    `json:"event_id"`
	EventTime   time.Time `json:"event_time"`
	EventType   string    `json:"event_type"`
	Channel     string    `json:"channel,omitempty"`
	Campaign    string    `json:"campaign,omitempty"`
	UTMSource   string    `json:"utm_source,omitempty"`
	UTMMedium   string    `json:"utm_medium,omitempty"`
	UTMCampaign string    `json:"utm_campaign,omitempty"`
	UTMContent  string    `json:"utm_content,omitempty"`
	UTMTerm     string    `json:"utm_term,omitempty"`
	Referrer    string    `json:"referrer,omitempty"`
	PageURL     string    `json:"page_url,omitempty"`
	Identifiers Attrs     `json:"identifiers"`
	Revenue     *Money    `json:"revenue,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	OrderID     string    `json:"order_id,omitempty"`
	Properties  Attrs     `json:"properties,omitempty"`
	Context     *Context  `json:"context,omitempty"`
}

// Context describes the device and place of a touchpoint.
type Context struct {
	DeviceType string `json:"device_type,omitempty"`
	OS         string `json:"os,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Spend is the ad spend of one UTC day, channel, campaign and ad platform
// (source). A later Spend with the same key restates the earlier one.
type Spend struct {
	Date        Day    `json:"date"`
	Channel     string `json:"channel"`
	Campaign    string `json:"campaign,omitempty"`
	Cost        Money  `json:"cost"`
	Currency    string `json:"currency"`
	Impressions *int64 `json:"impressions,omitempty"`
	Clicks      *int64 `json:"clicks,omitempty"`
	Source      string `json:"source"`
}

// Key returns the restatement key of s, date|channel|campaign|source with
// the channel in its normalised form (channel.Key): records with equal keys
// replace each other. It is also the Kafka record key producers should use,
// so that all restatements of a key land in one partition, in order, however
// the channel's case and spacing are written.
func (s *Spend) Key() string {
	return s.Date.String() + "|" + channel.Key(s.Channel) + "|" + s.Campaign + "|" + s.Source
}

// Day is a calendar day in UTC. Its JSON form is "YYYY-MM-DD".
type Day struct{ time.Time }

// DayOf returns the UTC day containing t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// String formats d as YYYY-MM-DD.
func (d Day) String() string { return d.Format(time.DateOnly) }

// MarshalJSON writes d as "YYYY-MM-DD".
func (d Day) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "YYYY-MM-DD".
func (d *Day) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date must be a string YYYY-MM-DD: %w", err)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("date must be YYYY-MM-DD: %w", err)
	}
	d.Time = t
	return nil
}
