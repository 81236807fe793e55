package generate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// entry is how a session starts: the channel that brings the person.
type entry uint8

const (
	entDirect entry = iota
	entOrganicSearch
	entOrganicSocial
	entReferral
	entPaidSearch
	entPaidSocial
	entDisplay
	entVideo
	entAffiliate
	entEmail
	entSMS
	entPush
	entApp
	entStore
	entSupport
	numEntries
)

// kind is a device's form factor.
type kind uint8

const (
	kindDesktop kind = iota
	kindPhone
	kindTablet
	numKinds
)

// persona is a type of person: the channels that bring them, their devices and
// how readily they buy.
type persona struct {
	name  string
	share int // percent of persons
	// activity scales the person's share of the events.
	activity float64
	entries  [numEntries]int
	// primary and extra weigh the kinds of the first and further devices;
	// pSecond and pThird are the probabilities of a second and third device.
	primary, extra  [numKinds]int
	pSecond, pThird float64
	// primaryApp and pApp are the probabilities that the first, and a further,
	// phone or tablet has the shop's app.
	primaryApp, pApp float64
	// known is the probability that the person is a customer already.
	known float64
	// pCart, pCheckout and pPurchase are the funnel's step probabilities.
	pCart, pCheckout, pPurchase float64
	// browse is the mean number of pages after the landing page.
	browse float64
	// pOpen and pClick are the probabilities of opening an email and of
	// clicking an opened one.
	pOpen, pClick float64
	// sessionLen is the expected number of events of a session, for spreading
	// sessions over the period.
	sessionLen float64
	// pSMS is the probability of an SMS opt-in when known.
	pSMS float64
}

var personas = []persona{
	{
		name: "search_shopper", share: 28, activity: 1.0,
		entries: [numEntries]int{
			entDirect: 14, entOrganicSearch: 24, entOrganicSocial: 2, entReferral: 5, entPaidSearch: 30,
			entPaidSocial: 3, entDisplay: 5, entVideo: 2, entAffiliate: 3, entEmail: 8, entSMS: 2, entStore: 3, entSupport: 2,
		},
		primary: [numKinds]int{kindDesktop: 65, kindPhone: 25, kindTablet: 10},
		extra:   [numKinds]int{kindDesktop: 20, kindPhone: 60, kindTablet: 20},
		pSecond: 0.45, pThird: 0.15, primaryApp: 0.15, pApp: 0.2, known: 0.15,
		pCart: 0.16, pCheckout: 0.5, pPurchase: 0.68, browse: 2.0, pOpen: 0.3, pClick: 0.3, sessionLen: 5, pSMS: 0.15,
	},
	{
		name: "social_browser", share: 24, activity: 0.9,
		entries: [numEntries]int{
			entDirect: 10, entOrganicSearch: 6, entOrganicSocial: 14, entReferral: 3, entPaidSearch: 3,
			entPaidSocial: 38, entDisplay: 10, entVideo: 8, entAffiliate: 1, entEmail: 5, entSMS: 1, entPush: 1, entApp: 3,
			entStore: 1, entSupport: 1,
		},
		primary: [numKinds]int{kindDesktop: 15, kindPhone: 75, kindTablet: 10},
		extra:   [numKinds]int{kindDesktop: 50, kindPhone: 20, kindTablet: 30},
		pSecond: 0.35, pThird: 0.1, primaryApp: 0.3, pApp: 0.2, known: 0.1,
		pCart: 0.09, pCheckout: 0.45, pPurchase: 0.6, browse: 2.5, pOpen: 0.25, pClick: 0.25, sessionLen: 4, pSMS: 0.1,
	},
	{
		name: "email_loyalist", share: 14, activity: 1.2,
		entries: [numEntries]int{
			entDirect: 16, entOrganicSearch: 7, entReferral: 1, entPaidSearch: 5, entPaidSocial: 2, entDisplay: 2,
			entEmail: 48, entSMS: 6, entPush: 2, entApp: 3, entStore: 5, entSupport: 3,
		},
		primary: [numKinds]int{kindDesktop: 50, kindPhone: 40, kindTablet: 10},
		extra:   [numKinds]int{kindDesktop: 25, kindPhone: 60, kindTablet: 15},
		pSecond: 0.55, pThird: 0.2, primaryApp: 0.3, pApp: 0.3, known: 0.92,
		pCart: 0.2, pCheckout: 0.55, pPurchase: 0.75, browse: 1.5, pOpen: 0.5, pClick: 0.35, sessionLen: 3, pSMS: 0.3,
	},
	{
		name: "app_user", share: 14, activity: 1.3,
		entries: [numEntries]int{
			entDirect: 6, entPaidSocial: 10, entDisplay: 3, entVideo: 3, entEmail: 8, entSMS: 6, entPush: 24, entApp: 34,
			entStore: 4, entSupport: 2,
		},
		primary: [numKinds]int{kindPhone: 90, kindTablet: 10},
		extra:   [numKinds]int{kindDesktop: 60, kindTablet: 40},
		pSecond: 0.4, pThird: 0.12, primaryApp: 1, pApp: 0.5, known: 0.5,
		pCart: 0.18, pCheckout: 0.55, pPurchase: 0.72, browse: 2.2, pOpen: 0.3, pClick: 0.3, sessionLen: 4.5, pSMS: 0.3,
	},
	{
		name: "store_shopper", share: 12, activity: 0.8,
		entries: [numEntries]int{
			entDirect: 12, entOrganicSearch: 10, entPaidSearch: 6, entPaidSocial: 5, entEmail: 10, entSMS: 12,
			entStore: 40, entSupport: 5,
		},
		primary: [numKinds]int{kindDesktop: 30, kindPhone: 70},
		extra:   [numKinds]int{kindDesktop: 60, kindTablet: 40},
		pSecond: 0.3, pThird: 0.05, primaryApp: 0.35, pApp: 0.2, known: 0.5,
		pCart: 0.1, pCheckout: 0.5, pPurchase: 0.62, browse: 1.2, pOpen: 0.35, pClick: 0.25, sessionLen: 2.5, pSMS: 0.6,
	},
	{
		name: "deal_seeker", share: 8, activity: 1.0,
		entries: [numEntries]int{
			entDirect: 8, entOrganicSearch: 8, entReferral: 4, entPaidSearch: 12, entPaidSocial: 6, entDisplay: 14,
			entVideo: 10, entAffiliate: 30, entEmail: 8,
		},
		primary: [numKinds]int{kindDesktop: 60, kindPhone: 30, kindTablet: 10},
		extra:   [numKinds]int{kindPhone: 70, kindTablet: 30},
		pSecond: 0.5, pThird: 0.2, primaryApp: 0.15, pApp: 0.15, known: 0.2,
		pCart: 0.15, pCheckout: 0.55, pPurchase: 0.68, browse: 3, pOpen: 0.4, pClick: 0.4, sessionLen: 5, pSMS: 0.1,
	},
}

func (p *persona) pickEntry(r *rand.Rand) entry {
	total := 0
	for _, w := range p.entries {
		total += w
	}
	n := r.IntN(total)
	for e, w := range p.entries {
		if n < w {
			return entry(e)
		}
		n -= w
	}
	return entDirect
}

func pickKind(r *rand.Rand, ws *[numKinds]int) kind {
	total := 0
	for _, w := range ws {
		total += w
	}
	n := r.IntN(total)
	for k, w := range ws {
		if n < w {
			return kind(k)
		}
		n -= w
	}
	return kindPhone
}

// country is where a person lives: their currency, time zone and phone
// numbering.
type country struct {
	code, currency string
	weight         int
	tzHours        []int
	callingCode    string
	// mobile prefixes and the number of subscriber digits after them.
	prefixes   []string
	subscriber int
}

var countries = []country{
	{code: "US", currency: "USD", weight: 84, tzHours: []int{-5, -5, -6, -7, -8, -8}, callingCode: "1"},
	{code: "DE", currency: "EUR", weight: 5, tzHours: []int{1}, callingCode: "49", prefixes: []string{"151", "160", "170", "176"}, subscriber: 8},
	{code: "FR", currency: "EUR", weight: 4, tzHours: []int{1}, callingCode: "33", prefixes: []string{"6", "7"}, subscriber: 8},
	{code: "NL", currency: "EUR", weight: 2, tzHours: []int{1}, callingCode: "31", prefixes: []string{"6"}, subscriber: 8},
	{code: "ES", currency: "EUR", weight: 3, tzHours: []int{1}, callingCode: "34", prefixes: []string{"6"}, subscriber: 8},
	{code: "IE", currency: "EUR", weight: 2, tzHours: []int{0}, callingCode: "353", prefixes: []string{"83", "85", "86", "87"}, subscriber: 7},
}

// usAreaCodes are the area codes of US phone numbers.
var usAreaCodes = []string{
	"212", "213", "305", "312", "415", "503", "512", "617", "646", "702",
	"713", "718", "773", "808", "818", "917", "206", "303", "404", "602",
}

var (
	firstNames = []string{
		"jane", "john", "maria", "james", "sofia", "liam", "emma", "noah", "olivia", "lucas",
		"mia", "ethan", "ava", "mateo", "chloe", "leon", "hannah", "finn", "lea", "hugo",
		"ines", "daan", "sara", "pablo", "aoife", "sean", "grace", "omar", "yuki", "priya",
	}
	lastNames = []string{
		"doe", "smith", "garcia", "miller", "mueller", "schmidt", "martin", "bernard", "devries", "jansen",
		"lopez", "fernandez", "murphy", "kelly", "johnson", "brown", "nguyen", "kim", "patel", "rossi",
		"weber", "dubois", "bakker", "ruiz", "byrne", "walsh", "taylor", "lee", "wilson", "moore",
	}
	emailDomains = []string{"example.com", "example.net", "example.org", "mail.example", "inbox.example"}
)

var (
	desktopOS = []weighted{{"windows", 60}, {"macos", 35}, {"linux", 5}}
	phoneOS   = []weighted{{"ios", 55}, {"android", 45}}
	tabletOS  = []weighted{{"ipados", 70}, {"android", 30}}
)

// device is one browser or app installation of a person.
type device struct {
	kind     kind
	app      bool
	typ, os  string
	anonID   string
	deviceID string
	loggedIn bool
}

// pendingRefund is a purchase the person will return later in the journey.
type pendingRefund struct {
	orderID, currency string
	amount            int64 // micros
	withCustomer      bool
	due               int // session number at which it happens
}

// person is one synthetic person: identity, devices and the state their
// journey carries from session to session. One value is reused for every
// person of a run.
type person struct {
	index   int
	persona *persona
	weight  uint64
	country *country
	tz      int64 // offset from UTC in milliseconds

	devices    []device
	customerID string
	// emails and phones are the ways the person writes their address and
	// number; emails[0] and phones[0] are the usual ones.
	emails []string
	phones []string

	known                         bool
	emailOptIn, smsOptIn, pushOpt bool
	signedUpSession               int // session of the signup, -1 if a customer before the period
	visited                       bool
	favCategory                   int

	cart      []item
	abandoned bool
	purchases int
	sessions  int
	emailsIn  int // emails received
	refund    pendingRefund
	hasRefund bool
}

// head draws what the budget split needs: persona and activity weight. It is
// the first use of the person's random stream, so New and Touchpoints agree.
func (p *person) head(r *rand.Rand, index int) {
	p.index = index
	n := r.IntN(100)
	p.persona = &personas[len(personas)-1]
	for i := range personas {
		if n < personas[i].share {
			p.persona = &personas[i]
			break
		}
		n -= personas[i].share
	}
	w := p.persona.activity * math.Exp(0.9*r.NormFloat64()) * 1000
	p.weight = uint64(min(max(w, 1), 1e6))
}

// body draws the rest of the person: country, devices, identity.
func (p *person) body(r *rand.Rand, k *keys) {
	pe := p.persona
	total := 0
	for _, c := range countries {
		total += c.weight
	}
	n := r.IntN(total)
	p.country = &countries[len(countries)-1]
	for i := range countries {
		if n < countries[i].weight {
			p.country = &countries[i]
			break
		}
		n -= countries[i].weight
	}
	p.tz = int64(p.country.tzHours[r.IntN(len(p.country.tzHours))]) * 3_600_000
	idx := uint64(p.index)
	p.customerID = prefixedHex64("cus_", fmix64(idx^k.customer), lowerHex)

	nDev := 1
	if r.Float64() < pe.pSecond {
		nDev++
		if r.Float64() < pe.pThird/pe.pSecond {
			nDev++
		}
	}
	p.devices = p.devices[:0]
	for d := 0; d < nDev; d++ {
		var kd kind
		pApp := pe.pApp
		if d == 0 {
			kd, pApp = pickKind(r, &pe.primary), pe.primaryApp
		} else {
			kd = pickKind(r, &pe.extra)
		}
		dev := device{kind: kd}
		slot := idx<<2 | uint64(d)
		a := fmix64(slot ^ k.anon)
		dev.anonID = uuidString(a, fmix64(a^k.anon2), lowerHex)
		b := fmix64(slot ^ k.device)
		switch kd {
		case kindDesktop:
			dev.typ, dev.os = "desktop", pickWeighted(r, desktopOS)
			dev.deviceID = prefixedHex64("dsk-", b, lowerHex)
		case kindPhone:
			dev.typ, dev.os = "mobile", pickWeighted(r, phoneOS)
			dev.app = r.Float64() < pApp
			dev.deviceID = uuidString(b, fmix64(b^k.device2), upperHex)
		default:
			dev.typ, dev.os = "tablet", pickWeighted(r, tabletOS)
			dev.app = r.Float64() < pApp
			dev.deviceID = uuidString(b, fmix64(b^k.device2), upperHex)
		}
		p.devices = append(p.devices, dev)
	}

	p.emails = emailForms(p.emails[:0], r, p.index)
	p.phones = phoneForms(p.phones[:0], r, p.country, p.index)

	p.known = r.Float64() < pe.known
	p.signedUpSession = -1
	p.emailOptIn = p.known && r.Float64() < 0.85
	p.smsOptIn = p.known && r.Float64() < pe.pSMS
	p.pushOpt = r.Float64() < 0.7
	if p.known && r.Float64() < 0.5 {
		p.devices[0].loggedIn = true
	}
	p.favCategory = r.IntN(len(categories))
	p.visited = p.known
	p.cart = p.cart[:0]
	p.abandoned, p.purchases, p.sessions, p.emailsIn, p.hasRefund = false, 0, 0, 0, false
}

// emailForms appends the usual form of a person's address and the variants
// they (or a form) sometimes produce: mixed case, upper case, surrounding
// spaces. All normalise to the same address.
func emailForms(dst []string, r *rand.Rand, index int) []string {
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	num := strconv.Itoa(index)
	var local string
	switch r.IntN(4) {
	case 0:
		local = first + "." + last + num
	case 1:
		local = first + last + num
	case 2:
		local = first[:1] + "." + last + num
	default:
		local = first + "_" + last + num
	}
	domain := emailDomains[r.IntN(len(emailDomains))]
	addr := local + "@" + domain
	title := titleCase(local) + "@" + titleDomain(domain)
	return append(dst, addr, title, " "+title, strings.ToUpper(addr), addr+" ")
}

func titleCase(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '_'
	}
	return string(b)
}

func titleDomain(d string) string {
	dot := strings.LastIndexByte(d, '.')
	return titleCase(d[:dot]) + strings.ToUpper(d[dot:])
}

// phoneForms appends the ways a person's number gets written. The number is a
// function of the person's index, so persons never share one. Every form
// normalises to the same E.164 number with default country code 1.
func phoneForms(dst []string, r *rand.Rand, c *country, index int) []string {
	if c.callingCode == "1" {
		area := usAreaCodes[index%len(usAreaCodes)]
		rest := index / len(usAreaCodes)
		exch := strconv.Itoa(200 + rest%800)
		line := pad(rest/800%10000, 4)
		return append(dst,
			"+1 ("+area+") "+exch+"-"+line,
			area+"-"+exch+"-"+line,
			"("+area+") "+exch+"-"+line,
			"+1"+area+exch+line,
			"1-"+area+"-"+exch+"-"+line,
			area+"."+exch+"."+line,
		)
	}
	prefix := c.prefixes[r.IntN(len(c.prefixes))]
	mod := 1
	for i := 0; i < c.subscriber; i++ {
		mod *= 10
	}
	sub := pad(index%mod, c.subscriber)
	half := len(sub) / 2
	return append(dst,
		"+"+c.callingCode+" "+prefix+" "+sub[:half]+" "+sub[half:],
		"00"+c.callingCode+" "+prefix+" "+sub,
		"+"+c.callingCode+prefix+sub,
	)
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// email returns the address as this event carries it: usually the usual form,
// sometimes a variant.
func (p *person) email(r *rand.Rand) string {
	if r.Float64() < 0.72 {
		return p.emails[0]
	}
	return p.emails[1+r.IntN(len(p.emails)-1)]
}

// phone returns the number as this event carries it.
func (p *person) phone(r *rand.Rand) string {
	if r.Float64() < 0.5 {
		return p.phones[0]
	}
	return p.phones[r.IntN(len(p.phones))]
}
