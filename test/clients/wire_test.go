package clients

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is one HTTP request a client sent, as the recorder saw it.
type request struct {
	Method, Path, Auth, ContentType, Encoding, Origin string
	// Messages are the Segment messages of the body: the batch array of a
	// batch, or the body itself.
	Messages []map[string]any
	// BodyWriteKey and SentAt are the body's writeKey and sentAt fields,
	// if any.
	BodyWriteKey, SentAt string
}

// recorder is an httptest server that answers every request the way
// Segment's API does and keeps what it got.
type recorder struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	requests []request
}

// newRecorder starts a recorder, closed when the test ends.
func newRecorder(t *testing.T) *recorder {
	r := &recorder{t: t}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	got := request{Method: req.Method, Path: req.URL.Path, Auth: req.Header.Get("Authorization"),
		ContentType: req.Header.Get("Content-Type"), Encoding: req.Header.Get("Content-Encoding"), Origin: req.Header.Get("Origin")}
	if req.Method == http.MethodPost {
		var body io.Reader = req.Body
		if got.Encoding == "gzip" {
			gz, err := gzip.NewReader(req.Body)
			if err != nil {
				r.t.Errorf("%s: gzip body: %v", req.URL.Path, err)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		var doc map[string]any
		if err := json.NewDecoder(body).Decode(&doc); err != nil {
			r.t.Errorf("%s: JSON body: %v", req.URL.Path, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.BodyWriteKey, got.SentAt = str(doc, "writeKey"), str(doc, "sentAt")
		if batch, ok := doc["batch"].([]any); ok {
			for _, m := range batch {
				got.Messages = append(got.Messages, m.(map[string]any))
			}
		} else {
			got.Messages = []map[string]any{doc}
		}
	}
	r.mu.Lock()
	r.requests = append(r.requests, got)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"success":true}`)
}

// received returns the requests received so far.
func (r *recorder) received() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

// str walks a JSON object along keys and returns the string at the end, or
// "" when there is none.
func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	s, _ := v.(string)
	return s
}

// wantWire is what a client must put on the wire, beyond the scenario's
// messages, which every client sends alike.
type wantWire struct {
	// paths are the request paths, sorted and without repeats.
	paths []string
	// preflight is whether the browser sends a CORS preflight (OPTIONS).
	preflight bool
	// encoding is the Content-Encoding of the bodies.
	encoding string
	// contentType is the bodies' Content-Type, up to any parameters.
	contentType string
	// campaign is whether the client fills context.campaign from the page
	// URL's utm_ parameters.
	campaign bool
}

// checkWire asserts that the recorder got the scenario's four messages,
// with the scenario's ids, names, traits and revenue, and the wire details
// of want.
func checkWire(t *testing.T, rec *recorder, s Scenario, want wantWire) {
	t.Helper()
	paths := map[string]bool{}
	byID := map[string]map[string]any{}
	preflight := false
	// Every client sends the write key twice: as the basic-auth user and
	// as the body's writeKey.
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.WriteKey+":"))
	for _, p := range rec.received() {
		t.Logf("%s %s auth=%q content-type=%q encoding=%q origin=%q body-writeKey=%q body-sentAt=%t messages=%d",
			p.Method, p.Path, p.Auth, p.ContentType, p.Encoding, p.Origin, p.BodyWriteKey, p.SentAt != "", len(p.Messages))
		if p.Method == http.MethodOptions {
			preflight = true
			continue
		}
		paths[p.Path] = true
		if p.Auth != wantAuth || p.BodyWriteKey != s.WriteKey {
			t.Errorf("%s: Authorization %q and body writeKey %q, want %q and %q", p.Path, p.Auth, p.BodyWriteKey, wantAuth, s.WriteKey)
		}
		if p.Encoding != want.encoding {
			t.Errorf("%s: Content-Encoding %q, want %q", p.Path, p.Encoding, want.encoding)
		}
		if ct, _, _ := strings.Cut(p.ContentType, ";"); ct != want.contentType {
			t.Errorf("%s: Content-Type %q, want %q", p.Path, p.ContentType, want.contentType)
		}
		for _, m := range p.Messages {
			byID[str(m, "messageId")] = m
			if str(m, "timestamp") == "" || (p.SentAt == "" && str(m, "sentAt") == "") {
				t.Errorf("%s: message %s without timestamp or sentAt", p.Path, str(m, "messageId"))
			}
		}
	}
	if preflight != want.preflight {
		t.Errorf("CORS preflight sent: %t, want %t", preflight, want.preflight)
	}
	var gotPaths []string
	for p := range paths {
		gotPaths = append(gotPaths, p)
	}
	sort.Strings(gotPaths)
	if strings.Join(gotPaths, " ") != strings.Join(want.paths, " ") {
		t.Errorf("paths %v, want %v", gotPaths, want.paths)
	}
	if len(byID) != 4 {
		t.Errorf("%d distinct messages, want 4: %v", len(byID), byID)
	}

	ids := s.MessageIDs
	for _, c := range []struct{ id, typ, event, userID string }{
		{ids.Page, "page", "", ""},
		{ids.ProductAdded, "track", "Product Added", ""},
		{ids.Identify, "identify", "", s.UserID},
		{ids.OrderCompleted, "track", "Order Completed", s.UserID},
	} {
		m, ok := byID[c.id]
		if !ok {
			t.Errorf("no message with messageId %q", c.id)
			continue
		}
		if str(m, "type") != c.typ || str(m, "event") != c.event || str(m, "userId") != c.userID || str(m, "anonymousId") != s.AnonymousID {
			t.Errorf("message %s: type %q event %q userId %q anonymousId %q, want %q %q %q %q", c.id,
				str(m, "type"), str(m, "event"), str(m, "userId"), str(m, "anonymousId"), c.typ, c.event, c.userID, s.AnonymousID)
		}
	}
	if m := byID[ids.Identify]; m != nil && str(m, "traits", "email") != s.Email {
		t.Errorf("identify traits.email %q, want %q", str(m, "traits", "email"), s.Email)
	}
	if m := byID[ids.OrderCompleted]; m != nil {
		props, _ := m["properties"].(map[string]any)
		if props["revenue"] != s.Revenue || props["currency"] != s.Currency || props["order_id"] != s.OrderID {
			t.Errorf("Order Completed properties %v, want revenue %v currency %s order_id %s", props, s.Revenue, s.Currency, s.OrderID)
		}
	}
	if m := byID[ids.Page]; m != nil {
		if got := str(m, "context", "page", "url"); got != s.PageURL {
			t.Errorf("page context.page.url %q, want %q", got, s.PageURL)
		}
		wantSource := ""
		if want.campaign {
			wantSource = "newsletter"
		}
		if got := str(m, "context", "campaign", "source"); got != wantSource {
			t.Errorf("page context.campaign.source %q, want %q", got, wantSource)
		}
	}
}

// clientTimeout bounds one client's run.
const clientTimeout = 2 * time.Minute

// runWire sends the scenario named name with send to a recorder and checks
// what it got against want; gzip sets the scenario's Gzip.
func runWire(t *testing.T, name string, gzip bool, send func(context.Context, Scenario) (Scenario, error), want wantWire) {
	rec := newRecorder(t)
	s := NewScenario(name, rec.URL, "wk-"+name)
	s.Gzip = gzip
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	s, err := send(ctx, s)
	Require(t, err)
	checkWire(t, rec, s, want)
}

// serverWire is what the server SDKs send: one JSON POST to /v1/batch.
var serverWire = wantWire{paths: []string{"/v1/batch"}, contentType: "application/json"}

// TestPythonSDKWire checks that Segment's Python SDK sends the scenario and
// documents how: one JSON POST (no gzip) to /v1/batch, the write key as
// both the basic-auth user and the body's writeKey, sentAt on the batch.
func TestPythonSDKWire(t *testing.T) {
	runWire(t, "python-wire", false, SendPython, serverWire)
}

// TestPythonSDKWireGzip checks the Python SDK's gzip option: the same
// batch, with Content-Encoding gzip.
func TestPythonSDKWireGzip(t *testing.T) {
	want := serverWire
	want.encoding = "gzip"
	runWire(t, "python-wire-gzip", true, SendPython, want)
}

// TestNodeSDKWire checks that Segment's Node SDK sends the scenario and
// documents how: the same wire form as the Python SDK's.
func TestNodeSDKWire(t *testing.T) {
	runWire(t, "node-wire", false, SendNode, serverWire)
}

// TestBrowserSDKWire checks that Segment's browser SDK, in headless
// Chromium, sends the scenario to the configured apiHost and documents
// how: one POST per call to /v1/p, /v1/t and /v1/i, text/plain JSON with
// basic auth and writeKey, a CORS preflight per path (the Authorization
// header makes the request non-simple), context.campaign parsed from the
// page URL's utm_ parameters.
func TestBrowserSDKWire(t *testing.T) {
	runWire(t, "browser-wire", false, SendBrowser,
		wantWire{paths: []string{"/v1/i", "/v1/p", "/v1/t"}, contentType: "text/plain", preflight: true, campaign: true})
}
