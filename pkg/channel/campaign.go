package channel

import (
	"net/url"
	"strings"
)

// ClickIDs are the query parameters ad platforms add to the landing URL of a
// click on an ad, in the order they are looked at.
var ClickIDs = [...]string{"gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid", "li_fat_id"}

// clickSources are the source and medium a click id implies when the URL
// carries no UTM parameters: Google's, Microsoft's, TikTok's and LinkedIn's
// click ids are only added to ad clicks (paid); Meta adds fbclid to every
// outbound link, so it only says the visit came from Facebook.
// They are in the order of ClickIDs.
var clickSources = [len(ClickIDs)][2]string{
	{"google", "cpc"}, {"google", "cpc"}, {"google", "cpc"},
	{"bing", "cpc"}, {"facebook", "social"},
	{"tiktok", "cpc"}, {"linkedin", "cpc"},
}

// clickIndex is the index of the click id name in ClickIDs, -1 for a
// name that is none.
func clickIndex(name string) int {
	for i, id := range ClickIDs {
		if name == id {
			return i
		}
	}
	return -1
}

// Campaign is what a landing URL says about how a visitor came: its UTM
// parameters and ad click ids.
type Campaign struct {
	UTMSource, UTMMedium, UTMCampaign, UTMContent, UTMTerm string
	// Clicks holds the value of each click id parameter present, in the
	// order of ClickIDs (empty for one absent): an array rather than a
	// map, since a campaign is read from every page URL.
	Clicks [len(ClickIDs)]string
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
	for i, v := range c.Clicks {
		if v != "" {
			return clickSources[i][0], clickSources[i][1]
		}
	}
	return "", ""
}

// FromURL reads the UTM parameters and click ids of the query of raw, a
// page URL with or without scheme. Parameter names are compared without
// case; the first value of a repeated parameter counts; empty values are
// absent. A URL that cannot be parsed says nothing. It reads the query as
// net/url's ParseQuery does (the parameters that parse count; more than
// ParseQuery's 10,000 parameters, none), without building the values of
// parameters it does not keep; of a parameter written in two cases
// (utm_source and UTM_Source) with values, the one first in the URL counts.
func FromURL(raw string) Campaign {
	var c Campaign
	query := queryOf(raw)
	if strings.Count(query, "&") >= maxQueryParams {
		return c
	}
	var emptied map[string]bool // names whose first value was empty
	for rest := query; rest != ""; {
		var param string
		param, rest, _ = strings.Cut(rest, "&")
		name, v, ok := splitParam(param)
		if !ok {
			continue
		}
		lower := strings.ToLower(name) // no copy when it is lower case already
		field := c.field(lower)
		click := clickIndex(lower)
		switch {
		case field == nil && click < 0:
			continue
		case field != nil && *field != "", click >= 0 && c.Clicks[click] != "", emptied[name]:
			continue // the first value of a name counts
		}
		switch v = strings.TrimSpace(v); {
		case v == "":
			if emptied == nil {
				emptied = map[string]bool{}
			}
			emptied[name] = true
		case field != nil:
			*field = v
		default:
			c.Clicks[click] = v
		}
	}
	return c
}

// queryOf returns the query of the URL raw: after "?", before "#".
func queryOf(raw string) string {
	_, query, _ := strings.Cut(raw, "?")
	query, _, _ = strings.Cut(query, "#")
	return query
}

// maxQueryParams is the number of parameters past which net/url's
// ParseQuery reads none.
const maxQueryParams = 10000

// field is the UTM field of c that parameter name sets, compared in lower
// case (as strings.ToLower has it); nil for any other name.
func (c *Campaign) field(name string) *string {
	switch name {
	case "utm_source":
		return &c.UTMSource
	case "utm_medium":
		return &c.UTMMedium
	case "utm_campaign":
		return &c.UTMCampaign
	case "utm_content":
		return &c.UTMContent
	case "utm_term":
		return &c.UTMTerm
	}
	return nil
}

// splitParam returns the name and the value of one name=value parameter
// of a query, both unescaped, and whether ParseQuery would keep it: no
// semicolon, a name, and a name and a value that unescape. It reads the
// parameter once, and unescapes only what has escapes or plus signs.
func splitParam(param string) (name, value string, ok bool) {
	if param == "" {
		return "", "", false
	}
	eq := len(param) // the first "=", which ends the name
	escapedName, escapedValue := false, false
	for i := 0; i < len(param); i++ {
		switch param[i] {
		case ';':
			return "", "", false
		case '=':
			if eq == len(param) {
				eq = i
			}
		case '%', '+':
			if eq == len(param) {
				escapedName = true
			} else {
				escapedValue = true
			}
		}
	}
	name = param[:eq]
	if eq < len(param) {
		value = param[eq+1:]
	}
	var err error
	if escapedName {
		if name, err = url.QueryUnescape(name); err != nil {
			return "", "", false
		}
	}
	if escapedValue {
		if value, err = url.QueryUnescape(value); err != nil {
			return "", "", false
		}
	}
	return name, value, true
}
