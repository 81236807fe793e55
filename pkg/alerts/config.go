package alerts

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// Config configures the alerts service (the alerts section of
// touchline.yaml). The rules live in pipelines/alerts.yaml.
type Config struct {
	// Tick is how often the service looks for rules that are due (each
	// rule's `every`). Default 10s.
	Tick time.Duration `yaml:"tick"`
	// Webhooks receive every notification.
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// Topic, when true (the default), sends every notification to the
	// alerts topic (kafka.topics.alerts) as an Avro record.
	Topic bool `yaml:"topic"`
	// MaxAttempts bounds the attempts to deliver a notification to a sink
	// within one evaluation; what fails stays in the outbox and is tried
	// again at the next tick. Default 5.
	MaxAttempts int `yaml:"max_attempts"`
	// Settings bound the waits between retries of writes (retry_backoff,
	// doubling up to retry_backoff_max, with jitter). Defaults 500ms and 10s.
	backoff.Settings `yaml:",inline"`
}

// WebhookConfig is one webhook.
type WebhookConfig struct {
	// Name names the webhook in metrics and logs. Default webhook-N.
	Name string `yaml:"name"`
	// URL receives a POST per notification.
	URL string `yaml:"url"`
	// Format is json (the notification as is, the default) or slack (a
	// Slack incoming-webhook message).
	Format string `yaml:"format"`
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Headers are added to every request (e.g. Authorization).
	Headers map[string]string `yaml:"headers"`
}

// The webhook formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Tick: 10 * time.Second, Topic: true, MaxAttempts: 5, Settings: backoff.Settings{RetryBackoff: 500 * time.Millisecond, RetryBackoffMax: 10 * time.Second}}
}

// ErrConfig reports an invalid setting.
var ErrConfig = errors.New("invalid alerts config")

// Validate reports every invalid setting, each wrapping ErrConfig and
// naming its key (pipefile.Key).
func (c Config) Validate() error {
	ch := pipefile.NewChecks(ErrConfig)
	ch.Check(c.Tick < 100*time.Millisecond, "tick", "tick must be at least 100ms")
	ch.Check(c.MaxAttempts < 1, "max_attempts", "max_attempts must be at least 1")
	c.Settings.Check(ch)
	names := map[string]bool{}
	for i, w := range c.Webhooks {
		name, key := w.name(i), fmt.Sprintf("webhooks.%d.", i+1)
		ch.Check(names[name], key+"name", "webhook %d: duplicate name %q", i+1, name)
		names[name] = true
		u, err := url.Parse(w.URL)
		ch.Check(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "", key+"url", "webhook %s: url %q is not an http(s) URL", name, w.URL)
		ch.Check(w.Format != "" && w.Format != FormatJSON && w.Format != FormatSlack, key+"format", "webhook %s: format %q: want json or slack", name, w.Format)
		ch.Check(w.Timeout < 0, key+"timeout", "webhook %s: timeout is negative", name)
	}
	return ch.Err()
}

// name returns the name of the i-th webhook.
func (w WebhookConfig) name(i int) string {
	if w.Name != "" {
		return w.Name
	}
	return fmt.Sprintf("webhook-%d", i+1)
}
