// Package clients runs tracking clients written by others against an HTTP
// endpoint that speaks the Segment tracking API: Segment's Python SDK
// (PyPI segment-analytics-python), its Node SDK (npm @segment/analytics-node)
// and its browser SDK (npm @segment/analytics-next) in headless Chromium,
// driven with chromedp. Each sends the same Scenario. scripts/install-deps.sh
// clients installs them under Dir.
package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/touchline-io/touchline/test/testenv"
)

// ErrMissing is wrapped by the errors of the Send functions when a client
// (chromium, the Python virtualenv, node or the npm packages) is not
// installed; scripts/install-deps.sh clients installs them.
var ErrMissing = errors.New("client not installed (run scripts/install-deps.sh clients)")

// UTMQuery is the query string of the scenario's landing page: an email
// campaign, which channel grouping files under email.
const UTMQuery = "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale"

// Require fails the test when err says a client is missing under CI=true
// (where every client must be installed) and skips it elsewhere; any other
// error fails it.
func Require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrMissing) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	t.Fatal(err)
}

// MessageIDs are the Segment messageIds of the scenario's four calls.
type MessageIDs struct {
	// Page is the messageId of the page view.
	Page string `json:"page"`
	// ProductAdded is the messageId of the "Product Added" track.
	ProductAdded string `json:"productAdded"`
	// Identify is the messageId of the identify.
	Identify string `json:"identify"`
	// OrderCompleted is the messageId of the "Order Completed" track.
	OrderCompleted string `json:"orderCompleted"`
}

// Scenario is what every client sends, in this order: a page view of a
// landing page with UTM parameters and a "Product Added" as an anonymous
// visitor, then an identify that carries the anonymousId, the userId and
// an email, then an "Order Completed" with revenue.
type Scenario struct {
	// Host is the collector's base URL (scheme, host and port).
	Host string `json:"host"`
	// WriteKey is the Segment write key the client sends.
	WriteKey string `json:"writeKey"`
	// AnonymousID is the visitor's anonymousId.
	AnonymousID string `json:"anonymousId"`
	// UserID is the userId of the identify and the order.
	UserID string `json:"userId"`
	// Email is the email trait of the identify.
	Email string `json:"email"`
	// PageURL is the landing page's URL, UTMQuery included. The browser
	// client replaces it with the URL of the page it really loads.
	PageURL string `json:"pageUrl"`
	// Referrer is the page view's referrer (server clients only).
	Referrer string `json:"referrer"`
	// ProductID is the product of "Product Added".
	ProductID string `json:"productId"`
	// Price is the product's price.
	Price float64 `json:"price"`
	// OrderID is the order_id of "Order Completed".
	OrderID string `json:"orderId"`
	// Revenue is the revenue of "Order Completed".
	Revenue float64 `json:"revenue"`
	// Currency is the currency of "Order Completed".
	Currency string `json:"currency"`
	// MessageIDs are the messageIds of the four calls.
	MessageIDs MessageIDs `json:"messageIds"`
	// Gzip makes the Python SDK gzip its bodies (its gzip option; the Node
	// and browser SDKs have none).
	Gzip bool `json:"gzip"`
	// MaxRetries is how often the Python and Node SDKs retry a failed
	// request (0: 3, as the tests configure them otherwise).
	MaxRetries int `json:"maxRetries,omitempty"`
	// APIHost and Protocol are the browser SDK's apiHost ("host:port/v1")
	// and protocol, derived from Host by SendBrowser.
	APIHost  string `json:"apiHost,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// NewScenario returns the scenario for one client run; name (unique per
// test) makes every identifier and messageId unique.
func NewScenario(name, host, writeKey string) Scenario {
	return Scenario{
		Host:        host,
		WriteKey:    writeKey,
		AnonymousID: name + "-anon",
		UserID:      name + "-user",
		Email:       name + "@example.com",
		PageURL:     "https://shop.example.com/spring?" + UTMQuery,
		Referrer:    "https://mail.example.net/",
		ProductID:   "sku-42",
		Price:       19.5,
		OrderID:     name + "-order",
		Revenue:     42.25,
		Currency:    "EUR",
		MessageIDs: MessageIDs{
			Page:           name + "-page",
			ProductAdded:   name + "-product-added",
			Identify:       name + "-identify",
			OrderCompleted: name + "-order-completed",
		},
	}
}

// Dir is where scripts/install-deps.sh installs the clients:
// $TOUCHLINE_CLIENTS_DIR, or else ${XDG_CACHE_HOME:-~/.cache}/touchline/clients.
func Dir() (string, error) {
	if dir := os.Getenv("TOUCHLINE_CLIENTS_DIR"); dir != "" {
		return dir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the clients directory: %w", err)
	}
	return filepath.Join(cache, "touchline", "clients"), nil
}

// installed returns the path of file under Dir, or an error wrapping
// ErrMissing when it does not exist.
func installed(parts ...string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(append([]string{dir}, parts...)...)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s: %w", path, ErrMissing)
	}
	return path, nil
}

// script returns the path of one of the package's client scripts.
func script(name string) string {
	return filepath.Join(testenv.RepoRoot(), "test", "clients", "testdata", name)
}

// runScript runs a client script with the scenario as its one argument and
// returns an error with the script's output when it fails.
func runScript(ctx context.Context, s Scenario, env []string, bin string, args ...string) error {
	arg, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding the scenario: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, append(args, string(arg))...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
	}
	return nil
}

// SendPython sends the scenario with Segment's Python SDK and returns it as
// sent (unchanged).
func SendPython(ctx context.Context, s Scenario) (Scenario, error) {
	python, err := installed("python", "bin", "python")
	if err != nil {
		return s, fmt.Errorf("sending with the Python SDK: %w", err)
	}
	return s, runScript(ctx, s, nil, python, script("send.py"))
}

// SendNode sends the scenario with Segment's Node SDK and returns it as
// sent (unchanged).
func SendNode(ctx context.Context, s Scenario) (Scenario, error) {
	modules, err := installed("node", "node_modules", "@segment", "analytics-node")
	if err != nil {
		return s, fmt.Errorf("sending with the Node SDK: %w", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return s, fmt.Errorf("sending with the Node SDK: node: %w", ErrMissing)
	}
	return s, runScript(ctx, s, []string{"NODE_PATH=" + filepath.Dir(filepath.Dir(modules))}, node, script("send.cjs"))
}

// pageTemplate is the test page; the scenario is its data.
var pageTemplate = template.Must(template.ParseFiles(script("page.html")))

// SendBrowser serves the test page and the browser SDK's UMD build on a
// local port, opens the page (with UTMQuery in its URL) in headless
// Chromium and waits until the page has sent the scenario. The SDK is
// configured inline, so the browser fetches nothing but the local server
// and the collector. It returns the scenario as sent (PageURL is the local
// page's URL, Referrer is empty).
func SendBrowser(ctx context.Context, s Scenario) (Scenario, error) {
	bundles, err := installed("node", "node_modules", "@segment", "analytics-next", "dist", "umd")
	if err != nil {
		return s, fmt.Errorf("sending with the browser SDK: %w", err)
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return s, fmt.Errorf("sending with the browser SDK: chromium: %w", ErrMissing)
	}
	collector, err := url.Parse(s.Host)
	if err != nil {
		return s, fmt.Errorf("sending with the browser SDK: collector URL %q: %w", s.Host, err)
	}
	s.APIHost, s.Protocol = collector.Host+"/v1", collector.Scheme

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, fmt.Errorf("sending with the browser SDK: listening for the test page: %w", err)
	}
	base := "http://" + ln.Addr().String()
	s.PageURL = base + "/shop/spring?" + UTMQuery
	s.Referrer = ""
	mux := http.NewServeMux()
	mux.Handle("/analytics-next/bundles/", http.StripPrefix("/analytics-next/bundles/", http.FileServer(http.Dir(bundles))))
	mux.HandleFunc("/shop/spring", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTemplate.Execute(w, s)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	type pageState struct {
		Done  bool   `json:"done"`
		Error string `json:"error"`
	}
	// Every request of the page must go to the test page's server or to the
	// collector: the SDK is configured not to fetch from the internet.
	var mu sync.Mutex
	var offsite []string
	if err := chromedp.Listen(browser, func(ev any) {
		if req, ok := ev.(*network.EventRequestWillBeSent); ok {
			if u, err := url.Parse(req.Request.URL); err == nil && u.Host != ln.Addr().String() && u.Host != collector.Host {
				mu.Lock()
				offsite = append(offsite, req.Request.URL)
				mu.Unlock()
			}
		}
	}); err != nil {
		return s, fmt.Errorf("sending with the browser SDK: watching chromium's requests: %w", err)
	}
	if err := chromedp.Do(browser, chromedp.Navigate(s.PageURL)); err != nil {
		return s, fmt.Errorf("sending with the browser SDK: opening %s in chromium: %w", s.PageURL, err)
	}
	state, err := chromedp.Run(browser, chromedp.Poll[pageState](`window.touchline && window.touchline.done && window.touchline`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		return s, fmt.Errorf("sending with the browser SDK: waiting for the page to send: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(offsite) > 0 {
		return s, fmt.Errorf("sending with the browser SDK: the page requested other hosts than the test page's and the collector's: %s", strings.Join(offsite, ", "))
	}
	if state.Error != "" {
		return s, fmt.Errorf("sending with the browser SDK: the page failed: %s", state.Error)
	}
	return s, nil
}
