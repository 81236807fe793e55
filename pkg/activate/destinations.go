// Package activate is the activation service: it consumes the segments
// service's changes topic in its own consumer group and delivers each change
// to the destinations of pipelines/destinations.yaml (webhooks, one POST per
// change, signed and with an idempotency key; Kafka topics, in transactions
// with the consumed offsets) and exports segment members as hashed audience
// files. What it has posted is recorded in ClickHouse (activation_deliveries)
// before its offsets are committed, so a restart or a replay delivers
// nothing twice; persons erased by `touchline forget` (activation_erasures)
// are never delivered again.
package activate

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/touchline-io/touchline/pkg/backoff"
	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/pipefile"
)

// DestinationsFile is the destinations file inside the pipelines directory.
const DestinationsFile = "destinations.yaml"

// The kinds of destination.
const (
	// Webhook posts every change of its segments as JSON.
	Webhook = "webhook"
	// AudienceFile writes the members of each of its segments to a CSV
	// file in a directory, every `every`.
	AudienceFile = "audience_file"
	// Kafka produces every change of its segments as JSON to its own topic,
	// exactly once: in one transaction with the consumed offsets.
	Kafka = "kafka"
)

// File is a destinations file: the service's settings and its
// destinations.
type File struct {
	// Group is the consumer group of the activate service on the changes
	// topic. Default touchline-activate.
	Group string `yaml:"group"`
	// MaxAttempts bounds the attempts to deliver one change to one webhook
	// (default 12); after the last, the change gets a dead-letter record
	// and the service goes on. With the default backoff the attempts span
	// about four minutes.
	MaxAttempts int `yaml:"max_attempts"`
	// Settings are the waits between attempts: default 500ms doubling up
	// to 30s, with jitter.
	backoff.Settings `yaml:",inline"`
	// Destinations are where the changes go.
	Destinations []Destination `yaml:"destinations"`
}

// Destination is one place segments are delivered to.
type Destination struct {
	// Name names the destination in idempotency keys, records and metrics;
	// keep it stable. Lower case letters, digits, '_', '-' and '.'.
	Name string `yaml:"name"`
	// Kind is webhook, audience_file or kafka.
	Kind string `yaml:"kind"`
	// Segments are the segments it receives (at least one).
	Segments []string `yaml:"segments"`
	// Identifiers are the identifier types of the person that go out:
	// SHA-256 hex of the normalised value (email_sha256, phone_sha256, ...),
	// unless the type is listed in ClearText. Default none.
	Identifiers []string `yaml:"identifiers"`
	// ClearText lists identifier types that go out as stored, not hashed.
	// Only types that ingest stores in clear text can be listed: emails and
	// phones hashed at ingest never exist in clear text downstream.
	ClearText []string `yaml:"clear_text"`
	// Features are the features of the change that go out; default none,
	// "*" for all.
	Features []string `yaml:"features"`

	// URL is where a webhook posts (http or https).
	URL string `yaml:"url"`
	// SecretEnv names the environment variable that holds the webhook's
	// HMAC-SHA256 signing secret (required for a webhook).
	SecretEnv string `yaml:"secret_env"`
	// Timeout bounds one POST. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Rate is the most POSTs per second to the destination. Default 50.
	Rate float64 `yaml:"rate"`
	// BatchSize is the most changes of one POST (1 to MaxBatchSize). Default
	// 1: one POST per change, its payload as the body. Above 1, the body is
	// a JSON array of payloads under one idempotency key (BatchKey).
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long the service waits for more changes to fill a
	// batch after the first change it holds: then it sends the batches it
	// has, the last one partial. Default 1s; used with a BatchSize above 1.
	BatchWait time.Duration `yaml:"batch_wait"`

	// Topic is the Kafka topic a kafka destination writes to, its own:
	// `touchline topics create` and the service create it like the others.
	Topic string `yaml:"topic"`

	// Directory is where an audience file is written.
	Directory string `yaml:"directory"`
	// Every is how often an audience file is written. Default 1h.
	Every time.Duration `yaml:"every"`

	// secret is the value of SecretEnv, read by LoadFile.
	secret []byte
	// line is the destination's line in its file.
	line int
}

// Secret returns the webhook's signing secret.
func (d Destination) Secret() []byte { return d.secret }

// Receives reports whether the destination receives segment's changes.
func (d Destination) Receives(segment string) bool {
	for _, s := range d.Segments {
		if s == segment {
			return true
		}
	}
	return false
}

// The bounds of a webhook's batches: the changes the service holds while
// it waits for a batch to fill are those of one poll at most, and they wait
// at most MaxBatchWait.
const (
	MaxBatchSize = pollRecords
	MaxBatchWait = time.Minute
)

// ErrConfig reports an invalid destinations file.
var ErrConfig = errors.New("invalid destinations")

// name is what a destination name may look like.
var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// defaults fills the unset settings of f with their defaults.
func (f *File) defaults() {
	if f.Group == "" {
		f.Group = "touchline-activate"
	}
	if f.MaxAttempts == 0 {
		f.MaxAttempts = 12
	}
	if f.RetryBackoff == 0 && f.RetryBackoffMax == 0 {
		f.Settings = backoff.Settings{RetryBackoff: 500 * time.Millisecond, RetryBackoffMax: 30 * time.Second}
	}
	for i := range f.Destinations {
		d := &f.Destinations[i]
		if d.Timeout == 0 {
			d.Timeout = 10 * time.Second
		}
		if d.Rate == 0 {
			d.Rate = 50
		}
		if d.BatchSize == 0 {
			d.BatchSize = 1
		}
		if d.BatchWait == 0 {
			d.BatchWait = time.Second
		}
		if d.Every == 0 {
			d.Every = time.Hour
		}
		for j, t := range d.Identifiers {
			d.Identifiers[j] = identifiers.NormalizeType(t)
		}
		for j, t := range d.ClearText {
			d.ClearText[j] = identifiers.NormalizeType(t)
		}
	}
}

// Rules are what LoadFile checks a file against: the segments that exist
// and the identifier types ingest hashes.
type Rules struct {
	// Segments are the names of the defined segments; nil checks none.
	Segments []string
	// Hashed are the identifier types ingest stores hashed.
	Hashed []string
	// Peppered is set when the identifiers' hashes are keyed (a pepper):
	// the stored hashes of emails and phones are then not the SHA-256 that
	// ad platforms match, and no destination may send them.
	Peppered bool
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

// LoadFile reads and checks a destinations file. A missing file is no
// destinations. Every error names the file, the line and the reason.
func LoadFile(path string, rules Rules) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		f := &File{}
		f.defaults()
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("destinations: %w", err)
	}
	return Parse(path, data, rules)
}

// Parse reads and checks a destinations file's content; file names it in
// errors.
func Parse(file string, data []byte, rules Rules) (*File, error) {
	f := &File{}
	root, err := pipefile.Document(file, data)
	if err != nil {
		return nil, err
	}
	if root != nil {
		if err := pipefile.Decode(file, root, "", f); err != nil {
			return nil, err
		}
	}
	f.defaults()
	lines := pipefile.KeyLines(root)
	var errs pipefile.List
	bad := func(key, format string, args ...any) {
		errs.Add(file, &pipefile.ConfigError{File: file, Line: lines[key], Reason: fmt.Sprintf(format, args...), Err: ErrConfig})
	}
	if f.MaxAttempts < 1 || f.MaxAttempts > 100 {
		bad("max_attempts", "max_attempts: %d, want 1 to 100", f.MaxAttempts)
	}
	if err := f.Validate(); err != nil {
		bad("retry_backoff", "%v", err)
	}
	getenv := rules.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	known := set(rules.Segments)
	hashed := set(rules.Hashed)
	seen := map[string]bool{}
	topics := map[string]string{} // topic -> its kafka destination
	for i := range f.Destinations {
		d := &f.Destinations[i]
		at := "destinations." + strconv.Itoa(i+1)
		d.line = lines[at]
		key := func(k string) string {
			if _, ok := lines[at+"."+k]; ok {
				return at + "." + k
			}
			return at
		}
		where := fmt.Sprintf("destination %q", d.Name)
		switch {
		case !name.MatchString(d.Name):
			bad(key("name"), "destination %d: name %q: want lower case letters, digits, '_', '-', '.'", i+1, d.Name)
		case seen[d.Name]:
			bad(key("name"), "%s: defined twice", where)
		}
		seen[d.Name] = true
		if len(d.Segments) == 0 {
			bad(key("segments"), "%s: segments: want at least one", where)
		}
		for _, s := range d.Segments {
			if rules.Segments != nil && !known[s] {
				bad(key("segments"), "%s: unknown segment %q", where, s)
			}
		}
		clear := set(d.ClearText)
		for _, t := range d.ClearText {
			if hashed[t] {
				bad(key("clear_text"), "%s: clear_text: %s is hashed at ingest and never exists in clear text downstream", where, t)
			}
		}
		for _, t := range d.Identifiers {
			if rules.Peppered && hashed[t] && !clear[t] {
				bad(key("identifiers"), "%s: identifiers: %s is hashed with identifiers.pepper (HMAC), which no ad platform can match; leave it out", where, t)
			}
		}
		if d.Rate < 0 {
			bad(key("rate"), "%s: rate: %g, want more than 0 per second", where, d.Rate)
		}
		switch d.Kind {
		case Webhook:
			u, err := url.Parse(d.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key("url"), "%s: url %q: want an http or https URL", where, d.URL)
			}
			if d.SecretEnv == "" {
				bad(key("secret_env"), "%s: secret_env: want the environment variable of the signing secret", where)
			} else if d.secret = []byte(getenv(d.SecretEnv)); len(d.secret) == 0 {
				bad(key("secret_env"), "%s: the environment variable %s of the signing secret is empty", where, d.SecretEnv)
			}
			if d.Timeout < 0 {
				bad(key("timeout"), "%s: timeout: want a positive duration", where)
			}
			if d.BatchSize < 1 || d.BatchSize > MaxBatchSize {
				bad(key("batch_size"), "%s: batch_size: %d, want 1 to %d", where, d.BatchSize, MaxBatchSize)
			}
			if d.BatchWait < 10*time.Millisecond || d.BatchWait > MaxBatchWait {
				bad(key("batch_wait"), "%s: batch_wait: %s, want 10ms to %s", where, d.BatchWait, MaxBatchWait)
			}
		case AudienceFile:
			if d.Directory == "" {
				bad(key("directory"), "%s: directory: want the directory the files are written to", where)
			}
			if d.Every < time.Second {
				bad(key("every"), "%s: every: %s, want at least 1s", where, d.Every)
			}
		case Kafka:
			switch {
			case !topicName.MatchString(d.Topic):
				bad(key("topic"), "%s: topic %q: want a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", where, d.Topic)
			case topics[d.Topic] != "":
				bad(key("topic"), "%s: topic %s is destination %q's already", where, d.Topic, topics[d.Topic])
			}
			topics[d.Topic] = d.Name
		default:
			bad(key("kind"), "%s: kind %q: want webhook, audience_file or kafka", where, d.Kind)
		}
	}
	return f, errs.Err()
}

// topicName is what a Kafka topic name may look like.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Topics returns the topics of the kafka destinations of the destinations
// file at path, without checking anything else: what `touchline topics
// create` creates. A missing file has none.
func Topics(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("destinations: %w", err)
	}
	root, err := pipefile.Document(path, data)
	if err != nil || root == nil {
		return nil, err
	}
	f := &File{}
	if err := pipefile.Decode(path, root, "", f); err != nil {
		return nil, err
	}
	return f.KafkaTopics(), nil
}

// KafkaTopics returns the topics of the kafka destinations.
func (f *File) KafkaTopics() []string {
	var out []string
	for _, d := range f.Destinations {
		if d.Kind == Kafka && d.Topic != "" && !slices.Contains(out, d.Topic) {
			out = append(out, d.Topic)
		}
	}
	return out
}

// CheckTopics returns an error when a kafka destination writes to one of
// topics (the service's own topics, which it must never write to).
func (f *File) CheckTopics(topics ...string) error {
	for _, d := range f.Destinations {
		if d.Kind == Kafka && slices.Contains(topics, d.Topic) {
			return fmt.Errorf("%w: %s:%d: destination %q: topic %s is one of touchline's own topics", ErrConfig, DestinationsFile, d.line, d.Name, d.Topic)
		}
	}
	return nil
}

// Destination returns the destination called name, or an error.
func (f *File) Destination(name string) (Destination, error) {
	for _, d := range f.Destinations {
		if d.Name == name {
			return d, nil
		}
	}
	return Destination{}, fmt.Errorf("no destination %q in %s", name, DestinationsFile)
}

// set returns the members of list as a set.
func set(list []string) map[string]bool {
	out := make(map[string]bool, len(list))
	for _, s := range list {
		out[s] = true
	}
	return out
}
