package generate

import (
	"math/rand/v2"
	"strconv"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// journey builds one person's touchpoints session by session. A session is
// built into buf as drafts; run gives them times and ids and emits them until
// the person's budget is spent, so a journey may end mid-session.
type journey struct {
	g      *Generator
	rng    *rand.Rand
	p      *person
	counts []adCounts
	buf    []draft

	seq    uint64 // touchpoints emitted in this run
	orders uint64 // orders created in this run

	remaining, emitted, sessionCount int
	last                             int64 // time of the previous event, Unix ms

	// The session's acquisition: UTM parameters or referrer every web and app
	// event of the session carries, and its spend key (-1 for none).
	src, med, camp, ref string
	ad                  int
	inApp               bool
	product             *product // the product last looked at
}

func (j *journey) chance(p float64) bool { return j.rng.Float64() < p }

// secs returns a gap of lo to hi seconds, in milliseconds.
func (j *journey) secs(lo, hi int64) int64 { return lo*1000 + j.rng.Int64N((hi-lo)*1000+1) }

// mins returns a gap of lo to hi minutes, in milliseconds.
func (j *journey) mins(lo, hi int64) int64 { return j.secs(lo*60, hi*60) }

// geom returns a geometric count with the given mean, at most 12.
func (j *journey) geom(mean float64) int {
	n, q := 0, mean/(1+mean)
	for n < 12 && j.chance(q) {
		n++
	}
	return n
}

func (j *journey) acquire(src, med, camp, ref string, ad int) {
	j.src, j.med, j.camp, j.ref, j.ad = src, med, camp, ref, ad
}

// session appends the drafts of the person's next session.
func (j *journey) session() {
	p := j.p
	defer func() { p.sessions++ }()
	j.acquire("", "", "", "", -1)
	j.inApp = false
	if p.hasRefund && p.sessions >= p.refund.due {
		j.refundSession()
		return
	}
	switch j.feasible(p.persona.pickEntry(j.rng)) {
	case entDirect:
		j.visit(j.webDevice(), j.landing(false), 0)
	case entOrganicSearch:
		j.organicSearch()
	case entOrganicSocial:
		j.acquire("", "", "", pickWeighted(j.rng, socialReferrers), -1)
		j.visit(j.webDevice(), j.landing(true), 0)
	case entReferral:
		j.acquire("", "", "", pickWeighted(j.rng, otherReferrers), -1)
		j.visit(j.webDevice(), j.landing(true), 0)
	case entPaidSearch:
		j.paidSearch()
	case entPaidSocial:
		j.paidSocial()
	case entDisplay:
		pl := displayProspecting
		if p.visited && j.chance(0.7) {
			pl = displayRetargeting
		}
		j.adViews(pl, 1+j.rng.IntN(4), 0.12, j.mins(1, 180))
	case entVideo:
		j.adViews(videoPlacement, 1+j.rng.IntN(2), 0.1, j.mins(5, 240))
	case entAffiliate:
		j.affiliate()
	case entEmail:
		j.emailSession()
	case entSMS:
		j.smsSession()
	case entPush:
		j.pushSession()
	case entApp:
		d := j.appDevice()
		j.inApp = true
		j.deviceEvent("app_open", 0, d)
		j.visit(d, j.landing(false), j.secs(1, 5))
	case entStore:
		j.storeSession()
	case entSupport:
		j.supportContact(0, "")
	}
}

// feasible replaces an entry the person cannot have yet (an email before
// subscribing, a push without the app) with one they can.
func (j *journey) feasible(e entry) entry {
	p := j.p
	switch e {
	case entEmail:
		if !p.emailOptIn {
			return entDirect
		}
	case entSMS:
		if !p.smsOptIn {
			return entOrganicSearch
		}
	case entPush:
		if j.appDevice() == nil {
			return entDirect
		}
		if !p.pushOpt {
			return entApp
		}
	case entApp:
		if j.appDevice() == nil {
			return entDirect
		}
	case entSupport:
		if !p.known && p.purchases == 0 {
			return entOrganicSearch
		}
	}
	return e
}

// webDevice returns the device of a web session: mostly the first one.
func (j *journey) webDevice() *device {
	ds := j.p.devices
	if len(ds) == 1 || j.chance(0.6) {
		return &ds[0]
	}
	return &ds[1+j.rng.IntN(len(ds)-1)]
}

// phoneDevice returns the person's phone (or tablet), else the first device.
func (j *journey) phoneDevice() *device {
	for i := range j.p.devices {
		if j.p.devices[i].kind != kindDesktop {
			return &j.p.devices[i]
		}
	}
	return &j.p.devices[0]
}

// appDevice returns the first device with the app, or nil.
func (j *journey) appDevice() *device {
	for i := range j.p.devices {
		if j.p.devices[i].app {
			return &j.p.devices[i]
		}
	}
	return nil
}

// add appends a draft of type typ, gap milliseconds after the previous event.
func (j *journey) add(typ string, gap int64) *touchpoint.Touchpoint {
	tp := &touchpoint.Touchpoint{EventType: typ}
	j.buf = append(j.buf, draft{tp: tp, gap: gap, ad: -1})
	return tp
}

// deviceEvent appends a touchpoint that happens on device d: it carries the
// device's identifiers (and the customer_id once the device is logged in), the
// device context and the session's acquisition.
func (j *journey) deviceEvent(typ string, gap int64, d *device) *touchpoint.Touchpoint {
	tp := j.add(typ, gap)
	j.buf[len(j.buf)-1].ad = j.ad
	ids := make(touchpoint.Attrs, 0, 4)
	ids.Set("anonymous_id", d.anonID)
	ids.Set("device_id", d.deviceID)
	if d.loggedIn {
		ids.Set("customer_id", j.p.customerID)
	}
	tp.Identifiers = ids
	if j.chance(0.96) {
		tp.Context = &touchpoint.Context{DeviceType: d.typ, OS: d.os, Country: j.p.country.code}
	}
	tp.UTMSource, tp.UTMMedium, tp.UTMCampaign, tp.Referrer = j.src, j.med, j.camp, j.ref
	return tp
}

// personal appends a touchpoint addressed to the person rather than a device
// (email, SMS, store, support): explicit channel and campaign, country-only
// context.
func (j *journey) personal(typ, channel, campaign string, gap int64) *touchpoint.Touchpoint {
	tp := j.add(typ, gap)
	tp.Channel, tp.Campaign = channel, campaign
	tp.Identifiers = make(touchpoint.Attrs, 0, 3)
	tp.Context = &touchpoint.Context{Country: j.p.country.code}
	return tp
}

// page is a page of the shop (or a screen of the app).
type page struct {
	url, typ string
	prod     *product
	cat      *category
}

// pickProduct returns a product, mostly of the person's favourite category and
// mostly a popular one.
func (j *journey) pickProduct() *product {
	ci := j.p.favCategory
	if j.chance(0.4) {
		ci = j.rng.IntN(len(categories))
	}
	ps := catalog[ci]
	u := j.rng.Float64()
	return &ps[int(u*u*float64(len(ps)))]
}

func (j *journey) productPage() page {
	pr := j.pickProduct()
	return page{url: pr.url, typ: "product", prod: pr}
}

// landing returns the first page of a session: the home page, a category or a
// product, or the sale page of a sale campaign.
func (j *journey) landing(deep bool) page {
	switch {
	case j.camp == "spring_sale":
		return page{url: siteURL + "/sale/spring", typ: "sale"}
	case j.camp == campaignAbandonedCart && len(j.p.cart) > 0:
		return page{url: siteURL + "/cart", typ: "cart"}
	case deep || j.chance(0.3):
		if j.chance(0.3) {
			c := &categories[j.rng.IntN(len(categories))]
			return page{url: c.url, typ: "category", cat: c}
		}
		return j.productPage()
	}
	return page{url: siteURL + "/", typ: "home"}
}

// pageView appends a page_view of pg. The landing page's URL carries the
// session's UTM parameters (and utm_content, utm_term when set).
func (j *journey) pageView(d *device, pg page, gap int64, landing bool, content, term string) *touchpoint.Touchpoint {
	tp := j.deviceEvent("page_view", gap, d)
	props := make(touchpoint.Attrs, 0, 4)
	props.Set("page_type", pg.typ)
	if pg.prod != nil {
		props.Set("product_id", pg.prod.id)
		props.Set("category", pg.prod.category)
		j.product = pg.prod
	} else if pg.cat != nil {
		props.Set("category", pg.cat.name)
	}
	if j.inApp {
		props.Set("screen", pg.typ)
	}
	tp.Properties = props
	if j.inApp {
		return tp
	}
	tp.PageURL = pg.url
	if landing && j.src != "" {
		tp.PageURL = withUTM(pg.url, j.src, j.med, j.camp, content, term)
		tp.UTMContent, tp.UTMTerm = content, term
	}
	return tp
}

func withUTM(url, src, med, camp, content, term string) string {
	s := url + "?utm_source=" + src + "&utm_medium=" + med + "&utm_campaign=" + camp
	if content != "" {
		s += "&utm_content=" + content
	}
	if term != "" {
		s += "&utm_term=" + queryEscape(term)
	}
	return s
}

func queryEscape(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' {
			b[i] = '+'
		}
	}
	return string(b)
}

// visit appends a web or app session on device d from its landing page:
// browsing, maybe a login or signup, maybe a cart, a checkout and a purchase,
// with drop-off at every step.
func (j *journey) visit(d *device, landing page, gap int64) {
	j.visitWith(d, landing, gap, "", "")
}

func (j *journey) visitWith(d *device, landing page, gap int64, content, term string) {
	p, pe := j.p, j.p.persona
	p.visited = true
	j.product = nil
	j.pageView(d, landing, gap, true, content, term)
	if p.known && !d.loggedIn && j.chance(0.3) {
		j.login(d, j.secs(5, 60))
	}
	for n := j.geom(pe.browse); n > 0; n-- {
		j.pageView(d, j.productPage(), j.secs(8, 150), false, "", "")
	}
	if !p.known && j.chance(0.05) {
		j.signup(d, j.secs(10, 90))
	}
	pCart := pe.pCart
	if landing.typ == "cart" {
		pCart = 0
	}
	if j.chance(pCart) {
		for n := 1 + j.geom(0.3); n > 0; n-- {
			if j.product == nil || n > 1 && j.chance(0.7) {
				j.pageView(d, j.productPage(), j.secs(8, 120), false, "", "")
			}
			j.addToCart(d, j.secs(5, 90))
		}
	}
	if len(p.cart) == 0 {
		return
	}
	pCheckout := pe.pCheckout
	if p.abandoned || landing.typ == "cart" {
		pCheckout = min(0.9, pCheckout+0.2)
	}
	if !j.chance(pCheckout) {
		p.abandoned = true
		return
	}
	tp := j.deviceEvent("checkout_start", j.secs(10, 120), d)
	tp.PageURL = siteURL + "/checkout"
	if j.inApp {
		tp.PageURL = ""
	}
	tp.Properties = touchpoint.AttrsOf(map[string]string{"items": strconv.Itoa(len(p.cart)), "value": centsString(cartCents(p.cart))})
	guest := false
	if !d.loggedIn {
		switch {
		case p.known:
			j.login(d, j.secs(10, 60))
		case j.chance(0.8):
			j.signup(d, j.secs(20, 120))
		default:
			guest = true
		}
	}
	if !j.chance(pe.pPurchase) {
		p.abandoned = true
		return
	}
	j.purchase(d, j.secs(30, 300), guest)
}

func centsString(c int64) string {
	return strconv.FormatInt(c/100, 10) + "." + pad(int(c%100), 2)
}

// addToCart adds the product last looked at (or a new one) to the cart,
// keeping the order within the revenue bounds.
func (j *journey) addToCart(d *device, gap int64) {
	p := j.p
	pr := j.product
	if pr == nil {
		pr = j.pickProduct()
	}
	qty := int64(1)
	if j.chance(0.12) {
		qty = 2
	}
	total := cartCents(p.cart)
	if total+pr.cents*qty > maxOrderCents {
		qty = 1
	}
	if total+pr.cents*qty > maxOrderCents || len(p.cart) >= 5 {
		return
	}
	p.cart = append(p.cart, item{p: pr, qty: qty})
	tp := j.deviceEvent("add_to_cart", gap, d)
	if !j.inApp {
		tp.PageURL = pr.url
	}
	tp.Properties = touchpoint.AttrsOf(map[string]string{
		"product_id": pr.id, "category": pr.category, "quantity": strconv.FormatInt(qty, 10), "price": pr.price,
	})
}

// login appends a login on d: it reveals the customer_id (and often the
// email) on this device, joining its anonymous history to the person.
func (j *journey) login(d *device, gap int64) {
	tp := j.deviceEvent("login", gap, d)
	tp.Identifiers.Set("customer_id", j.p.customerID)
	switch {
	case j.chance(0.6):
		tp.Identifiers.Set("email", j.p.email(j.rng))
	case j.chance(0.2):
		tp.Identifiers.Set("phone", j.p.phone(j.rng))
	}
	tp.Properties = touchpoint.AttrsOf(map[string]string{"method": "password"})
	if j.chance(0.25) {
		tp.Properties.Set("method", "magic_link")
	}
	d.loggedIn = true
}

// signup appends a signup on d: the person becomes a customer and reveals
// email and sometimes phone.
func (j *journey) signup(d *device, gap int64) {
	p := j.p
	tp := j.deviceEvent("signup", gap, d)
	tp.Identifiers.Set("customer_id", p.customerID)
	tp.Identifiers.Set("email", p.email(j.rng))
	withPhone := j.chance(0.4)
	if withPhone {
		tp.Identifiers.Set("phone", p.phone(j.rng))
	}
	p.known, d.loggedIn = true, true
	p.signedUpSession = p.sessions
	p.emailOptIn = j.chance(0.75)
	p.smsOptIn = withPhone && j.chance(0.5)
	tp.Properties = touchpoint.AttrsOf(map[string]string{"newsletter": strconv.FormatBool(p.emailOptIn)})
}

// purchase appends the order of the cart and empties it; some orders are
// refunded a few sessions later.
func (j *journey) purchase(d *device, gap int64, guest bool) {
	p := j.p
	tp := j.deviceEvent("purchase", gap, d)
	cents := max(cartCents(p.cart), minOrderCents)
	rev := touchpoint.Money(cents * 10_000)
	tp.Revenue, tp.Currency = &rev, p.country.currency
	tp.OrderID = j.g.keys.orderID("ORD-", j.orders)
	j.orders++
	if guest || j.chance(0.5) {
		tp.Identifiers.Set("email", p.email(j.rng))
	}
	if !j.inApp {
		tp.PageURL = siteURL + "/checkout/confirmation"
	}
	tp.Properties = touchpoint.AttrsOf(map[string]string{
		"items": strconv.Itoa(len(p.cart)), "product_id": p.cart[0].p.id, "category": p.cart[0].p.category,
		"payment": pickWeighted(j.rng, payments),
	})
	j.ordered(tp, !guest)
}

var (
	payments      = []weighted{{"card", 62}, {"paypal", 20}, {"apple_pay", 12}, {"gift_card", 6}}
	storePayments = []weighted{{"card", 70}, {"cash", 20}, {"apple_pay", 10}}
)

// ordered updates the person after an order and may schedule its refund.
func (j *journey) ordered(tp *touchpoint.Touchpoint, withCustomer bool) {
	p := j.p
	p.purchases++
	p.cart = p.cart[:0]
	p.abandoned = false
	if !p.hasRefund && j.chance(0.05) {
		p.hasRefund = true
		p.refund = pendingRefund{
			orderID: tp.OrderID, currency: tp.Currency, amount: int64(*tp.Revenue),
			withCustomer: withCustomer, due: p.sessions + 1 + j.rng.IntN(4),
		}
	}
}

var refundReasons = []weighted{{"wrong_size", 40}, {"damaged", 20}, {"changed_mind", 30}, {"late_delivery", 10}}

// refundSession appends the refund of an earlier order, often after a
// support contact about it.
func (j *journey) refundSession() {
	p := j.p
	r := p.refund
	p.hasRefund = false
	var gap int64
	if j.chance(0.6) {
		j.supportContact(0, "return")
		gap = j.mins(30, 48*60)
	}
	tp := j.add("refund", gap)
	ids := make(touchpoint.Attrs, 0, 2)
	if r.withCustomer {
		ids.Set("customer_id", p.customerID)
	}
	if !r.withCustomer || j.chance(0.5) {
		ids.Set("email", p.email(j.rng))
	}
	tp.Identifiers = ids
	amount := touchpoint.Money(r.amount)
	tp.Revenue, tp.Currency, tp.OrderID = &amount, r.currency, r.orderID
	tp.Properties = touchpoint.AttrsOf(map[string]string{"reason": pickWeighted(j.rng, refundReasons)})
}

var (
	supportReasons = []weighted{{"order_status", 35}, {"return", 25}, {"product_question", 25}, {"billing", 15}}
	supportVia     = []weighted{{"chat", 45}, {"phone", 35}, {"email", 20}}
)

// supportContact appends a contact with customer support.
func (j *journey) supportContact(gap int64, reason string) {
	p := j.p
	if reason == "" {
		reason = pickWeighted(j.rng, supportReasons)
	}
	via := pickWeighted(j.rng, supportVia)
	tp := j.personal("support_contact", channelOffline, "", gap)
	if p.known {
		tp.Identifiers.Set("customer_id", p.customerID)
	}
	if via == "phone" {
		tp.Identifiers.Set("phone", p.phone(j.rng))
	} else if !p.known || j.chance(0.5) {
		tp.Identifiers.Set("email", p.email(j.rng))
	}
	tp.Properties = touchpoint.AttrsOf(map[string]string{"reason": reason, "via": via})
}

func (j *journey) organicSearch() {
	ref := pickWeighted(j.rng, searchReferrers)
	d := j.webDevice()
	if ref == "https://www.google.com/" && j.chance(0.3) {
		// The search results showed our ad too; the person took the organic
		// result.
		j.acquire("google", "cpc", "brand_search", "", 0)
		j.adImpression(d, 0, "", brandKeywords[j.rng.IntN(len(brandKeywords))])
		j.acquire("", "", "", ref, -1)
		j.visit(d, j.landing(false), j.secs(3, 20))
		return
	}
	j.acquire("", "", "", ref, -1)
	j.visit(d, j.landing(false), 0)
}

// adImpression appends an ad impression of the session's placement.
func (j *journey) adImpression(d *device, gap int64, content, term string) {
	tp := j.deviceEvent("impression", gap, d)
	if content == "" {
		content = creatives[j.rng.IntN(len(creatives))]
	}
	tp.UTMContent, tp.UTMTerm = content, term
}

// adClick appends the click on an ad, landing on pg.
func (j *journey) adClick(d *device, gap int64, pg page, content, term string) {
	tp := j.deviceEvent("click", gap, d)
	tp.UTMContent, tp.UTMTerm = content, term
	tp.PageURL = withUTM(pg.url, j.src, j.med, j.camp, content, term)
}

func (j *journey) paidSearch() {
	pl := pickPlacement(j.rng, searchPlacements)
	term := brandKeywords[j.rng.IntN(len(brandKeywords))]
	if pl.campaign == "generic_search" {
		term = genericKeywords[j.rng.IntN(len(genericKeywords))]
	}
	content := creatives[j.rng.IntN(4)]
	d := j.webDevice()
	j.acquire(pl.source, pl.medium, pl.campaign, "", pl.key)
	var gap int64
	if j.chance(0.8) {
		// The ad was shown for one or more searches before the person clicked.
		for n := 1 + j.geom(0.6); n > 0; n-- {
			j.adImpression(d, gap, content, term)
			gap = j.secs(20, 600)
		}
		gap = j.secs(2, 40)
	}
	pg := j.landing(pl.campaign == "generic_search")
	j.adClick(d, gap, pg, content, term)
	j.visitWith(d, pg, j.secs(1, 4), content, term)
}

func (j *journey) paidSocial() {
	pls := socialProspecting
	if j.p.visited && j.chance(0.5) {
		pls = socialRetargeting
	}
	j.adViews(pickPlacement(j.rng, pls), 1+j.rng.IntN(3), 0.3, j.mins(1, 240))
}

// adViews appends n impressions of pl, spaced by about spacing, and with
// probability pClick a click and the visit it brings.
func (j *journey) adViews(pl placement, n int, pClick float64, spacing int64) {
	d := j.phoneDevice()
	if pl.medium == "cpm" || j.chance(0.3) {
		d = j.webDevice()
	}
	j.acquire(pl.source, pl.medium, pl.campaign, "", pl.key)
	content := creatives[j.rng.IntN(len(creatives))]
	for i := 0; i < n; i++ {
		var gap int64
		if i > 0 {
			gap = spacing/2 + j.rng.Int64N(spacing+1)
		}
		j.adImpression(d, gap, content, "")
	}
	if !j.chance(pClick) {
		return
	}
	pg := j.landing(true)
	j.adClick(d, j.secs(1, 30), pg, content, "")
	j.visitWith(d, pg, j.secs(1, 4), content, "")
}

func (j *journey) affiliate() {
	pl := pickPlacement(j.rng, affiliates)
	site := affiliateSites[j.rng.IntN(len(affiliateSites))]
	d := j.webDevice()
	j.acquire(pl.source, pl.medium, pl.campaign, "https://www."+site+".example/", pl.key)
	pg := j.landing(true)
	j.adClick(d, 0, pg, site, "")
	j.visitWith(d, pg, j.secs(1, 4), site, "")
}

// emailCampaign returns the campaign of the next email to the person.
func (j *journey) emailCampaign() string {
	p := j.p
	switch {
	case p.abandoned && len(p.cart) > 0 && j.chance(0.6):
		return campaignAbandonedCart
	case p.signedUpSession >= 0 && p.emailsIn < 3:
		return campaignWelcome
	}
	return pickWeighted(j.rng, newsletterCampaigns)
}

func (j *journey) emailSession() {
	p := j.p
	camp := j.emailCampaign()
	p.emailsIn++
	send := j.personal("email_send", channelEmail, camp, 0)
	send.Context = nil
	j.emailIDs(send)
	if !j.chance(p.persona.pOpen) {
		return
	}
	d := j.phoneDevice()
	if j.chance(0.4) {
		d = j.webDevice()
	}
	open := j.personal("email_open", channelEmail, camp, j.mins(2, 20*60))
	open.Context.DeviceType, open.Context.OS = d.typ, d.os
	j.emailIDs(open)
	if !j.chance(p.persona.pClick) {
		return
	}
	click := j.personal("email_click", channelEmail, camp, j.secs(3, 120))
	click.Context.DeviceType, click.Context.OS = d.typ, d.os
	j.emailIDs(click)
	link := "hero"
	if j.chance(0.4) {
		link = "product"
	}
	click.Properties = touchpoint.AttrsOf(map[string]string{"link": link})
	j.acquire("newsletter", "email", camp, "", -1)
	j.visit(d, j.landing(link == "product"), j.secs(1, 4))
}

func (j *journey) emailIDs(tp *touchpoint.Touchpoint) {
	tp.Identifiers.Set("email", j.p.email(j.rng))
	if j.chance(0.5) {
		tp.Identifiers.Set("customer_id", j.p.customerID)
	}
}

func (j *journey) smsSession() {
	p := j.p
	camp := pickWeighted(j.rng, smsCampaigns)
	d := j.phoneDevice()
	tp := j.personal("sms_click", channelSMS, camp, 0)
	tp.Context.DeviceType, tp.Context.OS = d.typ, d.os
	tp.Identifiers.Set("phone", p.phone(j.rng))
	if j.chance(0.4) {
		tp.Identifiers.Set("customer_id", p.customerID)
	}
	j.acquire("sms", "sms", camp, "", -1)
	j.visit(d, j.landing(true), j.secs(1, 5))
}

func (j *journey) pushSession() {
	camp := pickWeighted(j.rng, pushCampaigns)
	d := j.appDevice()
	j.inApp = true
	tp := j.deviceEvent("push_open", 0, d)
	tp.Channel, tp.Campaign = channelPush, camp
	j.acquire("push", "push", camp, "", -1)
	j.visit(d, j.landing(camp != "order_update"), j.secs(1, 5))
}

// Stores of the shop, by country.
var stores = map[string][]string{
	"US": {"store-nyc-001", "store-sfo-002", "store-chi-003", "store-aus-004", "store-mia-005"},
	"DE": {"store-ber-101", "store-muc-102"},
	"FR": {"store-par-201"},
	"NL": {"store-ams-301"},
	"ES": {"store-mad-401"},
	"IE": {"store-dub-501"},
}

// storeSession appends a store visit and sometimes a purchase in the store,
// identified by the loyalty account or the phone number given at the till.
func (j *journey) storeSession() {
	p := j.p
	ss := stores[p.country.code]
	store := ss[j.rng.IntN(len(ss))]
	visit := j.personal("store_visit", channelOffline, "", 0)
	j.storeIDs(visit, false)
	visit.Properties = touchpoint.AttrsOf(map[string]string{"store_id": store})
	if !j.chance(0.4) {
		return
	}
	tp := j.personal("purchase", channelOffline, "", j.mins(5, 50))
	j.storeIDs(tp, true)
	var cents int64
	items := 0
	for n := 1 + j.geom(0.6); n > 0; n-- {
		pr := j.pickProduct()
		if cents+pr.cents > maxOrderCents {
			break
		}
		cents += pr.cents
		items++
	}
	cents = max(cents, minOrderCents)
	rev := touchpoint.Money(cents * 10_000)
	tp.Revenue, tp.Currency = &rev, p.country.currency
	tp.OrderID = j.g.keys.orderID("POS-", j.orders)
	j.orders++
	tp.Properties = touchpoint.AttrsOf(map[string]string{"store_id": store, "items": strconv.Itoa(items), "payment": pickWeighted(j.rng, storePayments)})
	j.ordered(tp, p.known)
}

// storeIDs sets the identifiers of a store touchpoint: the loyalty account
// when known, the phone given at the till, or the app seen by the store's
// beacons.
func (j *journey) storeIDs(tp *touchpoint.Touchpoint, till bool) {
	p := j.p
	if p.known {
		tp.Identifiers.Set("customer_id", p.customerID)
	}
	if app := j.appDevice(); app != nil && !till && j.chance(0.5) {
		tp.Identifiers.Set("device_id", app.deviceID)
	}
	if len(tp.Identifiers) == 0 || j.chance(0.3) {
		tp.Identifiers.Set("phone", p.phone(j.rng))
	}
}
