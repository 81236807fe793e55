package channel

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// randomInputs returns n inputs drawn from the values the shipped rules
// look at, in random case and with random spaces, so that many repeat.
func randomInputs(rng *rand.Rand, n int) []Input {
	pick := func(vs ...string) string {
		v := vs[rng.IntN(len(vs))]
		if rng.IntN(4) == 0 {
			v = strings.ToUpper(v)
		}
		if rng.IntN(8) == 0 {
			v = " " + v + " "
		}
		return v
	}
	out := make([]Input, n)
	for i := range out {
		out[i] = Input{
			Channel:     pick("", "", "", "email", "Paid Search", "nonsense"),
			UTMSource:   pick("", "google", "facebook", "newsletter", "tiktok", "bing", fmt.Sprintf("src%d", rng.IntN(50))),
			UTMMedium:   pick("", "cpc", "email", "paid_social", "display", "affiliate", "organic", "sms"),
			UTMCampaign: pick("", "brand", "shopping_q4", "retargeting", "cross-network"),
			Referrer:    pick("", "https://www.google.com/", "https://l.facebook.com/l.php", "https://blog.example.org/x", "shop.example.com"),
			EventType:   pick("page_view", "click", "purchase", "store_visit", "email_open", "sms_click"),
		}
	}
	return out
}

// TestRememberedResultsAreTheRulesResults classifies random inputs, with
// many repeats, through a rule set that remembers results and one that
// does not, and wants the same channel every time, also after the memory
// was cleared for being full.
func TestRememberedResultsAreTheRulesResults(t *testing.T) {
	remembering := loadShipped(t)
	plain := loadShipped(t)
	plain.results = nil
	rng := rand.New(rand.NewPCG(1, 2))
	for i, in := range randomInputs(rng, 3*resultsSize) {
		if got, want := remembering.Classify(in), plain.Classify(in); got != want {
			t.Fatalf("input %d %+v: %q remembered, %q from the rules", i, in, got, want)
		}
	}
	if n := len(remembering.results.m); n == 0 || n > resultsSize {
		t.Errorf("%d results remembered, want 1 to %d", n, resultsSize)
	}
}

// TestResultsStayBounded fills the memory past its size with distinct
// inputs and one too long to remember: it never holds more than
// resultsSize, and the long input is still classified by the rules.
func TestResultsStayBounded(t *testing.T) {
	r := loadShipped(t)
	for i := range 2*resultsSize + 10 {
		r.Classify(Input{UTMSource: fmt.Sprintf("source-%d", i), UTMMedium: "cpc", EventType: "click"})
		if n := len(r.results.m); n > resultsSize {
			t.Fatalf("after %d inputs, %d results remembered, more than %d", i+1, n, resultsSize)
		}
	}
	clear(r.results.m)
	long := Input{UTMSource: "google", UTMMedium: "cpc", UTMCampaign: strings.Repeat("c", resultsMaxBytes), EventType: "click"}
	if got := r.Classify(long); got != "paid_search" {
		t.Errorf("a long input classified %q, want paid_search", got)
	}
	if n := len(r.results.m); n != 0 {
		t.Errorf("an input longer than %d bytes was remembered (%d results)", resultsMaxBytes, n)
	}
}

// TestResultsConcurrently classifies the same random inputs from several
// goroutines (run with -race) and wants every answer to equal the rules'.
func TestResultsConcurrently(t *testing.T) {
	r := loadShipped(t)
	plain := loadShipped(t)
	plain.results = nil
	inputs := randomInputs(rand.New(rand.NewPCG(3, 4)), 2000)
	want := make([]string, len(inputs))
	for i, in := range inputs {
		want[i] = plain.Classify(in)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 3 * len(inputs) {
				i := (k*(g+1) + g) % len(inputs)
				if got := r.Classify(inputs[i]); got != want[i] {
					errs <- fmt.Sprintf("input %+v: %q, want %q", inputs[i], got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
