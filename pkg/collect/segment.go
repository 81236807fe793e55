package collect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Message is one call of the Segment tracking API (track, page, screen,
// identify, alias or group), the fields touchline reads. Other fields
// (integrations, ...) are accepted and ignored, as Segment does.
type Message struct {
	Type              string          `json:"type"`
	MessageID         string          `json:"messageId"`
	AnonymousID       flexString      `json:"anonymousId"`
	UserID            flexString      `json:"userId"`
	PreviousID        flexString      `json:"previousId"`
	GroupID           flexString      `json:"groupId"`
	Event             string          `json:"event"`
	Name              string          `json:"name"`
	Properties        dict            `json:"properties"`
	Traits            dict            `json:"traits"`
	Context           *messageContext `json:"context"`
	Timestamp         string          `json:"timestamp"`
	OriginalTimestamp string          `json:"originalTimestamp"`
	SentAt            string          `json:"sentAt"`
	WriteKey          string          `json:"writeKey"`
}

// messageContext is the context object of a Segment call.
type messageContext struct {
	Campaign  *campaign `json:"campaign"`
	Page      *page     `json:"page"`
	UserAgent string    `json:"userAgent"`
	IP        string    `json:"ip"`
	Traits    dict      `json:"traits"`
	Device    *device   `json:"device"`
	OS        *osInfo   `json:"os"`
	Location  *location `json:"location"`
}

// dict is an object of a message whose values the collector reads (its
// properties, its traits), as the scanner read it: its members in the
// order sent, a repeated key's later member winning (lookup), made
// without a map or a boxed value for each member. Null is nil, {} is
// empty and not nil.
type dict []member

// member is a key of a dict and its value.
type member struct {
	key string
	val jsonValue
}

// jsonValue is a JSON value: a string, a number (as written) or true or
// false as its text, or an object or an array as encoding/json decodes it
// into an interface (numbers as json.Number).
type jsonValue struct {
	kind   valueKind
	text   string
	nested any
}

// valueKind is the kind of a jsonValue.
type valueKind uint8

// The kinds of a jsonValue.
const (
	kindNull valueKind = iota
	kindString
	kindNumber
	kindBool
	kindNested
)

// lookup returns the value of key (its last member), and whether there is
// one that is not null.
func (d dict) lookup(key string) (jsonValue, bool) {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i].key == key {
			return d[i].val, d[i].val.kind != kindNull
		}
	}
	return jsonValue{}, false
}

// str returns the value of key when it is a string.
func (d dict) str(key string) (string, bool) {
	v, _ := d.lookup(key)
	return v.text, v.kind == kindString
}

// boxed is v as encoding/json decodes it into an interface: a string,
// a json.Number, a bool, nil, or the object or array.
func (v jsonValue) boxed() any {
	switch v.kind {
	case kindString:
		return v.text
	case kindNumber:
		return json.Number(v.text)
	case kindBool:
		return v.text == "true"
	case kindNested:
		return v.nested
	}
	return nil
}

// String is v as a property value: strings as they are, numbers as sent,
// booleans as true/false, null empty, objects and arrays as JSON.
func (v jsonValue) String() string {
	if v.kind != kindNested {
		return v.text
	}
	b, err := json.Marshal(v.nested) // object keys come out sorted
	if err != nil {
		return fmt.Sprint(v.nested)
	}
	return string(b)
}

// campaign is a context's campaign (the UTM parameters).
type campaign struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	Medium  string `json:"medium"`
	Term    string `json:"term"`
	Content string `json:"content"`
}

// page is a context's page.
type page struct {
	URL      string `json:"url"`
	Referrer string `json:"referrer"`
}

// device is a context's device.
type device struct {
	Type string `json:"type"`
}

// osInfo is a context's operating system.
type osInfo struct {
	Name string `json:"name"`
}

// location is a context's location.
type location struct {
	Country string `json:"country"`
}

// flexString is an id that SDKs send as a string or as a number (null is
// empty).
type flexString string

// Received is what the collector knows of a request besides its body.
type Received struct {
	// At is when the request arrived (Segment's receivedAt).
	At time.Time
	// SentAt is the batch's sentAt, for messages without their own.
	SentAt string
	// Source is the write key's source name.
	Source string
	// IP is the client's address as the collector saw it, used when the
	// message has no context.ip.
	IP string
	// Tolerance is the clock skew left uncorrected (Config.ClockSkew).
	Tolerance time.Duration

	// seen, when not nil, remembers what was worked out for the
	// request's last message.
	seen *seen
}

// seen is what the conversion of a request's messages remembers of the
// last one: a batch mostly comes from one client, so its messages share a
// user agent and an address, and most often the batch's sentAt, whose
// reading it need not repeat. It is used by one goroutine at a time.
type seen struct {
	ok                  bool
	ua, os, dev, osName string
	ipOK                bool
	ipIn, ipOut         string
	ipHandling          IPHandling
	sentOK              bool
	sentIn              string
	sentAt              time.Time
	sentErr             error
}

// device is deviceOf(ua, os), remembered for the next message.
func (s *seen) device(ua, os string) (device, osName string) {
	if s == nil {
		return deviceOf(ua, os)
	}
	if !s.ok || s.ua != ua || s.os != os {
		s.ok, s.ua, s.os = true, ua, os
		s.dev, s.osName = deviceOf(ua, os)
	}
	return s.dev, s.osName
}

// sent is parseTime(sent), remembered for the next message.
func (s *seen) sent(sent string) (time.Time, error) {
	if s == nil {
		return parseTime(sent)
	}
	if !s.sentOK || s.sentIn != sent {
		s.sentOK, s.sentIn = true, sent
		s.sentAt, s.sentErr = parseTime(sent)
	}
	return s.sentAt, s.sentErr
}

// ip is HandleIP(h, ip), remembered for the next message.
func (s *seen) ip(h IPHandling, ip string) string {
	if s == nil {
		return HandleIP(h, ip)
	}
	if !s.ipOK || s.ipIn != ip || s.ipHandling != h {
		s.ipOK, s.ipIn, s.ipHandling = true, ip, h
		s.ipOut = HandleIP(h, ip)
	}
	return s.ipOut
}

// Converter turns Segment messages into touchpoints with a mapping and the
// collector's IP handling.
type Converter struct {
	Mapping *Mapping
	IP      IPHandling
}

// refusal is a message that cannot become a touchpoint, with the reason
// that validation would give.
func refusal(reason touchpoint.Reason, field, format string, args ...any) error {
	return &touchpoint.ValidationError{Reason: reason, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Touchpoint converts m (raw is its JSON, for an event id when it has no
// messageId). The touchpoint is not validated yet: the caller runs
// ingest's validation on it. The error is a *touchpoint.ValidationError.
func (c *Converter) Touchpoint(m *Message, raw string, rcv Received) (*touchpoint.Touchpoint, error) {
	return c.fill(&touchpoint.Touchpoint{}, m, raw, rcv)
}

// fill converts m into t, an empty touchpoint that may have empty room for
// identifiers and properties and an empty context to fill.
func (c *Converter) fill(t *touchpoint.Touchpoint, m *Message, raw string, rcv Received) (*touchpoint.Touchpoint, error) {
	if t.Identifiers == nil {
		t.Identifiers = make(touchpoint.Attrs, 0, 4)
	}
	if t.Properties == nil {
		// The properties are the call's and, most often, four of the
		// collector's (event_name or name, user_agent, ip, source) and
		// a click id: room made that size is not grown while filled.
		t.Properties = make(touchpoint.Attrs, 0, len(m.Properties)+5)
	}
	t.EventID = m.MessageID
	if t.EventID == "" {
		// The same message retried gets the same id, so retries do
		// not count twice.
		sum := sha256.Sum256([]byte(raw))
		t.EventID = "sha256-" + hex.EncodeToString(sum[:16])
	}
	var err error
	if t.EventTime, err = EventTime(m, rcv); err != nil {
		return nil, err
	}
	switch m.Type {
	case "track":
		t.EventType = c.Mapping.TrackType(m.Event)
		if m.Event == "" {
			return nil, refusal(touchpoint.ReasonMissingField, "event", "is required for a track call")
		}
		t.Properties.Set("event_name", m.Event)
	case "page":
		t.EventType = c.Mapping.Page
	case "screen":
		t.EventType = c.Mapping.Screen
	case "identify":
		t.EventType = c.Mapping.Identify
	case "alias":
		t.EventType = c.Mapping.Alias
	case "group":
		t.EventType = c.Mapping.Group
		if m.GroupID != "" {
			t.Properties.Set("group_id", string(m.GroupID))
		}
	default:
		return nil, refusal(touchpoint.ReasonInvalidField, "type", "%q is not a Segment call (track, page, screen, identify, alias, group)", m.Type)
	}
	if m.Name != "" {
		t.Properties.Set("name", m.Name)
	}
	c.identifiers(t, m)
	if err := c.money(t, m); err != nil {
		return nil, err
	}
	c.context(t, m, rcv)
	// From the last member: a repeated key's last value wins, and the
	// collector's own properties win over the call's.
	if len(m.Properties) <= manyProperties {
		for i := len(m.Properties) - 1; i >= 0; i-- {
			if k := m.Properties[i].key; !c.special(k) {
				t.Properties.Add(k, m.Properties[i].val.String())
			}
		}
	} else {
		more := make([]touchpoint.Attr, 0, len(m.Properties))
		for i := len(m.Properties) - 1; i >= 0; i-- {
			if k := m.Properties[i].key; !c.special(k) {
				more = append(more, touchpoint.Attr{Key: k, Value: m.Properties[i].val.String()})
			}
		}
		t.Properties = t.Properties.With(more)
	}
	if rcv.Source != "" {
		t.Properties.Set("source", rcv.Source)
	}
	return t, nil
}

// manyProperties is the most properties of a call set one by one; more are
// added in one sort (touchpoint.Attrs.With), so that a call of thousands
// costs n log n rather than n².
const manyProperties = 32

// special reports whether property k is read into a field of its own.
func (c *Converter) special(k string) bool {
	switch k {
	case "currency", "order_id", "url", "referrer":
		return true
	}
	for _, r := range c.Mapping.Revenue {
		if k == r {
			return true
		}
	}
	return false
}

// identifiers sets the identifiers of m: anonymousId, userId (customer_id),
// the email and phone of its traits (the call's own, or the context's), and
// for an alias the previousId (as the anonymous id it replaces, when the
// call has none).
func (c *Converter) identifiers(t *touchpoint.Touchpoint, m *Message) {
	set := func(typ string, v flexString) {
		if s := strings.TrimSpace(string(v)); s != "" {
			t.Identifiers.Set(typ, s)
		}
	}
	set("anonymous_id", m.AnonymousID)
	set("customer_id", m.UserID)
	if m.Type == "alias" && t.Identifiers.Get("anonymous_id") == "" {
		set("anonymous_id", m.PreviousID)
	}
	traits := m.Traits
	if traits == nil && m.Context != nil {
		traits = m.Context.Traits
	}
	for _, typ := range []string{"email", "phone"} {
		if v, ok := traits.lookup(typ); ok {
			set(typ, flexString(v.String()))
		}
	}
}

// money reads the revenue (the first of the mapping's revenue properties
// present), its currency (the mapping's default when absent) and the
// order id.
func (c *Converter) money(t *touchpoint.Touchpoint, m *Message) error {
	p := m.Properties
	if id, ok := p.lookup("order_id"); ok {
		t.OrderID = id.String()
	}
	for _, name := range c.Mapping.Revenue {
		v, ok := p.lookup(name)
		if !ok {
			continue
		}
		amount, err := moneyOf(v)
		if err != nil {
			return refusal(touchpoint.ReasonInvalidField, "revenue", "%s: %v", name, err)
		}
		t.Revenue = &amount
		t.Currency = c.Mapping.DefaultCurrency
		if cur, ok := p.str("currency"); ok && strings.TrimSpace(cur) != "" {
			t.Currency = strings.ToUpper(strings.TrimSpace(cur))
		}
		break
	}
	return nil
}

// moneyOf reads an amount sent as a JSON number or a string of one,
// rounded to the micro-unit (browsers send 0.1+0.2 as 0.30000000000000004).
func moneyOf(v jsonValue) (touchpoint.Money, error) {
	var s string
	switch v.kind {
	case kindNumber:
		s = v.text
	case kindString:
		s = strings.TrimSpace(v.text)
	default:
		return 0, fmt.Errorf("%s is not a number", v)
	}
	if m, ok := decimalMicros(s); ok {
		return m, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	micros := new(big.Rat).Mul(r, big.NewRat(touchpoint.MicrosPerUnit, 1))
	// Round half away from zero to a whole number of micros.
	n := new(big.Int).Quo(micros.Num(), micros.Denom())
	rem := new(big.Rat).Sub(micros, new(big.Rat).SetInt(n))
	if rem.Abs(rem).Cmp(big.NewRat(1, 2)) >= 0 {
		n.Add(n, big.NewInt(int64(micros.Sign())))
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	return touchpoint.Money(n.Int64()), nil
}

// decimalMicros reads s in micro-units when it is a plain decimal, as
// most amounts are: an optional minus, at most 12 digits, and a point with
// 1 to 6 more. Those need no rounding and fit an int64, so no big number
// is built; anything else is left to moneyOf's exact arithmetic.
func decimalMicros(s string) (touchpoint.Money, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, point := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || len(frac) > 6 || point && frac == "" {
		return 0, false
	}
	var n int64
	for i := range len(whole) + 6 {
		n *= 10
		c := byte('0')
		switch {
		case i < len(whole):
			c = whole[i]
		case i-len(whole) < len(frac):
			c = frac[i-len(whole)]
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n += int64(c - '0')
	}
	if neg {
		n = -n
	}
	return touchpoint.Money(n), true
}

// context reads the page, campaign, device and client address of m. The
// campaign comes from context.campaign, or, when it is absent, from the
// page URL's UTM parameters; the URL's click ids are kept as properties.
func (c *Converter) context(t *touchpoint.Touchpoint, m *Message, rcv Received) {
	ctx := m.Context
	if ctx == nil {
		ctx = &messageContext{}
	}
	if ctx.Page != nil {
		t.PageURL, t.Referrer = ctx.Page.URL, ctx.Page.Referrer
	}
	if m.Type == "page" { // a page call's own url and referrer win
		if u, ok := m.Properties.str("url"); ok && u != "" {
			t.PageURL = u
		}
		if r, ok := m.Properties.str("referrer"); ok && r != "" {
			t.Referrer = r
		}
	}
	fromURL := channel.FromURL(t.PageURL)
	if cp := ctx.Campaign; cp != nil {
		t.UTMSource, t.UTMMedium, t.UTMCampaign, t.UTMTerm, t.UTMContent = cp.Source, cp.Medium, cp.Name, cp.Term, cp.Content
	} else {
		t.UTMSource, t.UTMMedium, t.UTMCampaign = fromURL.UTMSource, fromURL.UTMMedium, fromURL.UTMCampaign
		t.UTMTerm, t.UTMContent = fromURL.UTMTerm, fromURL.UTMContent
	}
	for i, v := range fromURL.Clicks {
		if v != "" {
			t.Properties.Set(channel.ClickIDs[i], v)
		}
	}
	if ctx.UserAgent != "" {
		t.Properties.Set("user_agent", ctx.UserAgent)
	}
	ip := ctx.IP
	if ip == "" {
		ip = rcv.IP
	}
	if ip = rcv.seen.ip(c.IP, ip); ip != "" {
		t.Properties.Set("ip", ip)
	}
	dc := t.Context // an empty one of the scratch, or nil
	if dc == nil {
		dc = &touchpoint.Context{}
	}
	if ctx.Device != nil {
		dc.DeviceType = ctx.Device.Type
	}
	if ctx.OS != nil {
		dc.OS = strings.ToLower(ctx.OS.Name)
	}
	if ctx.Location != nil {
		dc.Country = ctx.Location.Country
	}
	if dc.DeviceType == "" && ctx.UserAgent != "" {
		dc.DeviceType, dc.OS = rcv.seen.device(ctx.UserAgent, dc.OS)
	}
	t.Context = nil
	if *dc != (touchpoint.Context{}) {
		t.Context = dc
	}
}

// deviceOf guesses the device type and, when os is empty, the operating
// system from a browser's user agent.
func deviceOf(ua, os string) (device, osName string) {
	var buf [512]byte
	l := lowerASCII(buf[:0], ua)
	switch {
	case bytes.Contains(l, []byte("ipad")) || bytes.Contains(l, []byte("tablet")):
		device = "tablet"
	case bytes.Contains(l, []byte("mobi")):
		device = "mobile"
	default:
		device = "desktop"
	}
	if os != "" {
		return device, os
	}
	for _, o := range []struct{ sign, name string }{
		{"iphone", "ios"}, {"ipad", "ios"}, {"android", "android"}, {"windows", "windows"},
		{"mac os", "macos"}, {"cros", "chromeos"}, {"linux", "linux"},
	} {
		if bytes.Contains(l, []byte(o.sign)) {
			return device, o.name
		}
	}
	return device, ""
}

// lowerASCII appends s in lower case to b: a user agent is ASCII, and
// lowering it into a buffer of the caller's spares an allocation per
// record. Any other text is lowered by strings.ToLower, whose rules for
// the rest of Unicode (the Kelvin sign is a k) it keeps.
func lowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return append(b[:0], strings.ToLower(s)...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// HandleIP returns ip kept, truncated (the last byte of an IPv4 address
// zeroed, an IPv6 address cut to its /48) or dropped by h. An address that
// does not parse is dropped.
func HandleIP(h IPHandling, ip string) string {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil || h == IPDrop {
		return ""
	}
	addr = addr.Unmap()
	if h == IPKeep {
		return addr.String()
	}
	bits := 24
	if addr.Is6() {
		bits = 48
	}
	p, _ := addr.Prefix(bits) // bits is within the address
	return p.Addr().String()
}

// EventTime is when m happened, corrected for the sender's clock as Segment
// does: timestamp = receivedAt - (sentAt - timestamp), where timestamp is
// the message's (or originalTimestamp), sentAt the message's or the
// batch's. Without sentAt the timestamp is taken as sent; without a
// timestamp the event happened when it was received.
//
// Unlike Segment, the correction is made only when the sender's clock is
// off by more than rcv.Tolerance, and in whole seconds: the event time is
// part of the key ClickHouse deduplicates on, so a retry of a message (a
// new request, received later) must get the same time as its first
// attempt, which a correction by the network's delay would change.
func EventTime(m *Message, rcv Received) (time.Time, error) {
	ts := m.Timestamp
	if ts == "" {
		ts = m.OriginalTimestamp
	}
	if ts == "" {
		return rcv.At.UTC(), nil
	}
	at, err := parseTime(ts)
	if err != nil {
		return time.Time{}, refusal(touchpoint.ReasonInvalidTime, "timestamp", "%q is not an ISO 8601 time", ts)
	}
	sent := m.SentAt
	if sent == "" {
		sent = rcv.SentAt
	}
	if sent == "" {
		return at.UTC(), nil
	}
	sentAt, err := rcv.seen.sent(sent)
	if err != nil {
		return time.Time{}, refusal(touchpoint.ReasonInvalidTime, "sentAt", "%q is not an ISO 8601 time", sent)
	}
	skew := rcv.At.Sub(sentAt)
	if skew.Abs() <= rcv.Tolerance {
		return at.UTC(), nil
	}
	return at.Add(skew.Round(time.Second)).UTC(), nil
}

// parseTime reads an ISO 8601 time as SDKs send it (RFC 3339 with or
// without fractions).
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
}
