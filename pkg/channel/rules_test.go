package channel

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// shipped is the rule file the ingest service ships with.
const shipped = "../../pipelines/channels.yaml"

func loadShipped(t testing.TB) *Rules {
	t.Helper()
	r, err := Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestClassifyShipped checks the shipped rules against expectations written
// by hand from GA4's default channel grouping and the rule file's comments.
func TestClassifyShipped(t *testing.T) {
	r := loadShipped(t)
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		// Explicit channel.
		{"explicit id", Input{Channel: "paid_search", EventType: "click"}, "paid_search"},
		{"explicit mixed case", Input{Channel: "Email", EventType: "page_view"}, "email"},
		{"explicit alias", Input{Channel: " E-Mail ", EventType: "page_view"}, "email"},
		{"explicit alias newsletter", Input{Channel: "newsletter"}, "email"},
		{"explicit with spaces", Input{Channel: "Paid Search"}, "paid_search"},
		{"explicit with hyphen", Input{Channel: "organic-social"}, "organic_social"},
		{"explicit store", Input{Channel: "store", EventType: "purchase"}, "offline"},
		{"explicit beats utm", Input{Channel: "affiliate", UTMSource: "google", UTMMedium: "cpc"}, "affiliate"},
		{"explicit unknown falls back", Input{Channel: "foo", UTMSource: "google", UTMMedium: "cpc"}, "paid_search"},
		{"explicit medium is no channel", Input{Channel: "cpc", UTMSource: "bing", UTMMedium: "cpc"}, "paid_search"},
		{"explicit blank", Input{Channel: "   ", EventType: "page_view"}, "direct"},
		{"explicit non-ascii", Input{Channel: "émail", EventType: "page_view"}, "direct"},

		// GA4: Direct.
		{"nothing", Input{EventType: "page_view"}, "direct"},
		{"nothing purchase", Input{EventType: "purchase"}, "direct"},
		{"explicit (direct)/(none)", Input{UTMSource: "(direct)", UTMMedium: "(none)", EventType: "page_view"}, "direct"},
		{"explicit (direct)/(not set)", Input{UTMSource: "(direct)", UTMMedium: "(not set)", EventType: "page_view"}, "direct"},
		{"campaign only", Input{UTMCampaign: "spring", EventType: "page_view"}, "direct"},
		{"referrer placeholder", Input{Referrer: "(direct)", EventType: "page_view"}, "direct"},
		{"referrer about:blank", Input{Referrer: "about:blank", EventType: "page_view"}, "direct"},
		{"no event type", Input{}, "unassigned"},
		{"spend with unknown channel", Input{Channel: "tv_upfront"}, "unassigned"},

		// Events of one channel.
		{"email open", Input{EventType: "email_open"}, "email"},
		{"email click tagged", Input{EventType: "email_click", UTMSource: "esp", UTMMedium: "newsletter"}, "email"},
		{"sms click", Input{EventType: "sms_click"}, "sms"},
		{"push open", Input{EventType: "PUSH_OPEN"}, "push"},

		// GA4: Cross-network.
		{"cross-network", Input{UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "PMax Cross-Network Q4", EventType: "click"}, "cross_network"},

		// GA4: Paid Shopping.
		{"amazon cpc", Input{UTMSource: "amazon", UTMMedium: "cpc", EventType: "click"}, "paid_shopping"},
		{"google shopping campaign", Input{UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "Shopping - Brand", EventType: "click"}, "paid_shopping"},
		{"shop campaign", Input{UTMSource: "bing", UTMMedium: "ppc", UTMCampaign: "eu_shop_2026", EventType: "click"}, "paid_shopping"},
		{"workshop is no shop", Input{UTMSource: "bing", UTMMedium: "ppc", UTMCampaign: "workshop", EventType: "click"}, "paid_search"},

		// GA4: Paid Search.
		{"google cpc", Input{UTMSource: "google", UTMMedium: "cpc", EventType: "page_view"}, "paid_search"},
		{"Google CPC upper", Input{UTMSource: " Google ", UTMMedium: "CPC", EventType: "page_view"}, "paid_search"},
		{"bing ppc", Input{UTMSource: "bing", UTMMedium: "ppc", EventType: "page_view"}, "paid_search"},
		{"duckduckgo paid", Input{UTMSource: "duckduckgo", UTMMedium: "paidsearch"}, "paid_search"},
		{"google.com retargeting", Input{UTMSource: "google.com", UTMMedium: "retargeting"}, "paid_search"},
		{"yahoo.co.jp cpc", Input{UTMSource: "yahoo.co.jp", UTMMedium: "cpc"}, "paid_search"},

		// GA4: Paid Social.
		{"facebook paid_social", Input{UTMSource: "facebook", UTMMedium: "paid_social", EventType: "page_view"}, "paid_social"},
		{"ig paid", Input{UTMSource: "ig", UTMMedium: "paid"}, "paid_social"},
		{"linkedin cpc", Input{UTMSource: "linkedin", UTMMedium: "cpc"}, "paid_social"},
		{"tiktok cpm-based paid", Input{UTMSource: "tiktok", UTMMedium: "paid-social"}, "paid_social"},
		{"meta cpc", Input{UTMSource: "Meta", UTMMedium: "cpc"}, "paid_social"},

		// GA4: Paid Video.
		{"youtube cpv", Input{UTMSource: "youtube", UTMMedium: "cpv"}, "video"},
		{"vimeo paid", Input{UTMSource: "vimeo", UTMMedium: "paid_video"}, "video"},

		// GA4: Display.
		{"display", Input{UTMSource: "dv360", UTMMedium: "display"}, "display"},
		{"banner", Input{UTMSource: "criteo", UTMMedium: "banner"}, "display"},
		{"cpm", Input{UTMSource: "criteo", UTMMedium: "cpm"}, "display"},
		{"google cpm is paid search (GA4 order)", Input{UTMSource: "google", UTMMedium: "cpm"}, "paid_search"},

		// GA4: Paid Other (no such channel here).
		{"unknown source cpc", Input{UTMSource: "criteo", UTMMedium: "cpc", EventType: "click"}, "unassigned"},
		{"paid medium only", Input{UTMMedium: "paid", Referrer: "https://www.google.com/"}, "unassigned"},

		// GA4: Organic Shopping.
		{"ebay referral", Input{UTMSource: "ebay", UTMMedium: "referral"}, "organic_shopping"},
		{"shopping campaign, no medium", Input{UTMSource: "partner", UTMCampaign: "shopping_feed"}, "organic_shopping"},

		// GA4: Organic Social.
		{"facebook social", Input{UTMSource: "facebook", UTMMedium: "social"}, "organic_social"},
		{"twitter only", Input{UTMSource: "twitter"}, "organic_social"},
		{"linkedin Social upper", Input{UTMSource: "LinkedIn", UTMMedium: "Social"}, "organic_social"},
		{"unknown source social medium", Input{UTMSource: "mastodon", UTMMedium: "social media"}, "organic_social"},
		{"sm medium", Input{UTMSource: "buffer", UTMMedium: "sm"}, "organic_social"},

		// GA4: Organic Video.
		{"youtube video", Input{UTMSource: "youtube", UTMMedium: "video"}, "organic_video"},
		{"video medium", Input{UTMSource: "wirecast", UTMMedium: "livevideo"}, "organic_video"},

		// GA4: Organic Search.
		{"google organic", Input{UTMSource: "google", UTMMedium: "organic", EventType: "page_view"}, "organic_search"},
		{"organic medium only", Input{UTMMedium: "organic"}, "organic_search"},
		{"bing referral medium", Input{UTMSource: "bing", UTMMedium: "referral"}, "organic_search"},

		// GA4: Referral.
		{"referral medium", Input{UTMSource: "partnerblog", UTMMedium: "referral"}, "referral"},
		{"app medium", Input{UTMSource: "some_app", UTMMedium: "app"}, "referral"},

		// GA4: Email.
		{"newsletter email", Input{UTMSource: "newsletter", UTMMedium: "email", EventType: "page_view"}, "email"},
		{"source e-mail", Input{UTMSource: "e-mail"}, "email"},
		{"medium e_mail", Input{UTMSource: "mailchimp", UTMMedium: "E_Mail"}, "email"},
		{"medium newsletter", Input{UTMSource: "mailchimp", UTMMedium: "newsletter"}, "email"},
		{"emailing is not email", Input{UTMSource: "x1", UTMMedium: "emailing"}, "unassigned"},

		// GA4: Affiliates, Audio, SMS, Mobile Push.
		{"affiliate", Input{UTMSource: "awin", UTMMedium: "affiliate"}, "affiliate"},
		{"audio", Input{UTMSource: "spotify", UTMMedium: "audio"}, "audio"},
		{"sms medium", Input{UTMSource: "twilio", UTMMedium: "sms"}, "sms"},
		{"sms source", Input{UTMSource: "sms"}, "sms"},
		{"push medium", Input{UTMSource: "braze", UTMMedium: "push"}, "push"},
		{"web push medium", Input{UTMSource: "onesignal", UTMMedium: "web-push"}, "push"},
		{"mobile medium", Input{UTMSource: "app", UTMMedium: "mobile"}, "push"},
		{"notification medium", Input{UTMSource: "app", UTMMedium: "in_app_notification"}, "push"},
		{"firebase source", Input{UTMSource: "firebase"}, "push"},

		// Tagged but unknown: the referrer does not override the tag.
		{"unknown source", Input{UTMSource: "q4_promo", EventType: "page_view"}, "unassigned"},
		{"unknown medium with referrer", Input{UTMMedium: "qr", Referrer: "https://www.google.com/"}, "unassigned"},

		// Untagged: the referrer.
		{"google referrer", Input{Referrer: "https://www.google.com/", EventType: "page_view"}, "organic_search"},
		{"google.co.uk referrer", Input{Referrer: "https://www.google.co.uk/search?q=shoes", EventType: "page_view"}, "organic_search"},
		{"google.com.au referrer", Input{Referrer: "https://google.com.au/"}, "organic_search"},
		{"referrer without scheme", Input{Referrer: "www.bing.com/search?q=x", EventType: "page_view"}, "organic_search"},
		{"referrer upper case", Input{Referrer: "HTTPS://WWW.DuckDuckGo.COM/", EventType: "page_view"}, "organic_search"},
		{"yandex.ru", Input{Referrer: "https://yandex.ru/search/?text=x"}, "organic_search"},
		{"baidu", Input{Referrer: "http://www.baidu.com/link?url=x"}, "organic_search"},
		{"ecosia", Input{Referrer: "https://www.ecosia.org/"}, "organic_search"},
		{"brave search", Input{Referrer: "https://search.brave.com/search?q=x"}, "organic_search"},
		{"android search app", Input{Referrer: "android-app://com.google.android.googlequicksearchbox/"}, "organic_search"},
		{"l.facebook.com", Input{Referrer: "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com", EventType: "page_view"}, "organic_social"},
		{"m.facebook.com", Input{Referrer: "https://m.facebook.com/"}, "organic_social"},
		{"t.co", Input{Referrer: "https://t.co/abc123"}, "organic_social"},
		{"x.com", Input{Referrer: "https://x.com/someone/status/1"}, "organic_social"},
		{"instagram", Input{Referrer: "https://www.instagram.com/"}, "organic_social"},
		{"lnkd.in", Input{Referrer: "https://lnkd.in/abc"}, "organic_social"},
		{"old.reddit.com", Input{Referrer: "https://old.reddit.com/r/x"}, "organic_social"},
		{"youtube referrer", Input{Referrer: "https://www.youtube.com/watch?v=x"}, "organic_video"},
		{"youtu.be referrer", Input{Referrer: "https://youtu.be/x"}, "organic_video"},
		{"m.youtube referrer", Input{Referrer: "https://m.youtube.com/"}, "organic_video"},
		{"amazon.de referrer", Input{Referrer: "https://www.amazon.de/dp/B0"}, "organic_shopping"},
		{"shopping.google.com", Input{Referrer: "https://shopping.google.com/"}, "organic_shopping"},
		{"gmail web", Input{Referrer: "https://mail.google.com/mail/u/0/", EventType: "page_view"}, "email"},
		{"gmail app", Input{Referrer: "android-app://com.google.android.gm"}, "email"},
		{"other site", Input{Referrer: "https://blog.example.org/post", EventType: "page_view"}, "referral"},
		{"other site with port", Input{Referrer: "http://partner.example.net:8080/"}, "referral"},
		{"ip referrer", Input{Referrer: "http://192.0.2.7/"}, "referral"},
		{"ipv6 referrer", Input{Referrer: "http://[2001:db8::1]:8080/"}, "referral"},
		{"lookalike is no search engine", Input{Referrer: "https://googleblog.example.com/"}, "referral"},
		{"chatgpt", Input{Referrer: "https://chatgpt.com/"}, "referral"},

		// Offline.
		{"store visit", Input{EventType: "store_visit"}, "offline"},
		{"support contact", Input{EventType: "Support_Contact"}, "offline"},
		{"store visit tagged", Input{EventType: "store_visit", UTMSource: "google", UTMMedium: "cpc"}, "paid_search"},
		{"store visit with referrer", Input{EventType: "store_visit", Referrer: "https://partner.example.net/"}, "referral"},

		// Ads without any signal.
		{"bare impression", Input{EventType: "impression"}, "unassigned"},
		{"bare click", Input{EventType: "click"}, "unassigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Classify(tc.in); got != tc.want {
				t.Errorf("Classify(%+v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// withInternal returns the shipped rules with internal_hosts replaced.
func withInternal(t *testing.T, hosts string) *Rules {
	t.Helper()
	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	const def = "\ninternal_hosts: []\n"
	if !strings.Contains(string(data), def) {
		t.Fatalf("%s no longer has %q", shipped, def)
	}
	r, err := Parse("channels.yaml", []byte(strings.Replace(string(data), def, "\ninternal_hosts: "+hosts+"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInternalHosts(t *testing.T) {
	r := withInternal(t, "[shop.example.com, 'https://www.example.org/']")
	for _, tc := range []struct {
		in   Input
		want string
	}{
		{Input{Referrer: "https://shop.example.com/cart", EventType: "page_view"}, "direct"},
		{Input{Referrer: "https://checkout.shop.example.com/", EventType: "purchase"}, "direct"},
		{Input{Referrer: "https://WWW.Example.ORG/blog", EventType: "page_view"}, "direct"},
		{Input{Referrer: "https://blog.example.org/", EventType: "page_view"}, "direct"},
		{Input{Referrer: "https://shop.example.com/", EventType: "store_visit"}, "offline"},
		{Input{Referrer: "https://example.com/", EventType: "page_view"}, "referral"},
		{Input{Referrer: "https://notshop.example.com/", EventType: "page_view"}, "referral"},
		{Input{Referrer: "https://shop.example.com/", UTMSource: "google", UTMMedium: "cpc"}, "paid_search"},
	} {
		if got := r.Classify(tc.in); got != tc.want {
			t.Errorf("Classify(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// The shipped default has none.
	if got := loadShipped(t).Classify(Input{Referrer: "https://shop.example.com/", EventType: "page_view"}); got != "referral" {
		t.Errorf("shipped rules: got %q, want referral", got)
	}
}

func TestChannelsShipped(t *testing.T) {
	r := loadShipped(t)
	want := []string{
		"paid_search", "organic_search", "paid_social", "organic_social", "email", "sms", "push",
		"display", "video", "organic_video", "affiliate", "referral", "direct", "offline", "audio",
		"paid_shopping", "organic_shopping", "cross_network", "unassigned",
	}
	chans := r.Channels()
	if len(chans) != len(want) {
		t.Fatalf("got %d channels, want %d", len(chans), len(want))
	}
	for i, c := range chans {
		if c.ID != want[i] {
			t.Errorf("channel %d = %q, want %q", i, c.ID, want[i])
		}
		if c.Description == "" {
			t.Errorf("channel %q has no description", c.ID)
		}
		if got := r.Classify(Input{Channel: c.ID}); got != c.ID {
			t.Errorf("Classify(explicit %q) = %q", c.ID, got)
		}
		for _, a := range c.Aliases {
			if got := r.Classify(Input{Channel: a}); got != c.ID {
				t.Errorf("Classify(alias %q) = %q, want %q", a, got, c.ID)
			}
		}
	}
	// Channels returns a copy.
	chans[0].ID = "changed"
	chans[3].Aliases[0] = "changed"
	if c := r.Channels(); c[0].ID != "paid_search" || c[3].Aliases[0] == "changed" {
		t.Error("Channels shares memory with the rules")
	}
}

// TestShippedRulesReachable makes sure every shipped rule but the fallback
// decides at least one input of TestClassifyShipped's kind, so that no rule
// is shadowed by an earlier one.
func TestShippedRulesReachable(t *testing.T) {
	r := loadShipped(t)
	hit := make([]bool, len(r.rules))
	for _, in := range []Input{
		{UTMSource: "(direct)", UTMMedium: "(none)"},
		{EventType: "email_open"}, {EventType: "sms_click"}, {EventType: "push_open"},
		{UTMCampaign: "cross-network"},
		{UTMSource: "amazon", UTMMedium: "cpc"}, {UTMCampaign: "shopping", UTMMedium: "cpc"},
		{UTMSource: "google", UTMMedium: "cpc"}, {UTMSource: "facebook", UTMMedium: "cpc"},
		{UTMSource: "youtube", UTMMedium: "cpc"}, {UTMMedium: "display"}, {UTMMedium: "cpc"},
		{UTMSource: "amazon"}, {UTMCampaign: "shopping"}, {UTMSource: "facebook"}, {UTMMedium: "social"},
		{UTMSource: "youtube"}, {UTMMedium: "video"}, {UTMSource: "google"}, {UTMMedium: "organic"},
		{UTMMedium: "referral"}, {UTMSource: "email"}, {UTMMedium: "email"}, {UTMMedium: "affiliate"},
		{UTMMedium: "audio"}, {UTMSource: "sms", UTMMedium: "x"}, {UTMMedium: "sms"}, {UTMMedium: "push"},
		{UTMSource: "firebase"}, {UTMSource: "x1"}, {UTMMedium: "x1"},
		{Referrer: "mail.google.com"}, {Referrer: "amazon.com"}, {Referrer: "google.com"},
		{Referrer: "facebook.com"}, {Referrer: "youtube.com"}, {Referrer: "example.com"},
		{EventType: "store_visit"}, {EventType: "impression"}, {EventType: "page_view"},
	} {
		v := r.values(in)
		hit[r.first(&v)] = true
	}
	for i, h := range hit[:len(hit)-1] {
		if !h {
			t.Errorf("rule %d (line %d, %s) decided none of the inputs", i+1, r.rules[i].line, r.rules[i].channel)
		}
	}
}

func TestClassifyConcurrent(t *testing.T) {
	r := loadShipped(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if got := r.Classify(Input{UTMSource: "Google", UTMMedium: "CPC"}); got != "paid_search" {
					t.Errorf("got %q", got)
					return
				}
				if got := r.Classify(Input{Referrer: "https://l.facebook.com/", EventType: "page_view"}); got != "organic_social" {
					t.Errorf("got %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClassifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	r := loadShipped(t)
	for _, in := range []Input{
		{UTMSource: "google", UTMMedium: "cpc", EventType: "click"},
		{Referrer: "https://www.google.co.uk/search?q=x", EventType: "page_view"},
		{Referrer: "https://blog.example.org/post", EventType: "page_view"},
		{EventType: "page_view"},
		{Channel: "Paid Search"},
		{Channel: "foo", UTMSource: "newsletter", UTMMedium: "email"},
	} {
		if n := testing.AllocsPerRun(100, func() { r.Classify(in) }); n != 0 {
			t.Errorf("Classify(%+v) allocates %v times", in, n)
		}
	}
}

var sink string

func BenchmarkClassify(b *testing.B) {
	r := loadShipped(b)
	inputs := []Input{
		{Channel: "email", EventType: "email_open"},
		{UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "brand", EventType: "click"},
		{UTMSource: "facebook", UTMMedium: "paid_social", UTMCampaign: "retargeting_q4", EventType: "page_view"},
		{UTMSource: "newsletter", UTMMedium: "email", UTMCampaign: "weekly", EventType: "page_view"},
		{Referrer: "https://www.google.com/", EventType: "page_view"},
		{Referrer: "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com", EventType: "page_view"},
		{Referrer: "https://blog.example.org/post/1", EventType: "page_view"},
		{EventType: "page_view"},
		{EventType: "store_visit"},
		{UTMSource: "Google", UTMMedium: "CPC", EventType: "click"}, // allocates: upper case
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sink = r.Classify(inputs[i%len(inputs)])
	}
}
