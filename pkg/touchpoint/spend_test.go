package touchpoint

import (
	"testing"
	"time"
)

func TestSpendKeyComparesChannelsInTheirNormalisedForm(t *testing.T) {
	day := DayOf(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC))
	key := func(channel, campaign, source string) string {
		return (&Spend{Date: day, Channel: channel, Campaign: campaign, Source: source}).Key()
	}
	want := "2026-12-03|paid_search|brand|google_ads"
	for _, ch := range []string{"paid_search", "Paid Search", " paid-search ", "PAID_SEARCH"} {
		if got := key(ch, "brand", "google_ads"); got != want {
			t.Errorf("key with channel %q = %q, want %q", ch, got, want)
		}
	}
	// Campaigns and sources are ids as sent: their case tells them apart.
	for _, other := range []string{key("paid_search", "Brand", "google_ads"), key("paid_search", "brand", "Google_Ads")} {
		if other == want {
			t.Errorf("key %q equals %q", other, want)
		}
	}
}
