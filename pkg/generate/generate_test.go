package generate

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// pastStart is a fixed start well in the past, so output does not depend on
// the clock.
var pastStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func newGen(tb testing.TB, cfg Config) *Generator {
	tb.Helper()
	g, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

// event is a touchpoint with the index of the person it belongs to.
type event struct {
	person int
	tp     *touchpoint.Touchpoint
}

// collect returns every touchpoint of g with its person.
func collect(tb testing.TB, g *Generator) []event {
	tb.Helper()
	var out []event
	if err := g.personTouchpoints(func(person int, tp *touchpoint.Touchpoint) error {
		out = append(out, event{person, tp})
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return out
}

func collectSpend(tb testing.TB, g *Generator) []*touchpoint.Spend {
	tb.Helper()
	var out []*touchpoint.Spend
	if err := g.Spend(func(s *touchpoint.Spend) error { out = append(out, s); return nil }); err != nil {
		tb.Fatal(err)
	}
	return out
}

// digest returns a hash of the JSON form of everything g emits.
func digest(tb testing.TB, g *Generator, spendOnly bool) string {
	tb.Helper()
	h := sha256.New()
	enc := json.NewEncoder(h)
	if !spendOnly {
		if err := g.Touchpoints(func(tp *touchpoint.Touchpoint) error { return enc.Encode(tp) }); err != nil {
			tb.Fatal(err)
		}
	}
	if err := g.Spend(func(s *touchpoint.Spend) error { return enc.Encode(s) }); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{Events: 1, Persons: 1}, true},
		{"all set", Config{Events: 10, Persons: 1000, Days: 7, Seed: -3, Start: pastStart}, true},
		{"start not at midnight", Config{Events: 10, Persons: 10, Start: pastStart.Add(13 * time.Hour)}, true},
		{"no events", Config{Persons: 1}, false},
		{"negative events", Config{Events: -1, Persons: 1}, false},
		{"no persons", Config{Events: 1}, false},
		{"negative days", Config{Events: 1, Persons: 1, Days: -1}, false},
		{"too many days", Config{Events: 1, Persons: 1, Days: MaxDays + 1}, false},
		{"start before 2000", Config{Events: 1, Persons: 1, Start: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)}, false},
		{"start in the future", Config{Events: 1, Persons: 1, Start: time.Now().Add(48 * time.Hour)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			if _, err := New(tc.cfg); tc.ok != (err == nil) {
				t.Fatalf("New() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	g := newGen(t, Config{Events: 100, Persons: 10})
	cfg := g.Config()
	today := touchpoint.DayOf(time.Now()).Time
	if cfg.Days != DefaultDays {
		t.Errorf("days = %d, want %d", cfg.Days, DefaultDays)
	}
	if want := today.AddDate(0, 0, -DefaultDays); !cfg.Start.Equal(want) {
		t.Errorf("start = %s, want %s", cfg.Start, want)
	}
	if start, end := g.Period(); !start.Equal(cfg.Start) || !end.Equal(today) {
		t.Errorf("period = [%s, %s), want [%s, %s)", start, end, cfg.Start, today)
	}
	g = newGen(t, Config{Events: 100, Persons: 10, Start: pastStart.Add(13 * time.Hour)})
	if !g.Config().Start.Equal(pastStart) {
		t.Errorf("start %s not truncated to %s", g.Config().Start, pastStart)
	}
}

func TestNewTooDense(t *testing.T) {
	// One person cannot have 100 million events with distinct milliseconds in
	// one day.
	_, err := New(Config{Events: 100_000_000, Persons: 1, Days: 1, Start: pastStart})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("New = %v, want ErrConfig", err)
	}
}

func TestExactCounts(t *testing.T) {
	for _, tc := range []struct {
		events, persons, days int
		short                 bool
	}{
		{1, 1, 1, true},
		{10, 1000, 30, true},
		{999, 1000, 30, true},
		{1000, 1, 30, true},
		{12_345, 777, 7, true},
		{100_000, 1000, 30, true},
		{50_000, 1, 1, true},
		{1_000_000, 1000, 30, false},
	} {
		t.Run(fmt.Sprintf("%d_events_%d_persons_%d_days", tc.events, tc.persons, tc.days), func(t *testing.T) {
			if testing.Short() && !tc.short {
				t.Skip("long")
			}
			g := newGen(t, Config{Events: tc.events, Persons: tc.persons, Days: tc.days, Seed: 7, Start: pastStart})
			start, end := g.Period()
			n := 0
			persons := map[int]bool{}
			prev := -1
			var last time.Time
			if err := g.personTouchpoints(func(person int, tp *touchpoint.Touchpoint) error {
				if person != prev {
					prev, last = person, time.Time{}
				}
				n++
				persons[person] = true
				if tp.EventTime.Before(start) || !tp.EventTime.Before(end) || !tp.EventTime.After(last) {
					return fmt.Errorf("person %d: event at %s after %s, period [%s, %s)", person, tp.EventTime, last, start, end)
				}
				last = tp.EventTime
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != tc.events {
				t.Fatalf("emitted %d touchpoints, want %d", n, tc.events)
			}
			if len(persons) > tc.persons {
				t.Fatalf("%d persons, want at most %d", len(persons), tc.persons)
			}
			if tc.events >= 10*tc.persons && len(persons) < tc.persons*9/10 {
				t.Errorf("only %d of %d persons have events", len(persons), tc.persons)
			}
			spend := collectSpend(t, g)
			if min := tc.days * len(spendKeys); len(spend) <= min {
				t.Errorf("%d spend records, want more than %d (one per day and key plus restatements)", len(spend), min)
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Events: 30_000, Persons: 1500, Days: 14, Seed: 42, Start: pastStart}
	a := digest(t, newGen(t, cfg), false)
	if b := digest(t, newGen(t, cfg), false); a != b {
		t.Fatal("two generators with the same config differ")
	}
	g := newGen(t, cfg)
	if b, c := digest(t, g, false), digest(t, g, false); a != b || b != c {
		t.Fatal("a second run of the same generator differs")
	}
	// Spend alone (generating the ad counts itself) equals Spend after
	// Touchpoints.
	withTP := digest(t, newGen(t, cfg), true)
	g = newGen(t, cfg)
	_ = g.Touchpoints(func(*touchpoint.Touchpoint) error { return nil })
	if digest(t, g, true) != withTP {
		t.Fatal("Spend differs with and without a previous Touchpoints")
	}
	for _, other := range []Config{
		{Events: cfg.Events, Persons: cfg.Persons, Days: cfg.Days, Seed: 43, Start: cfg.Start},
		{Events: cfg.Events, Persons: cfg.Persons, Days: cfg.Days, Seed: cfg.Seed, Start: cfg.Start.AddDate(0, 0, 1)},
		{Events: cfg.Events, Persons: cfg.Persons + 1, Days: cfg.Days, Seed: cfg.Seed, Start: cfg.Start},
	} {
		if digest(t, newGen(t, other), false) == a {
			t.Errorf("%+v gives the same output as %+v", other, cfg)
		}
	}
}

func TestEmitError(t *testing.T) {
	cfg := Config{Events: 5000, Persons: 100, Seed: 1, Start: pastStart}
	g := newGen(t, cfg)
	stop := errors.New("stop")
	n := 0
	err := g.Touchpoints(func(*touchpoint.Touchpoint) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Fatalf("Touchpoints = %v after %d calls, want the emit error after 5", err, n)
	}
	n = 0
	if err := g.Spend(func(*touchpoint.Spend) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Spend = %v after %d calls, want the emit error after 1", err, n)
	}
	// An interrupted run leaves no partial ad counts behind.
	if digest(t, g, true) != digest(t, newGen(t, cfg), true) {
		t.Fatal("spend after an interrupted Touchpoints differs")
	}
}

// TestRecords checks every touchpoint of a 200k-event run: valid, unique ids,
// times inside the period and increasing per person, explicit channels only
// where the producer knows them, purchases with revenue.
func TestRecords(t *testing.T) {
	g := newGen(t, Config{Events: 200_000, Persons: 8000, Days: 30, Seed: 3, Start: pastStart})
	start, end := g.Period()
	now := time.Now()
	events := collect(t, g)
	ids := make(map[string]bool, len(events))
	orders := map[string]bool{}
	explicit := map[string]string{
		"email_send": channelEmail, "email_open": channelEmail, "email_click": channelEmail,
		"sms_click": channelSMS, "push_open": channelPush, "store_visit": channelOffline, "support_contact": channelOffline,
	}
	types := map[string]int{}
	currencies := map[string]int{}
	var withContext, refunds int
	lastPerson, last := -1, time.Time{}
	for _, e := range events {
		tp := e.tp
		if err := tp.Validate(touchpoint.DefaultLimits(), now); err != nil {
			t.Fatalf("invalid %+v: %v", tp, err)
		}
		if len(tp.EventID) != 32 || ids[tp.EventID] {
			t.Fatalf("event_id %q malformed or repeated", tp.EventID)
		}
		ids[tp.EventID] = true
		if tp.EventTime.Before(start) || !tp.EventTime.Before(end) || tp.EventTime.After(now) {
			t.Fatalf("event_time %s outside [%s, %s)", tp.EventTime, start, end)
		}
		if e.person == lastPerson && !tp.EventTime.After(last) {
			t.Fatalf("person %d: event_time %s not after %s", e.person, tp.EventTime, last)
		}
		lastPerson, last = e.person, tp.EventTime
		types[tp.EventType]++
		if tp.Context != nil {
			withContext++
		}
		if want, ok := explicit[tp.EventType]; ok && tp.Channel != want {
			t.Fatalf("%s has channel %q, want %q", tp.EventType, tp.Channel, want)
		}
		switch tp.EventType {
		case "impression", "click", "page_view", "add_to_cart", "checkout_start", "signup", "login", "app_open", "refund":
			if tp.Channel != "" {
				t.Fatalf("%s has an explicit channel %q", tp.EventType, tp.Channel)
			}
		case "purchase":
			if tp.Channel != "" && tp.Channel != channelOffline {
				t.Fatalf("purchase has channel %q", tp.Channel)
			}
		}
		if tp.EventType == "click" && (tp.UTMSource == "" || tp.UTMMedium == "" || tp.UTMCampaign == "" || !strings.Contains(tp.PageURL, "utm_source=")) {
			t.Fatalf("ad click without UTM parameters: %+v", tp)
		}
		if tp.EventType == "purchase" || tp.EventType == "refund" {
			if tp.Revenue == nil || *tp.Revenue < 5*touchpoint.MicrosPerUnit || *tp.Revenue > 500*touchpoint.MicrosPerUnit ||
				*tp.Revenue%10_000 != 0 || tp.Currency == "" || tp.OrderID == "" {
				t.Fatalf("%s without proper revenue, currency, order: %+v", tp.EventType, tp)
			}
		}
		if tp.EventType == "purchase" {
			if orders[tp.OrderID] {
				t.Fatalf("order_id %s repeated", tp.OrderID)
			}
			orders[tp.OrderID] = true
			currencies[tp.Currency]++
		}
		if tp.EventType == "refund" {
			refunds++
			if !orders[tp.OrderID] {
				t.Fatalf("refund of unknown order %s", tp.OrderID)
			}
		}
	}
	for _, typ := range []string{
		"impression", "click", "email_send", "email_open", "email_click", "sms_click", "push_open", "page_view",
		"app_open", "signup", "login", "add_to_cart", "checkout_start", "purchase", "refund", "store_visit", "support_contact",
	} {
		if types[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
	if withContext < len(events)*8/10 {
		t.Errorf("only %d of %d events have a context", withContext, len(events))
	}
	if currencies["USD"] < currencies["EUR"]*3 || currencies["EUR"] == 0 {
		t.Errorf("currencies %v, want mostly USD and some EUR", currencies)
	}
	if refunds == 0 || refunds > types["purchase"]/5 {
		t.Errorf("%d refunds for %d purchases", refunds, types["purchase"])
	}
}

// TestAcquisition checks the traffic sources: the UTM pairs of every paid and
// owned channel, organic referrers without UTM parameters, direct visits.
func TestAcquisition(t *testing.T) {
	events := collect(t, newGen(t, Config{Events: 100_000, Persons: 4000, Seed: 5, Start: pastStart}))
	sources := map[string]int{}
	var organic, direct int
	for _, e := range events {
		tp := e.tp
		if tp.UTMSource != "" {
			sources[tp.UTMSource+"/"+tp.UTMMedium]++
			continue
		}
		if tp.EventType == "page_view" {
			if tp.Referrer != "" {
				organic++
				if tp.UTMMedium != "" || tp.UTMCampaign != "" {
					t.Fatalf("organic visit with UTM parameters: %+v", tp)
				}
			} else {
				direct++
			}
		}
	}
	for _, want := range []string{
		"google/cpc", "bing/cpc", "facebook/paid_social", "instagram/paid_social", "tiktok/paid_social",
		"newsletter/email", "sms/sms", "push/push", "gdn/cpm", "criteo/cpm", "awin/affiliate", "rakuten/affiliate", "youtube/cpv",
	} {
		if sources[want] == 0 {
			t.Errorf("no touchpoints from %s (have %v)", want, sources)
		}
	}
	if organic == 0 || direct == 0 {
		t.Errorf("%d organic and %d direct page views, want both", organic, direct)
	}
}

// TestJourneys checks what the journeys must show: cart abandonment, repeat
// purchases, devices joined by a later login, identifiers in varied forms
// that normalise to one value per person.
func TestJourneys(t *testing.T) {
	events := collect(t, newGen(t, Config{Events: 200_000, Persons: 5000, Seed: 11, Start: pastStart}))
	norm, err := identifiers.New(identifiers.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		purchases          int
		cartAfterPurchase  bool // an add_to_cart not followed by a purchase
		anonBefore         map[string]bool
		joined             map[string]bool
		email, phone, cust string
	}
	persons := map[int]*state{}
	emailOwner := map[string]int{}
	var mixedCase, spaced int
	phoneForms := map[string]bool{}
	for _, e := range events {
		s := persons[e.person]
		if s == nil {
			s = &state{anonBefore: map[string]bool{}, joined: map[string]bool{}}
			persons[e.person] = s
		}
		ids := e.tp.Identifiers
		switch e.tp.EventType {
		case "add_to_cart":
			s.cartAfterPurchase = true
		case "purchase":
			s.purchases++
			s.cartAfterPurchase = false
		}
		anon, cust := ids.Get("anonymous_id"), ids.Get("customer_id")
		if anon != "" && cust == "" {
			s.anonBefore[anon] = true
		}
		if anon != "" && cust != "" && s.anonBefore[anon] && (e.tp.EventType == "login" || e.tp.EventType == "signup") {
			s.joined[anon] = true
		}
		if cust != "" {
			if s.cust != "" && s.cust != cust {
				t.Fatalf("person %d has customer ids %s and %s", e.person, s.cust, cust)
			}
			s.cust = cust
		}
		if v, ok := ids.Lookup("email"); ok {
			if strings.TrimSpace(v) != v {
				spaced++
			} else if strings.ToLower(v) != v {
				mixedCase++
			}
			n, err := norm.Value(identifiers.Email, v)
			if err != nil {
				t.Fatalf("email %q: %v", v, err)
			}
			if s.email != "" && s.email != n {
				t.Fatalf("person %d has two emails", e.person)
			}
			s.email = n
			if o, ok := emailOwner[n]; ok && o != e.person {
				t.Fatalf("persons %d and %d share an email", o, e.person)
			}
			emailOwner[n] = e.person
		}
		if v, ok := ids.Lookup("phone"); ok {
			phoneForms[strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return '9'
				}
				return r
			}, v)] = true
			n, err := norm.Value(identifiers.Phone, v)
			if err != nil {
				t.Fatalf("phone %q: %v", v, err)
			}
			if s.phone != "" && s.phone != n {
				t.Fatalf("person %d: phone %q normalises differently from the earlier ones", e.person, v)
			}
			s.phone = n
		}
	}
	var abandoners, repeat, crossDevice int
	for _, s := range persons {
		if s.cartAfterPurchase {
			abandoners++
		}
		if s.purchases >= 2 {
			repeat++
		}
		if len(s.joined) >= 2 {
			crossDevice++
		}
	}
	t.Logf("%d persons: %d abandoned a cart, %d repeat purchasers, %d joined 2+ devices by login; emails %d mixed case, %d spaced; %d phone formats",
		len(persons), abandoners, repeat, crossDevice, mixedCase, spaced, len(phoneForms))
	if abandoners == 0 || repeat == 0 || crossDevice == 0 {
		t.Error("want cart abandoners, repeat purchasers and persons with 2+ devices joined by a login")
	}
	if mixedCase == 0 || spaced == 0 || len(phoneForms) < 5 {
		t.Error("want emails in mixed case and with spaces, and phones in several formats")
	}
}

// TestPeriodReachingNow checks that a period ending in the future is cut one
// minute before now, for touchpoints and spend alike.
func TestPeriodReachingNow(t *testing.T) {
	start := touchpoint.DayOf(time.Now()).AddDate(0, 0, -2)
	g := newGen(t, Config{Events: 20_000, Persons: 300, Days: 10, Seed: 1, Start: start})
	now := time.Now()
	_, end := g.Period()
	if end.After(now.Add(-time.Minute)) {
		t.Fatalf("period ends %s, after now - 1m", end)
	}
	for _, e := range collect(t, g) {
		if !e.tp.EventTime.Before(end) {
			t.Fatalf("event at %s, period ends %s", e.tp.EventTime, end)
		}
	}
	days := map[string]bool{}
	for _, s := range collectSpend(t, g) {
		if err := s.Validate(touchpoint.DefaultLimits(), now); err != nil {
			t.Fatal(err)
		}
		if s.Date.After(now) {
			t.Fatalf("spend dated %s, in the future", s.Date)
		}
		days[s.Date.String()] = true
	}
	if len(days) != 3 {
		t.Errorf("spend for %d days, want 3 (two past days and today)", len(days))
	}
}

func TestSpend(t *testing.T) {
	const days = 30
	g := newGen(t, Config{Events: 100_000, Persons: 3000, Days: days, Seed: 9, Start: pastStart})
	// Generated clicks per spend key, to compare with the reported ones.
	generated := make([]int64, len(spendKeys))
	keyOf := map[string]int{}
	for _, set := range [][]placement{searchPlacements, socialProspecting, socialRetargeting, affiliates,
		{displayProspecting, displayRetargeting, videoPlacement}} {
		for _, p := range set {
			keyOf[p.source+"|"+p.campaign] = p.key
		}
	}
	for _, e := range collect(t, g) {
		if e.tp.EventType == "click" {
			generated[keyOf[e.tp.UTMSource+"|"+e.tp.UTMCampaign]]++
		}
	}
	now := time.Now()
	seen := map[string]*touchpoint.Spend{}
	reported := make([]int64, len(spendKeys))
	restated := 0
	var prevDate touchpoint.Day
	for _, s := range collectSpend(t, g) {
		if err := s.Validate(touchpoint.DefaultLimits(), now); err != nil {
			t.Fatalf("invalid %+v: %v", s, err)
		}
		if s.Cost%10_000 != 0 || s.Currency != "USD" || s.Clicks == nil {
			t.Fatalf("bad record %+v", s)
		}
		if s.Impressions != nil && *s.Impressions < *s.Clicks {
			t.Fatalf("more clicks than impressions: %+v", s)
		}
		orig, ok := seen[s.Key()]
		if ok {
			restated++
			if s.Cost == orig.Cost {
				t.Errorf("restatement of %s does not correct the cost", s.Key())
			}
			continue
		}
		if s.Date.Before(prevDate.Time) {
			t.Fatalf("original record for %s after one for %s", s.Date, prevDate)
		}
		prevDate = s.Date
		seen[s.Key()] = s
		for k, key := range spendKeys {
			if key.channel == s.Channel && key.campaign == s.Campaign && key.source == s.Source {
				reported[k] += *s.Clicks
			}
		}
	}
	if want := days * len(spendKeys); len(seen) != want {
		t.Errorf("%d spend keys, want %d", len(seen), want)
	}
	if restated == 0 || restated > len(seen)/10 {
		t.Errorf("%d restatements of %d records, want a few", restated, len(seen))
	}
	for k, key := range spendKeys {
		if generated[k] == 0 || reported[k] < generated[k] || reported[k] > generated[k]*106/100+int64(days) {
			t.Errorf("%s/%s/%s: %d clicks reported for %d generated", key.channel, key.campaign, key.source, reported[k], generated[k])
		}
	}
}

// TestMemoryBounded runs long journeys and checks, while the last event is
// emitted, that the heap holds nothing like the events emitted so far.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const events = 1_000_000
	g := newGen(t, Config{Events: events, Persons: 20, Seed: 1, Start: pastStart})
	n := 0
	var heap uint64
	if err := g.Touchpoints(func(*touchpoint.Touchpoint) error {
		n++
		if n == events {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = ms.HeapAlloc
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if heap > 64<<20 {
		t.Fatalf("heap %d MiB at the last of %d events", heap>>20, events)
	}
}

func BenchmarkTouchpoints(b *testing.B) {
	g := newGen(b, Config{Events: max(b.N, 1), Persons: max(b.N/25, 1), Seed: 1, Start: pastStart})
	b.ReportAllocs()
	b.ResetTimer()
	if err := g.Touchpoints(func(*touchpoint.Touchpoint) error { return nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
