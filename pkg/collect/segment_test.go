package collect

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestEventTimeCorrectsTheSendersClock: Segment's rule, timestamp =
// receivedAt - (sentAt - timestamp): a phone whose clock is two hours
// behind sends an event it queued 5 s before sending.
func TestEventTimeCorrectsTheSendersClock(t *testing.T) {
	rcv := Received{At: mustTime(t, "2026-11-02T12:00:10Z"), Tolerance: 30 * time.Second}
	for _, c := range []struct {
		name string
		m    Message
		sent string
		want string
	}{
		{"skewed clock", Message{Timestamp: "2026-11-02T10:00:00Z", SentAt: "2026-11-02T10:00:05Z"}, "", "2026-11-02T12:00:05Z"},
		{"millis and offsets, whole seconds", Message{Timestamp: "2026-11-02T11:00:00.250+01:00", SentAt: "2026-11-02T10:00:01.600Z"}, "", "2026-11-02T12:00:08.25Z"},
		{"a clock within the tolerance", Message{Timestamp: "2026-11-02T12:00:00Z", SentAt: "2026-11-02T11:59:45Z"}, "", "2026-11-02T12:00:00Z"},
		{"a clock just beyond it", Message{Timestamp: "2026-11-02T12:00:00Z", SentAt: "2026-11-02T11:59:39Z"}, "", "2026-11-02T12:00:31Z"},
		{"batch sentAt", Message{Timestamp: "2026-11-02T10:00:00Z"}, "2026-11-02T10:01:00Z", "2026-11-02T11:59:10Z"},
		{"own sentAt beats the batch's", Message{Timestamp: "2026-11-02T10:00:00Z", SentAt: "2026-11-02T10:00:00Z"}, "2026-11-02T12:00:00Z", "2026-11-02T12:00:10Z"},
		{"originalTimestamp", Message{OriginalTimestamp: "2026-11-02T10:00:00Z", SentAt: "2026-11-02T10:00:02Z"}, "", "2026-11-02T12:00:08Z"},
		{"no sentAt: as sent", Message{Timestamp: "2026-01-02T03:04:05Z"}, "", "2026-01-02T03:04:05Z"},
		{"no timestamp: received", Message{SentAt: "2026-11-02T10:00:05Z"}, "", "2026-11-02T12:00:10Z"},
	} {
		r := rcv
		r.SentAt = c.sent
		got, err := EventTime(&c.m, r)
		if err != nil || !got.Equal(mustTime(t, c.want)) {
			t.Errorf("%s: %v, %v; want %s", c.name, got, err, c.want)
		}
	}
	_, err := EventTime(&Message{Timestamp: "yesterday"}, rcv)
	if err == nil || err.Error() != `timestamp: "yesterday" is not an ISO 8601 time` {
		t.Errorf("bad timestamp: %v", err)
	}
}

func convert(t *testing.T, body string, rcv Received) (*touchpoint.Touchpoint, error) {
	t.Helper()
	rec := messageRecord(body, "")
	if rec.decoded != nil {
		t.Fatal(rec.decoded)
	}
	c := &Converter{Mapping: DefaultMapping(), IP: IPTruncate}
	return rec.touchpoint(c, rcv, &touchpoint.Touchpoint{})
}

// TestConverterMapsSegmentCalls checks each call's event type, ids,
// money, campaign and context against hand-written expectations.
func TestConverterMapsSegmentCalls(t *testing.T) {
	at := mustTime(t, "2026-11-02T12:00:00Z")
	rcv := Received{At: at, Source: "web", IP: "203.0.113.77"}
	tp, err := convert(t, `{"type":"track","event":"Order Completed","messageId":"m-1","anonymousId":"a-1","userId":42,
		"properties":{"order_id":"o-7","revenue":42.5,"total":50,"currency":"eur","coupon":"X","products":[{"sku":"s1"}]},
		"context":{"ip":"2001:db8:abcd:12::1","userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile",
		"traits":{"email":"Jane@Example.com"},
		"page":{"url":"https://shop.example.com/done?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=G","referrer":"https://www.google.com/"}}}`, rcv)
	if err != nil {
		t.Fatal(err)
	}
	rev := touchpoint.Money(42_500_000)
	want := &touchpoint.Touchpoint{EventID: "m-1", EventTime: at, EventType: "purchase",
		UTMSource: "google", UTMMedium: "cpc", UTMCampaign: "brand", Referrer: "https://www.google.com/",
		PageURL:     "https://shop.example.com/done?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=G",
		Identifiers: touchpoint.AttrsOf(map[string]string{"anonymous_id": "a-1", "customer_id": "42", "email": "Jane@Example.com"}),
		Revenue:     &rev, Currency: "EUR", OrderID: "o-7",
		Properties: touchpoint.AttrsOf(map[string]string{"event_name": "Order Completed", "coupon": "X", "products": `[{"sku":"s1"}]`,
			"gclid": "G", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile",
			"ip": "2001:db8:abcd::", "source": "web"}),
		Context: &touchpoint.Context{DeviceType: "mobile", OS: "ios"}}
	if !reflect.DeepEqual(tp, want) {
		t.Errorf("order completed:\n got %+v\nwant %+v", tp, want)
	}

	// A page call: context.campaign wins over the URL's tags; the page's
	// own url; the connection's address, truncated.
	tp, err = convert(t, `{"type":"page","name":"Home","messageId":"m-2","anonymousId":"a-1",
		"properties":{"url":"https://shop.example.com/?utm_source=bing&utm_medium=cpc&fbclid=F"},
		"context":{"campaign":{"name":"spring","source":"newsletter","medium":"email"}}}`, rcv)
	if err != nil {
		t.Fatal(err)
	}
	if tp.EventType != "page_view" || tp.UTMSource != "newsletter" || tp.UTMMedium != "email" || tp.UTMCampaign != "spring" ||
		tp.Properties.Get("fbclid") != "F" || tp.Properties.Get("ip") != "203.0.113.0" || tp.Properties.Get("name") != "Home" {
		t.Errorf("page: %+v", tp)
	}

	// Custom names pass through; identify carries traits' email and phone;
	// alias turns previousId into the anonymous id.
	for body, want := range map[string]string{
		`{"type":"track","event":"Video Played","anonymousId":"a"}`:                                                 "Video Played|anonymous_id=a",
		`{"type":"identify","anonymousId":"a","userId":"u","traits":{"email":"j@x.io","phone":"+44 20 7946 0018"}}`: "identify|anonymous_id=a,customer_id=u,email=j@x.io,phone=+44 20 7946 0018",
		`{"type":"alias","previousId":"a","userId":"u"}`:                                                            "alias|anonymous_id=a,customer_id=u",
		`{"type":"screen","name":"Cart","userId":"u"}`:                                                              "screen_view|customer_id=u",
		`{"type":"group","groupId":"g1","userId":"u"}`:                                                              "group|customer_id=u",
		// A repeated key's last value counts; empty traits are the
		// call's, null ones give way to the context's.
		`{"type":"identify","anonymousId":"a","traits":{"email":"x@y.io","email":"j@x.io"}}`:          "identify|anonymous_id=a,email=j@x.io",
		`{"type":"identify","anonymousId":"a","traits":{"email":"x@y.io"},"traits":{"email":null}}`:   "identify|anonymous_id=a",
		`{"type":"identify","anonymousId":"a","traits":{},"context":{"traits":{"email":"j@x.io"}}}`:   "identify|anonymous_id=a",
		`{"type":"identify","anonymousId":"a","traits":null,"context":{"traits":{"email":"j@x.io"}}}`: "identify|anonymous_id=a,email=j@x.io",
	} {
		tp, err := convert(t, body, rcv)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range []string{"anonymous_id", "customer_id", "email", "phone"} {
			if v, ok := tp.Identifiers.Lookup(k); ok {
				ids = append(ids, k+"="+v)
			}
		}
		if got := tp.EventType + "|" + strings.Join(ids, ","); got != want {
			t.Errorf("%s: %s, want %s", body, got, want)
		}
	}

	// No messageId: the id is derived from the message, the same for a
	// retry of it.
	body := `{"type":"track","event":"X","anonymousId":"a","timestamp":"2026-11-02T11:00:00Z"}`
	a, _ := convert(t, body, rcv)
	b, _ := convert(t, body, Received{At: at.Add(time.Minute)})
	if !strings.HasPrefix(a.EventID, "sha256-") || a.EventID != b.EventID {
		t.Errorf("derived ids %s, %s", a.EventID, b.EventID)
	}
}

func TestConverterRefusesWhatCannotBeATouchpoint(t *testing.T) {
	for body, want := range map[string]string{
		`{"type":"track","anonymousId":"a"}`:  "event: is required for a track call",
		`{"type":"launch","anonymousId":"a"}`: `type: "launch" is not a Segment call (track, page, screen, identify, alias, group)`,
		`{"type":"track","event":"Order Completed","anonymousId":"a","properties":{"revenue":"lots"}}`: `revenue: revenue: "lots" is not a number`,
		`{"type":"track","event":"Order Completed","anonymousId":"a","properties":{"revenue":true}}`:   "revenue: revenue: true is not a number",
	} {
		_, err := convert(t, body, Received{At: time.Now()})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
}

// TestConverterReadsTheLastOfARepeatedKey: a property sent twice, in one
// properties object or in two, is the last value sent, as for a map.
func TestConverterReadsTheLastOfARepeatedKey(t *testing.T) {
	tp, err := convert(t, `{"type":"track","event":"Order Completed","anonymousId":"a","properties":{"coupon":"A","revenue":"x","coupon":"B","size":[1]},
		"properties":{"coupon":"C","revenue":5,"currency":"gbp","currency":{"c":1}},"properties":{"size":{"b":2,"a":1}}}`, Received{At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Properties.Get("coupon") != "C" || tp.Properties.Get("size") != `{"a":1,"b":2}` || tp.Revenue == nil || *tp.Revenue != 5_000_000 || tp.Currency != DefaultMapping().DefaultCurrency {
		t.Errorf("properties %v, revenue %v %s", tp.Properties, tp.Revenue, tp.Currency)
	}
}

// TestConverterPropertiesFewAndMany: calls of a few properties and of more
// than are set one by one (manyProperties), with repeated keys, keys the
// collector reads into fields of their own, and keys it sets itself, give
// the properties a map would: the last value sent of each key, the
// collector's own values over the call's.
func TestConverterPropertiesFewAndMany(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2026))
	for _, n := range []int{3, manyProperties, manyProperties + 1, 500} {
		for round := range 20 {
			var b strings.Builder
			want := map[string]string{}
			b.WriteString(`{"type":"track","event":"E","anonymousId":"a","properties":{`)
			for i := range n {
				k := fmt.Sprint("p", r.IntN(n)) // some repeat
				switch r.IntN(10) {
				case 0:
					k = "event_name" // the collector's own: the event wins
				case 1:
					k = "currency" // read into a field of its own
				}
				v := fmt.Sprint(round, "-", i)
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "%q:%q", k, v)
				want[k] = v
			}
			b.WriteString(`}}`)
			delete(want, "currency")
			want["event_name"] = "E"
			tp, err := convert(t, b.String(), Received{At: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.Properties.Map(); !reflect.DeepEqual(got, want) {
				t.Fatalf("%d properties, round %d: got %v, want %v", n, round, got, want)
			}
			if !slices.IsSortedFunc(tp.Properties, func(x, y touchpoint.Attr) int { return strings.Compare(x.Key, y.Key) }) {
				t.Fatalf("%d properties, round %d: %v is not in the order of its keys", n, round, tp.Properties)
			}
		}
	}
}

func TestMoneyOf(t *testing.T) {
	for in, want := range map[string]touchpoint.Money{
		"0.30000000000000004": 300_000, "12.5": 12_500_000, "-3": -3_000_000, "1e3": 1_000_000_000,
		"0.0000005": 1, "-0.0000005": -1, "0.0000004": 0,
	} {
		got, err := moneyOf(jsonValue{kind: kindNumber, text: in})
		if err != nil || got != want {
			t.Errorf("moneyOf(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := moneyOf(jsonValue{kind: kindString, text: "1e30"}); err == nil {
		t.Error("1e30 fits")
	}
}

// TestDecimalMicrosAsBigRat: the plain decimals read without big numbers
// give what moneyOf's exact arithmetic gives, on random amounts and on
// the edges of the plain form; the rest is left to it.
func TestDecimalMicrosAsBigRat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 16))
	cases := []string{"0", "-0", "007.50", "999999999999.999999", "-999999999999.999999", "1.000001"}
	for range 20000 {
		s := strconv.FormatInt(r.Int64N(1_000_000_000_000), 10)
		if r.IntN(2) == 0 {
			s += "." + fmt.Sprintf("%06d", r.Int64N(1_000_000))[:1+r.IntN(6)]
		}
		if r.IntN(3) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		got, ok := decimalMicros(s)
		rat, _ := new(big.Rat).SetString(s)
		want := new(big.Rat).Mul(rat, big.NewRat(touchpoint.MicrosPerUnit, 1))
		if !ok || !want.IsInt() || want.Num().Int64() != int64(got) {
			t.Fatalf("%s: %d, %v; want %s", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", ".5", "1.", "1.0000001", "1e3", "+1", "1_0", "1234567890123", "0x10", "1.2.3", " 1"} {
		if got, ok := decimalMicros(s); ok {
			t.Errorf("%q read as %d", s, got)
		}
	}
}

func TestHandleIP(t *testing.T) {
	for _, c := range []struct {
		h        IPHandling
		in, want string
	}{
		{IPTruncate, "203.0.113.77", "203.0.113.0"},
		{IPTruncate, "::ffff:203.0.113.77", "203.0.113.0"},
		{IPTruncate, "2001:db8:abcd:12::1", "2001:db8:abcd::"},
		{IPKeep, "203.0.113.77", "203.0.113.77"},
		{IPDrop, "203.0.113.77", ""},
		{IPKeep, "not an ip", ""},
	} {
		if got := HandleIP(c.h, c.in); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.h, c.in, got, c.want)
		}
	}
}

// TestShippedMappingIsTheDefault: pipelines/collect.yaml and
// DefaultMapping say the same, so a collector without the file behaves as
// one with it.
func TestShippedMappingIsTheDefault(t *testing.T) {
	m, err := LoadMapping(filepath.Join("..", "..", "pipelines", MappingFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, DefaultMapping()) {
		t.Errorf("pipelines/collect.yaml %+v\nDefaultMapping %+v", m, DefaultMapping())
	}
	if m, err = LoadMapping(filepath.Join(t.TempDir(), "absent.yaml")); err != nil || !reflect.DeepEqual(m, DefaultMapping()) {
		t.Errorf("absent file: %+v, %v", m, err)
	}
}

func TestParseMappingErrorsHaveLines(t *testing.T) {
	data := "track:\n  Order Completed: Purchase\npage: page_view\nscreen: ''\nrevenue: []\ndefault_currency: usd\ncolour: red\n"
	_, err := ParseMapping("collect.yaml", []byte(data))
	want := []string{
		"collect.yaml:2: track: \"Order Completed\" maps to \"Purchase\", not an event type (lower case letters, digits and _)",
		"collect.yaml:4: screen: \"\" is not an event type (lower case letters, digits and _)",
		"collect.yaml:5: revenue: names no property",
		"collect.yaml:6: default_currency: \"usd\" is not an ISO 4217 code (three upper-case letters)",
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors\n%v\nlack %s", err, w)
		}
	}
	if !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key not reported: %v", err)
	}
	m, err := ParseMapping("collect.yaml", []byte("track:\n  Lead Created: signup\n"))
	if err != nil || m.TrackType("Lead Created") != "signup" || m.TrackType("Order Completed") != "Order Completed" || m.Page != "page_view" {
		t.Errorf("track replaces the list, the rest keeps the defaults: %+v, %v", m, err)
	}
}

// TestEventTimeOfARetryIsTheFirstAttempts: an SDK retries a message with
// its timestamp and a new sentAt; received 40 s later with a different
// network delay, it must keep its event time, or ClickHouse (which
// deduplicates on event type, time and id) would count it twice.
func TestEventTimeOfARetryIsTheFirstAttempts(t *testing.T) {
	first := mustTime(t, "2026-11-02T12:00:00.000Z")
	for _, clock := range []time.Duration{0, -2 * time.Hour, 3*time.Minute + 400*time.Millisecond} {
		m := Message{Timestamp: first.Add(clock - 5*time.Second).Format(time.RFC3339Nano)}
		var times []time.Time
		for _, attempt := range []struct{ received, delay time.Duration }{{0, 80 * time.Millisecond}, {40 * time.Second, 350 * time.Millisecond}} {
			m.SentAt = first.Add(attempt.received + clock - attempt.delay).Format(time.RFC3339Nano)
			at, err := EventTime(&m, Received{At: first.Add(attempt.received), Tolerance: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, at)
		}
		// Corrected in whole seconds: within half a second of the truth.
		if want := first.Add(-5 * time.Second); !times[0].Equal(times[1]) || times[0].Sub(want).Abs() > 500*time.Millisecond {
			t.Errorf("clock off by %s: attempts at %v; want both %v", clock, times, want)
		}
	}
}

// TestIDsReadAsStringsAndNumbers: an id is taken as a JSON string
// (unescaped, invalid UTF-8 replaced, as encoding/json does) or a number
// as sent; anything else is an error.
func TestIDsReadAsStringsAndNumbers(t *testing.T) {
	for in, want := range map[string]string{
		`"a-1"`: "a-1", `"café"`: "café", `"caf\u00e9"`: "café", `"a\"b"`: `a"b`, `"a\\b"`: `a\b`,
		"\"\xffa\"": "\ufffda", `""`: "", `null`: "", `12345678901234567890`: "12345678901234567890", `1.5e3`: "1.5e3",
	} {
		m, err := decodeMessage(`{"userId":"x","userId":` + in + `}`)
		if err != nil || string(m.UserID) != want {
			t.Errorf("%s: %+v (%v), want %q", in, m, err, want)
		}
	}
	for _, in := range []string{`{"id":1}`, `[1]`, `true`} {
		m, err := decodeMessage(`{"userId":` + in + `}`)
		if want := "userId: an id must be a string or a number, not " + in; err == nil || err.Error() != want {
			t.Errorf("%s: %+v, %v; want the error %q", in, m, err, want)
		}
	}
}

// TestDeviceOfUserAgents: device and operating system from user agents in
// any case, ASCII or not, hand-computed.
func TestDeviceOfUserAgents(t *testing.T) {
	for _, c := range []struct{ ua, os, device, wantOS string }{
		{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "", "tablet", "ios"},
		{"MOZILLA/5.0 (LINUX; ANDROID 14; PIXEL 8) MOBILE SAFARI", "", "mobile", "android"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "", "desktop", "windows"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", "", "desktop", "chromeos"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel ☃ Ünïcode) Mobile", "", "mobile", "android"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Tablet", "macos", "tablet", "macos"},
		{"curl/8.5.0", "", "desktop", ""},
	} {
		if device, os := deviceOf(c.ua, c.os); device != c.device || os != c.wantOS {
			t.Errorf("%s: %s, %s; want %s, %s", c.ua, device, os, c.device, c.wantOS)
		}
	}
}

// TestARequestsMessagesShareTheirClientsReading: within a request, the
// device read from a user agent and the handling of an address are worked
// out once while the messages repeat them, each message still getting its
// own (a change of user agent, of context.os or of address is read anew,
// exactly as without remembering), and a message whose client matches
// the last one's takes one allocation fewer (the truncated address).
func TestARequestsMessagesShareTheirClientsReading(t *testing.T) {
	c := &Converter{Mapping: DefaultMapping(), IP: IPTruncate}
	rcv := Received{At: mustTime(t, "2026-11-02T12:00:00Z"), IP: "198.51.100.9"}
	msg := func(ua, os, ip string) string {
		return `{"type":"page","anonymousId":"a","context":{"userAgent":"` + ua + `","os":{"name":"` + os + `"},"ip":"` + ip + `"}}`
	}
	iphone, mac := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
	bodies := []string{
		msg(iphone, "", "203.0.113.7"), msg(iphone, "", "203.0.113.7"), msg(iphone, "iPadOS", "203.0.113.7"),
		msg(mac, "", "2001:db8:1:2::1"), msg(mac, "", ""), msg(iphone, "", "not an address"), msg(iphone, "", "203.0.113.8"),
	}
	remembering := rcv
	remembering.seen = &seen{}
	for _, body := range bodies {
		rec := messageRecord(body, "")
		want, err := c.Touchpoint(rec.msg, body, rcv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Touchpoint(rec.msg, body, remembering)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: remembering gave %+v (%v), want %+v", body, got, err, want)
		}
	}
	rec := messageRecord(bodies[0], "")
	for _, r := range []Received{rcv, remembering} {
		if _, err := c.Touchpoint(rec.msg, bodies[0], r); err != nil {
			t.Fatal(err)
		}
	}
	alone := testing.AllocsPerRun(50, func() { _, _ = c.Touchpoint(rec.msg, bodies[0], rcv) })
	shared := testing.AllocsPerRun(50, func() { _, _ = c.Touchpoint(rec.msg, bodies[0], remembering) })
	if shared != alone-1 {
		t.Errorf("a message like the last took %v allocations, %v alone; want one fewer", shared, alone)
	}
}

// TestARequestsMessagesShareTheirSentAtReading: within a request, a sentAt
// repeated by the messages (most often the batch's) is parsed once, and
// every message still gets its own corrected time or error (worked out by
// hand, and the same as without remembering): a change of sentAt, an
// invalid one between valid ones, and a message's own sentAt beside the
// batch's are each read anew.
func TestARequestsMessagesShareTheirSentAtReading(t *testing.T) {
	// The batch was sent at 10:00:05 by the sender's clock and received
	// at 12:00:10: its messages are moved by 2h0m5s.
	rcv := Received{At: mustTime(t, "2026-11-02T12:00:10Z"), SentAt: "2026-11-02T10:00:05Z", Tolerance: 30 * time.Second}
	remembering := rcv
	remembering.seen = &seen{}
	const badSentAt = `sentAt: "soon" is not an ISO 8601 time`
	for i, c := range []struct {
		m       Message
		want    string // the corrected time, when there is no error
		wantErr string
	}{
		{m: Message{Timestamp: "2026-11-02T10:00:00Z"}, want: "2026-11-02T12:00:05Z"},
		{m: Message{Timestamp: "2026-11-02T10:00:01Z"}, want: "2026-11-02T12:00:06Z"},
		{m: Message{Timestamp: "2026-11-02T10:00:01Z", SentAt: "2026-11-02T12:00:09Z"}, want: "2026-11-02T10:00:01Z"},
		{m: Message{Timestamp: "2026-11-02T10:00:02Z", SentAt: "soon"}, wantErr: badSentAt},
		{m: Message{Timestamp: "2026-11-02T10:00:03Z", SentAt: "soon"}, wantErr: badSentAt},
		{m: Message{Timestamp: "2026-11-02T10:00:04Z"}, want: "2026-11-02T12:00:09Z"},
		{m: Message{Timestamp: "2026-11-02T10:00:04Z", SentAt: "2026-11-02T10:00:04Z"}, want: "2026-11-02T12:00:10Z"},
	} {
		for _, r := range []Received{rcv, remembering} {
			got, err := EventTime(&c.m, r)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Errorf("message %d (remembering %t): %v, %v; want the error %s", i, r.seen != nil, got, err, c.wantErr)
				}
			} else if err != nil || !got.Equal(mustTime(t, c.want)) {
				t.Errorf("message %d (remembering %t): %v, %v; want %s", i, r.seen != nil, got, err, c.want)
			}
		}
	}
}
