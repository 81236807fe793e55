package collect

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Sender delivers touchpoints to Kafka and returns only once all of them
// are acknowledged, or with an error (ctx ending among them). The
// touchpoints, and the strings in them, are reused by the collector once
// TouchpointsSync has returned: a Sender that keeps anything of them must
// copy it first (encoding them as Kafka records does).
type Sender interface {
	TouchpointsSync(ctx context.Context, ts []*touchpoint.Touchpoint) error
}

// Validator validates a touchpoint at the time now as the ingest service
// does: nil, or the rejection ingest would dead-letter it with.
type Validator func(t *touchpoint.Touchpoint, now time.Time) *enrich.Rejection

// Server answers the collector's API. It is safe for concurrent use.
type Server struct {
	cfg      Config
	convert  Converter
	validate Validator
	send     Sender
	metrics  *Metrics
	log      *zap.Logger
	keys     map[string]*key
	origins  map[string]bool // every key's origins, for preflights
	anyOrig  bool
	now      func() time.Time

	mu       sync.Mutex
	inflight int64 // bytes reserved by the requests being handled
}

// key is a write key and its rate limiter.
type key struct {
	WriteKey
	origins map[string]bool
	mu      sync.Mutex
	tokens  float64
	last    time.Time
}

// NewServer returns the collector's API for cfg, converting Segment calls
// with mapping, validating with validate and delivering through send.
func NewServer(cfg Config, mapping *Mapping, validate Validator, send Sender, metrics *Metrics, log *zap.Logger) *Server {
	s := &Server{cfg: cfg, convert: Converter{Mapping: mapping, IP: cfg.IP}, validate: validate, send: send,
		metrics: metrics, log: log, keys: map[string]*key{}, origins: map[string]bool{}, now: time.Now}
	for _, wk := range cfg.WriteKeys {
		k := &key{WriteKey: wk, origins: map[string]bool{}, tokens: wk.RatePerSecond}
		for _, o := range wk.Origins {
			o = strings.TrimSuffix(o, "/")
			k.origins[o] = true
			s.origins[o] = true
			s.anyOrig = s.anyOrig || o == "*"
		}
		s.keys[wk.Key] = k
	}
	return s
}

// Endpoints maps the API's paths to the Segment call they take ("" for
// touchline's own form, "batch" for a batch). The one-letter paths are
// those of Segment's browser SDK (analytics-next), which posts to the
// first letter of the call's type.
var Endpoints = map[string]string{
	"/v1/track": "track", "/v1/t": "track",
	"/v1/page": "page", "/v1/p": "page",
	"/v1/screen": "screen", "/v1/s": "screen",
	"/v1/identify": "identify", "/v1/i": "identify",
	"/v1/alias": "alias", "/v1/a": "alias",
	"/v1/group": "group", "/v1/g": "group",
	"/v1/batch": "batch", "/v1/b": "batch", "/v1/import": "batch",
	"/v1/touchpoints": "",
}

// Register adds the API's endpoints to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for path := range Endpoints {
		mux.Handle(path, s)
	}
}

// Rejected is a record of a request that was refused, with the reason and
// error the dead-letter topic would carry.
type Rejected struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Response is the body of every answer.
type Response struct {
	Success  bool       `json:"success"`
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected,omitempty"`
	// Reason and Error say why a request, or its one record, was refused.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// httpError is an answer other than 200.
type httpError struct {
	status     int
	reason     string
	err        error
	retryAfter time.Duration
}

func (e *httpError) Error() string { return e.err.Error() }

func fail(status int, reason string, format string, args ...any) *httpError {
	return &httpError{status: status, reason: reason, err: fmt.Errorf(format, args...)}
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	endpoint := r.URL.Path
	call, ok := Endpoints[endpoint]
	if !ok {
		http.NotFound(w, r)
		return
	}
	status := s.serve(w, r, call)
	s.metrics.observe(endpoint, status, s.now().Sub(start))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, call string) int {
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions {
		return s.preflight(w, r, origin)
	}
	if origin != "" && (s.anyOrig || s.origins[origin]) {
		// Refusals too must be readable by the page; the key's own
		// origins are checked below.
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
	}
	space := scratches.Get().(*scratch)
	defer scratches.Put(space) // once answered: nothing of the request is used after
	resp, herr := s.handle(r, call, origin, space)
	if herr != nil {
		if herr.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(herr.retryAfter.Seconds()))))
		}
		resp.Success, resp.Reason, resp.Error = false, herr.reason, herr.err.Error()
		if herr.status >= 500 && herr.reason != ReasonOverloaded { // the metrics count those
			s.log.Warn("request failed", zap.String("path", r.URL.Path), zap.Error(herr.err))
		}
		return writeJSON(w, herr.status, resp)
	}
	resp.Success = true
	return writeJSON(w, http.StatusOK, resp)
}

// preflight answers a browser's CORS preflight: allowed when some key
// allows the origin (the request itself is checked against its key).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, origin string) int {
	if origin == "" || !(s.anyOrig || s.origins[origin]) {
		w.WriteHeader(http.StatusForbidden)
		return http.StatusForbidden
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Max-Age", "86400")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone
	return status
}

// Reasons of refused requests (records refused by validation carry
// validation's reasons).
const (
	ReasonMethod       = "method_not_allowed"
	ReasonContentType  = "unsupported_content_type"
	ReasonTooLarge     = "body_too_large"
	ReasonMalformed    = "malformed_json"
	ReasonWriteKey     = "invalid_write_key"
	ReasonOrigin       = "origin_not_allowed"
	ReasonRateLimited  = "rate_limited"
	ReasonUnavailable  = "kafka_unavailable"
	ReasonOverloaded   = "overloaded"
	ReasonBatchTooLong = "batch_too_long"
)

// handle reads, checks, converts and delivers a request's records.
func (s *Server) handle(r *http.Request, call, origin string, w *scratch) (Response, *httpError) {
	var resp Response
	if r.Method != http.MethodPost {
		return resp, fail(http.StatusMethodNotAllowed, ReasonMethod, "%s: only POST is allowed", r.Method)
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return resp, err
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return resp, tooLarge(s.cfg.MaxBodyBytes)
	}
	n := s.reservation(r)
	if !s.reserve(n) {
		herr := fail(http.StatusServiceUnavailable, ReasonOverloaded, "the requests being handled hold collect.max_inflight_bytes (%d bytes); retry", s.cfg.MaxInflightBytes)
		herr.retryAfter = time.Second
		return resp, herr
	}
	defer s.reserve(-n)
	body, herr := s.readBody(r, w)
	if herr != nil {
		return resp, herr
	}
	rcv := Received{At: s.now().UTC(), IP: clientIP(r), Tolerance: s.cfg.ClockSkew, seen: &seen{}}
	recs, bodyKey, herr := s.decode(body, call, &rcv, w)
	if herr != nil {
		return resp, herr
	}
	k, herr := s.authorize(r, bodyKey, origin)
	if herr != nil {
		return resp, herr
	}
	rcv.Source = k.Source
	if len(recs) > s.cfg.MaxBatchRecords {
		return resp, fail(http.StatusRequestEntityTooLarge, ReasonBatchTooLong, "%d records, the limit is %d", len(recs), s.cfg.MaxBatchRecords)
	}
	if wait := k.take(len(recs), s.now()); wait > 0 {
		herr := fail(http.StatusTooManyRequests, ReasonRateLimited, "write key of source %s is over its %g records per second", k.Source, k.RatePerSecond)
		herr.retryAfter = wait
		return resp, herr
	}
	good := make([]*touchpoint.Touchpoint, 0, len(recs))
	w.touchpoints(len(recs))
	for i, rec := range recs {
		t, err := rec.touchpoint(&s.convert, rcv, w.touchpoint(i))
		var rej *enrich.Rejection
		if err != nil {
			rej = asRejection(err)
		} else {
			rej = s.validate(t, rcv.At) // one clock reading for the request
		}
		if rej != nil {
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Reason: string(rej.Reason), Error: rej.Err.Error()})
			continue
		}
		good = append(good, t)
	}
	s.metrics.count("rejected", len(resp.Rejected))
	if len(good) == 0 && len(resp.Rejected) > 0 {
		if call != "batch" && len(recs) == 1 {
			rej := resp.Rejected[0]
			return Response{}, &httpError{status: http.StatusBadRequest, reason: rej.Reason, err: errors.New(rej.Error)}
		}
		return resp, fail(http.StatusBadRequest, resp.Rejected[0].Reason, "all %d records were refused", len(recs))
	}
	if len(good) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.AckTimeout)
		err := s.send.TouchpointsSync(ctx, good)
		cancel()
		if err != nil {
			s.metrics.count("failed", len(good))
			herr := fail(http.StatusServiceUnavailable, ReasonUnavailable, "records not acknowledged by Kafka, retry: %v", err)
			herr.retryAfter = time.Second
			return Response{Rejected: resp.Rejected}, herr
		}
	}
	s.metrics.count("accepted", len(good))
	resp.Accepted = len(good)
	return resp, nil
}

// asRejection turns a conversion error into the rejection validation would
// give.
func asRejection(err error) *enrich.Rejection {
	var ve *touchpoint.ValidationError
	if errors.As(err, &ve) {
		return &enrich.Rejection{Reason: ve.Reason, Err: err}
	}
	return &enrich.Rejection{Reason: touchpoint.ReasonInvalidField, Err: err}
}

// checkContentType accepts JSON, and text/plain, which Segment's browser
// SDK sends to spare a CORS preflight.
func checkContentType(ct string) *httpError {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "text/plain") {
		return nil
	}
	return fail(http.StatusUnsupportedMediaType, ReasonContentType, "content type %q: send application/json (or text/plain)", ct)
}

// reservation is what a request counts against MaxInflightBytes: its
// Content-Length, or MaxBodyBytes when its length is unknown or gzipped
// (what it decompresses to).
func (s *Server) reservation(r *http.Request) int64 {
	if r.ContentLength < 0 || r.Header.Get("Content-Encoding") != "" {
		return s.cfg.MaxBodyBytes
	}
	return r.ContentLength
}

// reserve adds n bytes to those in flight, unless that would take them over
// MaxInflightBytes; a negative n releases them.
func (s *Server) reserve(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 && s.inflight+n > s.cfg.MaxInflightBytes {
		return false
	}
	s.inflight += n
	s.metrics.inflight.Set(float64(s.inflight))
	return true
}

// tooLarge is the answer to a body over max bytes.
func tooLarge(max int64) *httpError {
	return fail(http.StatusRequestEntityTooLarge, ReasonTooLarge, "the body is larger than %d bytes", max)
}

// readBody reads the body, gunzipping it when it says so, up to
// MaxBodyBytes before and after decompression. A body of known length
// (at most MaxBodyBytes, which handle checked) is read into a buffer of
// its size from w, rather than one grown while reading.
func (s *Server) readBody(r *http.Request, w *scratch) ([]byte, *httpError) {
	max := s.cfg.MaxBodyBytes
	over := tooLarge(max)
	var raw []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= max {
		raw = w.bodyOf(int(n))
		_, err = io.ReadFull(r.Body, raw)
	} else {
		raw, err = io.ReadAll(io.LimitReader(r.Body, max+1))
	}
	if err != nil {
		return nil, fail(http.StatusBadRequest, ReasonMalformed, "reading the body: %v", err)
	}
	if int64(len(raw)) > max {
		return nil, over
	}
	s.metrics.bytes.Add(float64(len(raw)))
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fail(http.StatusBadRequest, ReasonMalformed, "the gzip body: %v", err)
		}
		body, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, fail(http.StatusBadRequest, ReasonMalformed, "the gzip body: %v", err)
		}
		if int64(len(body)) > max {
			return nil, over
		}
		return body, nil
	default:
		return nil, fail(http.StatusUnsupportedMediaType, ReasonContentType, "content encoding %q: send gzip or none", enc)
	}
}

// record is one record of a request: a Segment message or a touchpoint in
// touchline's JSON form.
type record struct {
	raw     string
	msg     *Message
	tp      *touchpoint.Touchpoint
	decoded error
}

// touchpoint is the record's touchpoint; a Segment message is converted
// into empty, which must be empty but may have empty room for identifiers
// and properties and an empty context.
func (rec record) touchpoint(c *Converter, rcv Received, empty *touchpoint.Touchpoint) (*touchpoint.Touchpoint, error) {
	switch {
	case rec.decoded != nil:
		return nil, rec.decoded
	case rec.tp != nil:
		if rcv.Source != "" {
			rec.tp.Properties.Add("source", rcv.Source)
		}
		return rec.tp, nil
	default:
		return c.fill(empty, rec.msg, rec.raw, rcv)
	}
}

// batchHeader is what a batch call's body carries besides its messages.
type batchHeader struct {
	SentAt   string `json:"sentAt"`
	WriteKey string `json:"writeKey"`
}

// decode reads the records of body for call, and the write key the body
// carries. A body that is not JSON of the right shape is refused whole; a
// record of a batch that is not a message is refused alone.
func (s *Server) decode(body []byte, call string, rcv *Received, w *scratch) ([]record, string, *httpError) {
	malformed := func(err error) *httpError {
		return fail(http.StatusBadRequest, ReasonMalformed, "invalid JSON: %v", err)
	}
	switch call {
	case "":
		trimmed := bytes.TrimSpace(body)
		array := len(trimmed) > 0 && trimmed[0] == '['
		var raws []json.RawMessage
		if array {
			if err := strictJSON(trimmed, &raws); err != nil {
				return nil, "", malformed(err)
			}
		} else {
			raws = []json.RawMessage{trimmed}
		}
		recs := make([]record, len(raws))
		for i, raw := range raws {
			t := &touchpoint.Touchpoint{}
			if err := strictJSON(raw, t); err != nil {
				if !array { // an empty body included
					return nil, "", malformed(err)
				}
				recs[i].decoded = refusal(touchpoint.ReasonInvalidField, "record", "invalid JSON: %v", err)
				continue
			}
			recs[i].tp = t
		}
		return recs, "", nil
	case "batch":
		recs, b, err := w.decodeBatch(text(body))
		if err != nil {
			return nil, "", malformed(err)
		}
		rcv.SentAt = b.SentAt
		return recs, b.WriteKey, nil
	default:
		rec := messageRecord(text(body), call)
		if rec.decoded != nil {
			return nil, "", malformed(errors.Unwrap(rec.decoded))
		}
		return []record{rec}, rec.msg.WriteKey, nil
	}
}

// text is body as a string, without a copy: nothing writes to a body
// read until its request is answered (its scratch is not reused before),
// so the string, and the strings of the messages that are slices of it,
// do not change while they are used.
func text(body []byte) string {
	return unsafe.String(unsafe.SliceData(body), len(body))
}

// messageRecord decodes one Segment message; call, when not empty, is its
// type (the endpoint's).
func messageRecord(raw string, call string) record {
	m, err := decodeMessage(raw)
	if err != nil {
		return badMessage(err)
	}
	if call != "" {
		m.Type = call
	}
	return record{raw: raw, msg: m}
}

// badMessage is a message that is not JSON of a message's shape, refused
// with err.
func badMessage(err error) record {
	return record{decoded: fmt.Errorf("%w", refusal(touchpoint.ReasonInvalidField, "message", "invalid JSON: %v", err))}
}

// strictJSON decodes exactly one JSON value of data into v, numbers as
// json.Number, refusing unknown fields: a touchpoint (touchline's own
// form) may carry no field it does not have.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// authorize finds the write key of the request (the basic-auth user, else
// the body's writeKey) and checks the browser origin against it.
func (s *Server) authorize(r *http.Request, bodyKey, origin string) (*key, *httpError) {
	wk, _, ok := r.BasicAuth()
	if !ok || wk == "" {
		wk = bodyKey
	}
	k := s.keys[wk]
	if k == nil {
		if wk == "" {
			return nil, fail(http.StatusUnauthorized, ReasonWriteKey, "no write key: send it as the basic-auth user or as writeKey")
		}
		return nil, fail(http.StatusUnauthorized, ReasonWriteKey, "unknown write key")
	}
	if origin != "" && !k.origins["*"] && !k.origins[origin] {
		return nil, fail(http.StatusForbidden, ReasonOrigin, "origin %s is not allowed for source %s", origin, k.Source)
	}
	return k, nil
}

// take takes n records from the key's budget at now, or says how long to
// wait for them. Up to one second of the rate accumulates; a request of
// more records than that goes when the budget is full, and leaves it in
// debt.
func (k *key) take(n int, now time.Time) time.Duration {
	if k.RatePerSecond <= 0 {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.last.IsZero() {
		k.tokens = math.Min(k.RatePerSecond, k.tokens+now.Sub(k.last).Seconds()*k.RatePerSecond)
	}
	k.last = now
	need := math.Min(float64(n), k.RatePerSecond)
	if k.tokens < need {
		return time.Duration((need - k.tokens) / k.RatePerSecond * float64(time.Second))
	}
	k.tokens -= float64(n)
	return 0
}

// clientIP is the address the request came from.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
