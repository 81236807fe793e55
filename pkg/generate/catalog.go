package generate

import (
	"fmt"
	"strings"
)

// siteURL is the shop every web touchpoint happens on.
const siteURL = "https://shop.example.com"

// product is one article of the synthetic shop. Its strings are built once so
// that events share them.
type product struct {
	id, category string
	url          string
	cents        int64
	price        string // cents as a decimal string, e.g. "49.99"
}

type category struct {
	name               string
	size               int
	minCents, maxCents int64
	url                string
}

// categories of the shop with their number of products and price range.
var categories = []category{
	{name: "shoes", size: 60, minCents: 3999, maxCents: 18999},
	{name: "apparel", size: 120, minCents: 1499, maxCents: 12999},
	{name: "accessories", size: 80, minCents: 999, maxCents: 7999},
	{name: "home", size: 70, minCents: 1299, maxCents: 24999},
	{name: "beauty", size: 50, minCents: 599, maxCents: 5999},
	{name: "outdoor", size: 60, minCents: 1999, maxCents: 24999},
	{name: "electronics", size: 40, minCents: 1999, maxCents: 24999},
}

// catalog holds the products of each category, most popular first.
var catalog = buildCatalog()

func buildCatalog() [][]product {
	out := make([][]product, len(categories))
	for ci := range categories {
		c := &categories[ci]
		c.url = siteURL + "/c/" + c.name
		prefix := strings.ToUpper(c.name[:3])
		ps := make([]product, c.size)
		for n := range ps {
			// Prices are a fixed function of the product, not of the seed: the
			// catalogue is the same in every run.
			h := fmix64(uint64(ci)<<32 | uint64(n) ^ golden)
			// Cheap articles are more common than expensive ones.
			x := int64(h % 1000)
			cents := c.minCents + (c.maxCents-c.minCents)*x*x/1_000_000
			switch h >> 60 % 4 {
			case 0, 1:
				cents = cents/100*100 + 99
			case 2:
				cents = cents/100*100 + 49
			default:
				cents = cents / 100 * 100
			}
			if cents < 500 {
				cents = 599
			}
			id := fmt.Sprintf("SKU-%s-%04d", prefix, 1000+n)
			ps[n] = product{
				id: id, category: c.name, url: siteURL + "/p/" + id, cents: cents,
				price: fmt.Sprintf("%d.%02d", cents/100, cents%100),
			}
		}
		out[ci] = ps
	}
	return out
}

// Revenue bounds of one order, in cents.
const (
	maxOrderCents = 50000
	minOrderCents = 500
)

// item is one line of a cart.
type item struct {
	p   *product
	qty int64
}

func cartCents(cart []item) int64 {
	var t int64
	for _, it := range cart {
		t += it.p.cents * it.qty
	}
	return t
}
