package generate

// The channel names the generator sets explicitly (on event types whose
// producer knows the channel) and uses in spend records. Web and ad traffic
// carries no channel: the ingest service derives it from UTM parameters and
// referrers.
const (
	channelEmail      = "email"
	channelSMS        = "sms"
	channelPush       = "push"
	channelOffline    = "offline"
	channelPaidSearch = "paid_search"
	channelPaidSocial = "paid_social"
	channelDisplay    = "display"
	channelVideo      = "video"
	channelAffiliate  = "affiliate"
)

// billing is how an ad platform charges for a campaign.
type billing uint8

const (
	perClick      billing = iota // cost per click
	perMille                     // cost per thousand impressions
	perView                      // cost per (video) view, one per impression
	perCommission                // a share of the revenue of referred orders plus a fee per click
)

// spendKey is one (channel, campaign, source) of the daily spend, with its
// cost model: a unit cost drawn per day in [lo, hi] micros (of USD per click,
// per thousand impressions or per view; or, for commissions, parts per
// million of the revenue).
type spendKey struct {
	channel, campaign, source string
	bill                      billing
	lo, hi                    int64
	noImpressions             bool // the platform reports no impressions (affiliate networks)
}

// spendKeys are the paid campaigns, in the order Spend emits them each day.
var spendKeys = []spendKey{
	{channel: channelPaidSearch, campaign: "brand_search", source: "google_ads", bill: perClick, lo: 450_000, hi: 950_000},
	{channel: channelPaidSearch, campaign: "generic_search", source: "google_ads", bill: perClick, lo: 1_200_000, hi: 2_800_000},
	{channel: channelPaidSearch, campaign: "brand_search", source: "microsoft_ads", bill: perClick, lo: 350_000, hi: 800_000},
	{channel: channelPaidSearch, campaign: "generic_search", source: "microsoft_ads", bill: perClick, lo: 900_000, hi: 2_100_000},
	{channel: channelPaidSocial, campaign: "spring_sale", source: "meta_ads", bill: perClick, lo: 700_000, hi: 1_600_000},
	{channel: channelPaidSocial, campaign: "retargeting", source: "meta_ads", bill: perClick, lo: 500_000, hi: 1_200_000},
	{channel: channelPaidSocial, campaign: "spring_sale", source: "tiktok_ads", bill: perClick, lo: 400_000, hi: 1_100_000},
	{channel: channelDisplay, campaign: "prospecting", source: "google_ads", bill: perMille, lo: 2_000_000, hi: 6_000_000},
	{channel: channelDisplay, campaign: "retargeting", source: "criteo", bill: perClick, lo: 600_000, hi: 1_300_000},
	{channel: channelVideo, campaign: "brand_video", source: "google_ads", bill: perView, lo: 30_000, hi: 90_000},
	{channel: channelAffiliate, campaign: "partners", source: "awin", bill: perCommission, lo: 60_000, hi: 100_000, noImpressions: true},
	{channel: channelAffiliate, campaign: "partners", source: "rakuten", bill: perCommission, lo: 50_000, hi: 90_000, noImpressions: true},
}

// placement is where an ad runs: the UTM parameters its links carry and the
// spend key (index into spendKeys) its impressions, clicks and orders count
// towards.
type placement struct {
	source, medium, campaign string
	key                      int
	weight                   int
}

var (
	searchPlacements = []placement{
		{"google", "cpc", "brand_search", 0, 35},
		{"google", "cpc", "generic_search", 1, 45},
		{"bing", "cpc", "brand_search", 2, 8},
		{"bing", "cpc", "generic_search", 3, 12},
	}
	socialProspecting = []placement{
		{"facebook", "paid_social", "spring_sale", 4, 45},
		{"instagram", "paid_social", "spring_sale", 4, 35},
		{"tiktok", "paid_social", "spring_sale", 6, 20},
	}
	socialRetargeting = []placement{
		{"facebook", "paid_social", "retargeting", 5, 55},
		{"instagram", "paid_social", "retargeting", 5, 45},
	}
	displayProspecting = placement{"gdn", "cpm", "prospecting", 7, 1}
	displayRetargeting = placement{"criteo", "cpm", "retargeting", 8, 1}
	videoPlacement     = placement{"youtube", "cpv", "brand_video", 9, 1}
	affiliates         = []placement{
		{"awin", "affiliate", "partners", 10, 60},
		{"rakuten", "affiliate", "partners", 11, 40},
	}
)

// affiliateSites are the partner sites affiliate clicks come from; they are
// both the click's referrer and its utm_content.
var affiliateSites = []string{"couponfox", "dealspotter", "cashbackclub", "giftguide"}

// Search keywords by campaign: brand keywords, then generic ones per category.
var (
	brandKeywords   = []string{"example shop", "example shop sale", "example outfitters", "example shop discount code"}
	genericKeywords = []string{
		"running shoes", "waterproof jacket", "leather wallet", "scented candles",
		"vitamin c serum", "camping tent", "wireless earbuds", "merino socks", "yoga mat",
	}
)

// Creatives, the utm_content of ad impressions and clicks.
var creatives = []string{"cr_01", "cr_02", "cr_03", "cr_04", "carousel_a", "carousel_b", "video_15s", "static_hero"}

type weighted struct {
	value  string
	weight int
}

// Organic referrers, sent without UTM parameters.
var (
	searchReferrers = []weighted{
		{"https://www.google.com/", 76}, {"https://www.bing.com/", 14},
		{"https://duckduckgo.com/", 7}, {"https://search.yahoo.com/", 3},
	}
	socialReferrers = []weighted{
		{"https://l.facebook.com/", 35}, {"https://www.instagram.com/", 25}, {"https://t.co/", 12},
		{"https://www.pinterest.com/", 15}, {"https://www.tiktok.com/", 13},
	}
	otherReferrers = []weighted{
		{"https://www.wirecutter-reviews.example/best-shoes", 35}, {"https://blog.example.org/gift-guide", 25},
		{"https://www.reviews.example/best-of-2026", 25}, {"https://news.example.net/deals", 15},
	}
)

// Campaigns of the owned channels, set in the campaign field next to the
// explicit channel.
var (
	newsletterCampaigns = []weighted{{"weekly_newsletter", 50}, {"spring_sale", 30}, {"new_arrivals", 20}}
	smsCampaigns        = []weighted{{"flash_sale", 60}, {"back_in_stock", 40}}
	pushCampaigns       = []weighted{{"price_drop", 45}, {"new_arrivals", 35}, {"order_update", 20}}
)

const (
	campaignWelcome       = "welcome_series"
	campaignAbandonedCart = "abandoned_cart"
)

func pickWeighted(r interface{ IntN(int) int }, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.weight {
			return w.value
		}
		n -= w.weight
	}
	return ws[len(ws)-1].value
}

func pickPlacement(r interface{ IntN(int) int }, ps []placement) placement {
	total := 0
	for _, p := range ps {
		total += p.weight
	}
	n := r.IntN(total)
	for _, p := range ps {
		if n < p.weight {
			return p
		}
		n -= p.weight
	}
	return ps[len(ps)-1]
}
