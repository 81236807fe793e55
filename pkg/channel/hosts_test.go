package channel

import "testing"

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.google.com/search?q=x":    "google.com",
		"HTTPS://WWW.Google.COM/":              "google.com",
		"  http://m.facebook.com/story  ":      "facebook.com",
		"https://l.facebook.com/l.php?u=x":     "l.facebook.com",
		"www.bing.com/search?q=x":              "bing.com",
		"bing.com":                             "bing.com",
		"//cdn.example.com/x":                  "cdn.example.com",
		"https://user:pw@www.example.com:8443": "example.com",
		"http://example.com.:80/":              "example.com",
		"https://www.m.example.com/":           "example.com",
		"https://m.me/page":                    "m.me",
		"https://www.com/":                     "www.com",
		"https://news.google.co.uk/":           "news.google.co.uk",
		"android-app://com.google.android.gm":  "com.google.android.gm",
		"http://192.0.2.7/":                    "192.0.2.7",
		"http://[2001:DB8::1]:8080/":           "2001:db8::1",
		"https://Bücher.de/":                   "bücher.de",
		"google.com/url?q=https://x.com/":      "google.com",
		"":                                     "",
		"(direct)":                             "",
		"direct":                               "",
		"null":                                 "",
		"about:blank":                          "",
		"http://localhost:3000/":               "",
		"https://exa mple.com/":                "",
		"https://example..com/":                "",
		"https://.example.com/":                "",
		"http://[::1/":                         "",
		"https://example.com:http/":            "",
		"mailto:someone@example.com":           "",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegistrableLabel(t *testing.T) {
	for in, want := range map[string]string{
		"google.com":         "google",
		"news.google.com":    "google",
		"google.co.uk":       "google",
		"www.google.com.au":  "google",
		"yahoo.co.jp":        "yahoo",
		"search.yahoo.co.jp": "yahoo",
		"google.de":          "google",
		"t.co":               "t",
		"co.uk":              "co",
		"example.co":         "example",
		"bbc.com":            "bbc",
		"localhost":          "localhost",
	} {
		if got := registrableLabel(in); got != want {
			t.Errorf("registrableLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestListContains(t *testing.T) {
	l := &hostList{
		names:   map[string]struct{}{"google": {}, "google shopping": {}},
		domains: map[string]struct{}{"t.co": {}, "shopping.naver.com": {}},
	}
	for in, want := range map[string]bool{
		"google":             true,
		"google.com":         true,
		"news.google.co.uk":  true,
		"google shopping":    true,
		"googleads":          false,
		"google.example.com": false,
		"t.co":               true,
		"x.t.co":             true,
		"at.co":              false,
		"t":                  false,
		"shopping.naver.com": true,
		"naver.com":          false,
		"":                   false,
	} {
		if got := l.contains(in); got != want {
			t.Errorf("contains(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	r := loadShipped(t)
	for in, want := range map[string]string{
		"email":       "email",
		"EMAIL":       "email",
		" e-mail ":    "email",
		"E_Mail":      "email",
		"Paid Search": "paid_search",
		"PAID-SEARCH": "paid_search",
		"store":       "offline",
		"Call Centre": "offline",
		"cpc":         "",
		"":            "",
		"émail":       "",
	} {
		got, ok := r.Lookup(in)
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
