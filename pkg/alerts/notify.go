package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/avro"
)

// Sink delivers notifications somewhere.
type Sink interface {
	// Name names the sink in outboxes, metrics and logs; it must stay the
	// same across restarts.
	Name() string
	// Send delivers n once (one attempt). Receivers see n.Key with every
	// attempt, so a repeated delivery can be recognised.
	Send(ctx context.Context, n *rules.Notification) error
}

// Webhook posts notifications to a URL as JSON, in touchline's shape or
// Slack's. Every request carries the Idempotency-Key header.
type Webhook struct {
	cfg    WebhookConfig
	name   string
	client *http.Client
}

// NewWebhooks returns the webhooks of cfg.
func NewWebhooks(cfg Config) []*Webhook {
	out := make([]*Webhook, len(cfg.Webhooks))
	for i, w := range cfg.Webhooks {
		timeout := w.Timeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		out[i] = &Webhook{cfg: w, name: w.name(i), client: &http.Client{Timeout: timeout}}
	}
	return out
}

// Name implements Sink.
func (w *Webhook) Name() string { return w.name }

// Send implements Sink: any answer but 2xx is a failure.
func (w *Webhook) Send(ctx context.Context, n *rules.Notification) error {
	var body any = n
	if w.cfg.Format == FormatSlack {
		body = slackMessage(n)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding notification %s: %w", n.Key, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.Key)
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", w.name, resp.Status)
	}
	return nil
}

// slackMessage renders n as a Slack incoming-webhook message.
func slackMessage(n *rules.Notification) map[string]any {
	color := map[string]string{"critical": "danger", "warning": "warning", "info": "#439FE0"}[n.Severity]
	if n.Status == Resolved {
		color = "good"
	}
	value := fmt.Sprintf("%.4g", n.Value)
	if n.Currency != "" {
		value += " " + n.Currency
	}
	fields := []map[string]any{
		{"title": "KPI", "value": string(n.KPI), "short": true},
		{"title": "Value", "value": value, "short": true},
		{"title": "Severity", "value": n.Severity, "short": true},
		{"title": "Window", "value": describe(windowOf(n)), "short": false},
	}
	return map[string]any{
		"text": fmt.Sprintf("[%s] %s", upper(n.Status), n.Message),
		"attachments": []map[string]any{{
			"color": color, "title": n.Rule, "text": n.Description, "fields": fields,
			"footer": "touchline alerts · " + n.Key, "ts": n.At.Unix(),
		}},
	}
}

func upper(status string) string {
	if status == Resolved {
		return "RESOLVED"
	}
	return "FIRING"
}

// Topic produces notifications to the alerts topic as Alert records
// (schemas/avro/alert.v2.avsc, the latest version), keyed by incident.
type Topic struct {
	cl     *kgo.Client
	topic  string
	codecs *avro.Codecs
	id     int
}

// NewTopic returns the sink of topic, producing through cl. With a Schema
// Registry the alert schema is registered under <topic>-value.
func NewTopic(ctx context.Context, cl *kgo.Client, reg avro.Registry, topic string) (*Topic, error) {
	id, err := avro.RegisterLatest(ctx, reg, avro.KindAlert, topic)
	if err != nil {
		return nil, err
	}
	return &Topic{cl: cl, topic: topic, codecs: avro.NewCodecs(reg), id: id}, nil
}

// Name implements Sink.
func (t *Topic) Name() string { return "topic" }

// Send implements Sink.
func (t *Topic) Send(ctx context.Context, n *rules.Notification) error {
	b, err := t.codecs.Encode(ctx, t.id, avroOf(n))
	if err != nil {
		return err
	}
	rec := &kgo.Record{Topic: t.topic, Key: []byte(n.Incident), Value: b,
		Headers: []kgo.RecordHeader{{Key: "idempotency_key", Value: []byte(n.Key)}}}
	return t.cl.ProduceSync(ctx, rec).FirstErr()
}

// avro returns n as a native Alert record.
func avroOf(n *rules.Notification) map[string]any {
	optional := func(s string) any {
		if s == "" {
			return nil
		}
		return map[string]any{"string": s}
	}
	labels := map[string]any{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	return map[string]any{
		"idempotency_key": n.Key, "incident": n.Incident, "status": n.Status, "rule": n.Rule,
		"description": optional(n.Description), "kpi": string(n.KPI), "severity": n.Severity,
		"channel": optional(n.Channel), "campaign": optional(n.Campaign),
		"value": n.Value, "reference": n.Reference, "score": n.Score,
		"window_start": n.WindowStart, "window_end": n.WindowEnd, "at": n.At,
		"labels": labels, "message": n.Message, "currency": optional(n.Currency),
	}
}
