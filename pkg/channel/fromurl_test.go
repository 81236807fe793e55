package channel

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// refFromURL is FromURL as it was, by url.ParseQuery: the reference the
// scanner is held to.
func refFromURL(raw string) Campaign {
	var c Campaign
	values, _ := url.ParseQuery(queryOf(raw))
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
			if i := clickIndex(name); i >= 0 {
				c.Clicks[i] = v
			}
		}
	}
	return c
}

// FromURL reads what url.ParseQuery read: escapes, plus signs, bad escapes
// and semicolons (the parameter is dropped), repeated names (the first
// value, even empty, counts), empty names, case, fragments, and more than
// 10,000 parameters (none read); and random queries of those pieces.
func TestFromURLReadsAsParseQuery(t *testing.T) {
	for _, raw := range []string{
		"https://shop.example.com/p?utm_source=google&utm_medium=cpc&gclid=abc",
		"/p?utm_source=a%20b&utm_term=red+shoes&utm_content=%E2%82%AC",
		"/p?utm_source=%zz&utm_source=b&gclid=%",
		"/p?utm_source=a;b&utm_medium=x;&utm_campaign=c",
		"/p?utm_source=&utm_source=b&gclid=x&gclid=y",
		"/p?UTM_Source=Google&GCLID=Abc&Msclkid=m",
		"/p?utm_source=UTM_%53OURCE&utm_%73ource=no&utm_medium=%2B",
		"/p?=x&&utm_source&utm_medium=%20&fbclid= f ",
		"/p?gclid=a#utm_source=fragment",
		"/p?utm_campaign=winter%zz=1&utm_campaign=summer",
		"/p?ms%63lkid=1&%3Dutm_term=x&utm_term=y=z",
		"/p?utm_source=a" + strings.Repeat("&x", 9998),
		"/p?utm_source=a" + strings.Repeat("&x", 9999),
		"no query at all", "?", "?&", "?utm_source=\xff",
		"/p?" + casings("utm_campaign", "=&") + "utm_campaign=x&UTM_CAMPAIGN=&utm_source=y",
	} {
		if got, want := FromURL(raw), refFromURL(raw); !reflect.DeepEqual(got, want) {
			t.Errorf("FromURL(%.80q) = %+v, want %+v", raw, got, want)
		}
	}
	// Random queries; each name appears in one case only, as ParseQuery's
	// map order decides between utm_source and UTM_SOURCE.
	names := []string{"utm_source", "UTM_MEDIUM", "utm_Campaign", "utm_content", "utm_term", "gclid", "FBCLID", "li_fat_id", "page", "utm_%73ource", "x"}
	values := []string{"", "a", " b ", "%41", "%zz", "c+d", "e;f", "=g", "%E2%82%AC", "h%2"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		params := make([]string, rnd.IntN(8))
		for i := range params {
			params[i] = names[rnd.IntN(len(names))] + "=" + values[rnd.IntN(len(values))]
			if rnd.IntN(10) == 0 {
				params[i] = values[rnd.IntN(len(values))]
			}
		}
		raw := "https://example.com/?" + strings.Join(params, "&")
		if got, want := FromURL(raw), refFromURL(raw); !reflect.DeepEqual(got, want) {
			t.Fatalf("FromURL(%q) = %+v, want %+v", raw, got, want)
		}
	}
}

// Of a name written in two cases, the first in the URL with a value counts
// (ParseQuery's map left it to chance).
func TestFromURLTakesTheFirstCaseOfAName(t *testing.T) {
	if c := FromURL("/?utm_source=&UTM_SOURCE=a&Utm_Source=b"); c.UTMSource != "a" {
		t.Errorf("got %q, want a", c.UTMSource)
	}
}

// FromURL builds nothing for the parameters it does not keep, nor for
// values that need no unescaping: a URL with UTM parameters and click
// ids is read without allocating.
func TestFromURLDoesNotAllocate(t *testing.T) {
	raw := "https://shop.example.com/p/1?utm_source=google&utm_medium=cpc&utm_campaign=winter&page=2&gclid=G&fbclid=F&sort=price"
	if allocs := testing.AllocsPerRun(100, func() {
		if c := FromURL(raw); c.UTMCampaign != "winter" || c.Clicks[0] != "G" || c.Clicks[4] != "F" {
			t.Fatal(c)
		}
	}); allocs != 0 {
		t.Errorf("reading %s took %v allocations, want 0", raw, allocs)
	}
}

// casings is every way of writing name's letters in either case, each
// followed by sep.
func casings(name, sep string) string {
	var b strings.Builder
	for mask := range 1 << len(name) {
		for i := range len(name) {
			c := name[i]
			if mask&(1<<i) != 0 && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
		}
		b.WriteString(sep)
	}
	return b.String()
}

var sinkCampaign Campaign

// BenchmarkFromURL reads landing URLs as SDKs send them: UTM parameters and
// a click id, a click id alone, other parameters, and escapes.
func BenchmarkFromURL(b *testing.B) {
	urls := []string{
		"https://shop.example.com/p/1?utm_source=google&utm_medium=cpc&utm_campaign=winter&gclid=abc",
		"https://shop.example.com/p/2?utm_source=google&gclid=abc",
		"https://shop.example.com/search?q=red+shoes&page=2&sort=price",
		"https://shop.example.com/p/3?utm_source=news%20letter&utm_term=red+shoes",
		"https://shop.example.com/",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkCampaign = FromURL(urls[i%len(urls)])
	}
}

// FuzzFromURL holds FromURL to url.ParseQuery on arbitrary URLs, but for
// a name written in two cases, where the reference left the choice to its
// map's order.
func FuzzFromURL(f *testing.F) {
	for _, raw := range []string{
		"https://shop.example.com/p?utm_source=google&utm_medium=cpc&gclid=abc",
		"/p?utm_source=a%20b&utm_term=red+shoes&utm_content=%E2%82%AC",
		"/p?utm_source=%zz&utm_source=b&gclid=%", "/p?utm_source=a;b&utm_medium=x;&utm_campaign=c",
		"/p?=x&&utm_source&utm_medium=%20&fbclid= f ", "/p?gclid=a#utm_source=fragment",
		"/p?ms%63lkid=1&%3Dutm_term=x&utm_term=y=z", "?utm_source=\xff", "/p?msclkid=\u212a",
	} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, _ := url.ParseQuery(queryOf(raw))
		cases := map[string]int{}
		for name := range values {
			if cases[strings.ToLower(name)]++; cases[strings.ToLower(name)] > 1 {
				return
			}
		}
		if got, want := FromURL(raw), refFromURL(raw); got != want {
			t.Fatalf("FromURL(%q) = %+v, want %+v", raw, got, want)
		}
	})
}
