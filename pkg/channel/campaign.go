package channel

import (
	"net/url"
	"strings"
)

// ClickIDs are the query parameters ad platforms add to the landing URL of a
// click on an ad, in the order they are looked at.
var ClickIDs = []string{"gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid", "li_fat_id"}

// clickSources are the source and medium a click id implies when the URL
// carries no UTM parameters: Google's, Microsoft's, TikTok's and LinkedIn's
// click ids are only added to ad clicks (paid); Meta adds fbclid to every
// outbound link, so it only says the visit came from Facebook.
var clickSources = map[string][2]string{
	"gclid": {"google", "cpc"}, "gbraid": {"google", "cpc"}, "wbraid": {"google", "cpc"},
	"msclkid": {"bing", "cpc"}, "fbclid": {"facebook", "social"},
	"ttclid": {"tiktok", "cpc"}, "li_fat_id": {"linkedin", "cpc"},
}

// Campaign is what a landing URL says about how a visitor came: its UTM
// parameters and ad click ids.
type Campaign struct {
	UTMSource, UTMMedium, UTMCampaign, UTMContent, UTMTerm string
	// Clicks maps each click id parameter present (gclid, ...) to its value.
	Clicks map[string]string
}

// Tagged reports whether c has any UTM parameter.
func (c Campaign) Tagged() bool {
	return c.UTMSource != "" || c.UTMMedium != "" || c.UTMCampaign != "" || c.UTMContent != "" || c.UTMTerm != ""
}

// Implied returns the source and medium for classification: the UTM ones,
// or, when the URL has neither, those its first click id implies (a gclid
// means google / cpc, paid search).
func (c Campaign) Implied() (source, medium string) {
	if c.UTMSource != "" || c.UTMMedium != "" {
		return c.UTMSource, c.UTMMedium
	}
	for _, id := range ClickIDs {
		if _, ok := c.Clicks[id]; ok {
			sm := clickSources[id]
			return sm[0], sm[1]
		}
	}
	return "", ""
}

// FromURL reads the UTM parameters and click ids of the query of raw, a
// page URL with or without scheme. Parameter names are compared without
// case; the first value of a repeated parameter counts; empty values are
// absent. A URL that cannot be parsed says nothing.
func FromURL(raw string) Campaign {
	var c Campaign
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return c
	}
	query, _, _ = strings.Cut(query, "#")
	values, _ := url.ParseQuery(query) // the parameters that parse count
	for name, vs := range values {
		v := strings.TrimSpace(vs[0])
		if v == "" {
			continue
		}
		switch name = strings.ToLower(name); name {
		case "utm_source":
			c.UTMSource = v
		case "utm_medium":
			c.UTMMedium = v
		case "utm_campaign":
			c.UTMCampaign = v
		case "utm_content":
			c.UTMContent = v
		case "utm_term":
			c.UTMTerm = v
		default:
			if _, ok := clickSources[name]; ok {
				if c.Clicks == nil {
					c.Clicks = map[string]string{}
				}
				c.Clicks[name] = v
			}
		}
	}
	return c
}
