package activate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The headers of a webhook delivery.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body,
	// keyed with the destination's secret.
	SignatureHeader = "X-Touchline-Signature"
	// IdempotencyHeader carries the delivery's idempotency key.
	IdempotencyHeader = "Idempotency-Key"
)

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's signature under secret, in
// constant time: what a receiver runs.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// errPermanent marks an answer that a retry cannot change (a 4xx other
// than 408 and 429): the change goes to the dead letters at once.
var errPermanent = errors.New("refused")

// webhook posts deliveries to one destination, at most rate per second. It
// is safe for concurrent use.
type webhook struct {
	d      Destination
	client *http.Client
	limit  *limiter
}

// newWebhook returns the sender of destination d.
func newWebhook(d Destination) *webhook {
	return &webhook{d: d, client: &http.Client{Timeout: d.Timeout}, limit: newLimiter(d.Rate)}
}

// post sends the JSON of v once, under the idempotency key key. An error
// wrapping errPermanent is not worth a retry.
func (w *webhook) post(ctx context.Context, key string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encoding the delivery: %v", errPermanent, err)
	}
	if err := w.limit.wait(ctx); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.d.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(SignatureHeader, Sign(w.d.secret, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s answered %s", errPermanent, w.d.URL, resp.Status)
	}
	return fmt.Errorf("%s answered %s", w.d.URL, resp.Status)
}

// limiter spaces events at least 1/rate apart. It is safe for concurrent
// use.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// newLimiter returns a limiter of rate events per second.
func newLimiter(rate float64) *limiter {
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait waits until the next event may happen, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
