package touchpoint

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func valid() *Touchpoint {
	rev := Money(19_990_000)
	return &Touchpoint{
		EventID: "e1", EventTime: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), EventType: "purchase",
		Identifiers: AttrsOf(map[string]string{"anonymous_id": "a1"}), Revenue: &rev, Currency: "USD",
	}
}

func TestTouchpointValidate(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	neg := Money(-1)
	for _, tc := range []struct {
		name   string
		mutate func(*Touchpoint)
		reason Reason
	}{
		{"valid", func(*Touchpoint) {}, ""},
		{"no event_id", func(t *Touchpoint) { t.EventID = "" }, ReasonMissingField},
		{"no event_type", func(t *Touchpoint) { t.EventType = "" }, ReasonMissingField},
		{"no event_time", func(t *Touchpoint) { t.EventTime = time.Time{} }, ReasonMissingField},
		{"before 2000", func(t *Touchpoint) { t.EventTime = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }, ReasonInvalidTime},
		{"far future", func(t *Touchpoint) { t.EventTime = now.Add(25 * time.Hour) }, ReasonInvalidTime},
		{"near future", func(t *Touchpoint) { t.EventTime = now.Add(23 * time.Hour) }, ""},
		{"no identifiers", func(t *Touchpoint) { t.Identifiers = nil }, ReasonMissingField},
		{"empty identifier", func(t *Touchpoint) { t.Identifiers = AttrsOf(map[string]string{"email": ""}) }, ReasonInvalidField},
		{"empty identifier beside an oversize one", func(t *Touchpoint) { // the entries' own errors come first
			t.Identifiers = AttrsOf(map[string]string{"email": "", "customer_id": strings.Repeat("x", 8193)})
		}, ReasonOversizeField},
		{"negative revenue", func(t *Touchpoint) { t.Revenue = &neg }, ReasonNegativeRevenue},
		{"bad currency", func(t *Touchpoint) { t.Currency = "usd" }, ReasonInvalidField},
		{"oversize url", func(t *Touchpoint) { t.PageURL = strings.Repeat("x", 8193) }, ReasonOversizeField},
		{"oversize property", func(t *Touchpoint) { t.Properties = AttrsOf(map[string]string{"k": strings.Repeat("x", 8193)}) }, ReasonOversizeField},
		{"invalid UTF-8 in event_id", func(t *Touchpoint) { t.EventID = "e\xff" }, ReasonInvalidField},
		{"invalid UTF-8 in event_type", func(t *Touchpoint) { t.EventType = "pur\xc3chase" }, ReasonInvalidField},
		{"invalid UTF-8 in channel", func(t *Touchpoint) { t.Channel = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in campaign", func(t *Touchpoint) { t.Campaign = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in utm_source", func(t *Touchpoint) { t.UTMSource = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in utm_medium", func(t *Touchpoint) { t.UTMMedium = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in utm_campaign", func(t *Touchpoint) { t.UTMCampaign = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in utm_content", func(t *Touchpoint) { t.UTMContent = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in utm_term", func(t *Touchpoint) { t.UTMTerm = "\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in referrer", func(t *Touchpoint) { t.Referrer = "https://x.example/\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in page_url", func(t *Touchpoint) { t.PageURL = "https://x.example/\xfe" }, ReasonInvalidField},
		{"invalid UTF-8 in order_id", func(t *Touchpoint) { t.OrderID = "o\xed\xa0\x80" }, ReasonInvalidField},
		{"invalid UTF-8 in an identifier value", func(t *Touchpoint) { t.Identifiers = AttrsOf(map[string]string{"customer_id": "cus\xff\xfe"}) }, ReasonInvalidField},
		{"invalid UTF-8 in an identifier type", func(t *Touchpoint) { t.Identifiers = AttrsOf(map[string]string{"cus\xff": "1"}) }, ReasonInvalidField},
		{"invalid UTF-8 in a property key", func(t *Touchpoint) { t.Properties = AttrsOf(map[string]string{"k\xff": "v"}) }, ReasonInvalidField},
		{"invalid UTF-8 in a property value", func(t *Touchpoint) { t.Properties = AttrsOf(map[string]string{"k": "v\xff"}) }, ReasonInvalidField},
		{"invalid UTF-8 in the context", func(t *Touchpoint) { t.Context = &Context{OS: "ios\xff"} }, ReasonInvalidField},
		{"valid UTF-8 everywhere", func(t *Touchpoint) {
			t.PageURL, t.Properties = "https://x.example/straße", AttrsOf(map[string]string{"größe": "42 ½"})
			t.Identifiers.Set("customer_id", "cus✓")
		}, ""},
		{"revenue at the bound", func(t *Touchpoint) { m := MaxAmount; t.Revenue = &m }, ""},
		{"revenue above the bound", func(t *Touchpoint) { m := MaxAmount + 1; t.Revenue = &m }, ReasonInvalidField},
		{"too many properties", func(t *Touchpoint) {
			t.Properties = AttrsOf(map[string]string{})
			for i := 0; i < 101; i++ {
				t.Properties.Set(strings.Repeat("k", i+1), "v")
			}
		}, ReasonOversizeField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := valid()
			tc.mutate(tp)
			err := tp.Validate(DefaultLimits(), now)
			var ve *ValidationError
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.reason != "" && (!errors.As(err, &ve) || ve.Reason != tc.reason):
				t.Fatalf("got %v, want reason %s", err, tc.reason)
			}
		})
	}
}

func TestSpendValidate(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	s := Spend{Date: DayOf(now), Channel: "paid_search", Cost: 100, Currency: "USD", Source: "google_ads"}
	if err := s.Validate(DefaultLimits(), now); err != nil {
		t.Fatal(err)
	}
	s.Cost = -1
	var ve *ValidationError
	if err := s.Validate(DefaultLimits(), now); !errors.As(err, &ve) || ve.Reason != ReasonNegativeRevenue {
		t.Fatalf("negative cost: %v", err)
	}
	s.Cost = MaxAmount + 1
	if err := s.Validate(DefaultLimits(), now); !errors.As(err, &ve) || ve.Reason != ReasonInvalidField {
		t.Fatalf("cost above the bound: %v", err)
	}
	for name, mutate := range map[string]func(*Spend){
		"channel": func(s *Spend) { s.Channel = "paid\xff" }, "campaign": func(s *Spend) { s.Campaign = "\xfe" },
		"currency": func(s *Spend) { s.Currency = "\xff\xfe\xfd" }, "source": func(s *Spend) { s.Source = "g\xff" },
	} {
		bad := Spend{Date: DayOf(now), Channel: "paid_search", Cost: MaxAmount, Currency: "USD", Source: "google_ads"}
		mutate(&bad)
		if err := bad.Validate(DefaultLimits(), now); !errors.As(err, &ve) || ve.Reason != ReasonInvalidField || ve.Field != name {
			t.Errorf("invalid UTF-8 in %s: %v", name, err)
		}
	}
	s.Cost, s.Source = 1, ""
	if err := s.Validate(DefaultLimits(), now); !errors.As(err, &ve) || ve.Reason != ReasonMissingField {
		t.Fatalf("no source: %v", err)
	}
}

func TestValidationErrorsNameLongKeysShortly(t *testing.T) {
	tp := valid()
	tp.Properties = AttrsOf(map[string]string{strings.Repeat("é", 5000): "v"})
	err := tp.Validate(DefaultLimits(), time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Reason != ReasonOversizeField || len(err.Error()) > 200 || !utf8.ValidString(err.Error()) {
		t.Fatalf("got %d bytes of error %.120v", len(err.Error()), err)
	}
}

// A valid record is checked without allocating: the name of a map entry
// ("properties.price") is only built for its error. Errors still name it.
func TestValidateBuildsEntryNamesOnlyForErrors(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	tp := valid()
	tp.Identifiers.Set("customer_id", "c1")
	tp.Properties = AttrsOf(map[string]string{"price": "19.99", "quantity": "1", "category": "shoes", "user_agent": "Mozilla/5.0"})
	if allocs := testing.AllocsPerRun(100, func() {
		if err := tp.Validate(DefaultLimits(), now); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("validating a valid record took %v allocations, want 0", allocs)
	}
	tp.Properties.Set("category", "sh\xffoes")
	if err := tp.Validate(DefaultLimits(), now); err == nil || err.Error() != "properties.category: is not valid UTF-8 (byte 2 of 6)" {
		t.Errorf("bad property value: got %v", err)
	}
	tp.Properties.Set("category", strings.Repeat("x", 8193))
	if err := tp.Validate(DefaultLimits(), now); err == nil || err.Error() != "properties.category: has 8193 bytes, the limit is 8192" {
		t.Errorf("oversize property value: got %v", err)
	}
	tp.Properties = AttrsOf(map[string]string{"k\xff": "v"})
	if err := tp.Validate(DefaultLimits(), now); err == nil || err.Error() != "properties: has a key that is not valid UTF-8 (byte 1 of 2)" {
		t.Errorf("bad property key: got %v", err)
	}
	tp.Properties = AttrsOf(map[string]string{strings.Repeat("k", 8193): "v"})
	if err := tp.Validate(DefaultLimits(), now); err == nil || err.Error() != "properties."+strings.Repeat("k", 64)+"...: has 8193 bytes, the limit is 8192" {
		t.Errorf("oversize property key: got %v", err)
	}
}
