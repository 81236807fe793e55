package channel

import (
	"reflect"
	"testing"
)

func TestFromURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want Campaign
	}{
		{"https://x.example/p?UTM_Source=Google&utm_medium=cpc&utm_campaign=spring%20sale&utm_term=shoes&utm_content=ad1#top",
			Campaign{UTMSource: "Google", UTMMedium: "cpc", UTMCampaign: "spring sale", UTMTerm: "shoes", UTMContent: "ad1"}},
		{"x.example/p?gclid=G1&gbraid=B&wbraid=W&msclkid=M&fbclid=F&ttclid=T&li_fat_id=L&other=1",
			Campaign{Clicks: [...]string{"G1", "B", "W", "M", "F", "T", "L"}}},
		{"https://x.example/p?utm_source=&gclid=", Campaign{}},
		{"https://x.example/p#utm_source=google", Campaign{}},
		{"https://x.example/p?utm_source=a&utm_source=b&bad=%zz", Campaign{UTMSource: "a"}},
		{"", Campaign{}},
	} {
		if got := FromURL(c.url); !reflect.DeepEqual(got, c.want) {
			t.Errorf("FromURL(%q) = %+v, want %+v", c.url, got, c.want)
		}
	}
}

func TestCampaignImplied(t *testing.T) {
	for _, c := range []struct {
		c              Campaign
		source, medium string
	}{
		{Campaign{Clicks: clicks("gclid", "x")}, "google", "cpc"},
		{Campaign{Clicks: clicks("fbclid", "y", "wbraid", "x")}, "google", "cpc"},
		{Campaign{Clicks: clicks("li_fat_id", "x")}, "linkedin", "cpc"},
		{Campaign{Clicks: clicks("fbclid", "y")}, "facebook", "social"},
		{Campaign{UTMSource: "newsletter", Clicks: clicks("gclid", "x")}, "newsletter", ""},
		{Campaign{}, "", ""},
	} {
		if s, m := c.c.Implied(); s != c.source || m != c.medium {
			t.Errorf("%+v implies %s/%s, want %s/%s", c.c, s, m, c.source, c.medium)
		}
	}
}

// clicks is the Clicks of a campaign with the click ids and values of
// pairs (a name, its value, ...).
func clicks(pairs ...string) (c [len(ClickIDs)]string) {
	for i := 0; i < len(pairs); i += 2 {
		c[clickIndex(pairs[i])] = pairs[i+1]
	}
	return c
}
