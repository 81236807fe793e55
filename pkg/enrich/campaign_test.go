package enrich

import (
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// TestProcessorReadsTheCampaignOfThePageURL: a page view that carries its
// tags only in page_url used to be classified direct (or referral) and
// stored without UTM values; a gclid alone means paid search.
func TestProcessorReadsTheCampaignOfThePageURL(t *testing.T) {
	p, _ := newProcessor(t)
	for _, c := range []struct {
		name, url, utmSource                  string
		wantChannel, wantSource, wantCampaign string
	}{
		{"utm in the url", "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand", "", "paid_search", "google", "brand"},
		{"gclid alone", "https://shop.example.com/landing?gclid=abc123", "", "paid_search", "", ""},
		{"msclkid alone", "https://shop.example.com/?msclkid=x", "", "paid_search", "", ""},
		{"fbclid alone is facebook, not paid", "https://shop.example.com/?fbclid=x", "", "organic_social", "", ""},
		{"ttclid alone is a tiktok ad", "https://shop.example.com/?ttclid=x", "", "paid_social", "", ""},
		{"explicit utm wins over the url", "https://shop.example.com/?utm_source=google&utm_medium=cpc", "newsletter", "email", "newsletter", ""},
		{"no tags", "https://shop.example.com/shoes", "", "direct", "", ""},
	} {
		tp := &touchpoint.Touchpoint{EventID: "e", EventTime: time.Now().Add(-time.Minute), EventType: "page_view",
			PageURL: c.url, UTMSource: c.utmSource, Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a"})}
		got, rej := p.TouchpointRow(tp)
		if rej != nil {
			t.Fatalf("%s: %v", c.name, rej.Err)
		}
		if got.Row.Channel != c.wantChannel || got.Row.UTMSource != c.wantSource || got.Row.UTMCampaign != c.wantCampaign {
			t.Errorf("%s: channel %q, utm_source %q, utm_campaign %q; want %q, %q, %q", c.name,
				got.Row.Channel, got.Row.UTMSource, got.Row.UTMCampaign, c.wantChannel, c.wantSource, c.wantCampaign)
		}
	}
}
