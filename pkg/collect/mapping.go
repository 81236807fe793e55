package collect

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// MappingFile is the pipelines file that maps Segment calls and event names
// to touchline event types.
const MappingFile = "collect.yaml"

// Mapping maps Segment calls to touchline event types. A track event whose
// name is not in Track keeps its name as its type (custom events pass
// through).
type Mapping struct {
	// Track maps Segment track event names ("Order Completed") to event
	// types ("purchase").
	Track map[string]string `yaml:"track"`
	// Page, Screen, Identify, Alias and Group are the event types of those
	// calls.
	Page     string `yaml:"page"`
	Screen   string `yaml:"screen"`
	Identify string `yaml:"identify"`
	Alias    string `yaml:"alias"`
	Group    string `yaml:"group"`
	// Revenue names the properties read as the revenue, the first present
	// counting (Segment's e-commerce spec: revenue, then total).
	Revenue []string `yaml:"revenue"`
	// DefaultCurrency is the currency of a revenue sent without one
	// (Segment assumes USD).
	DefaultCurrency string `yaml:"default_currency"`
}

// DefaultMapping returns the mapping used when the pipelines directory has
// no collect.yaml: the one shipped in pipelines/collect.yaml.
func DefaultMapping() *Mapping {
	return &Mapping{
		Track: map[string]string{
			"Order Completed":          "purchase",
			"Order Refunded":           "refund",
			"Product Added":            "add_to_cart",
			"Checkout Started":         "checkout_start",
			"Signed Up":                "signup",
			"Signed In":                "login",
			"Application Opened":       "app_open",
			"Push Notification Tapped": "push_open",
			"Email Opened":             "email_open",
			"Email Link Clicked":       "email_click",
		},
		Page: "page_view", Screen: "screen_view", Identify: "identify", Alias: "alias", Group: "group",
		Revenue:         []string{"revenue", "total"},
		DefaultCurrency: "USD",
	}
}

// eventType is the syntax of a mapped event type.
var eventType = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// currencyCode is the syntax of an ISO 4217 code.
var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// LoadMapping reads the mapping file at path; a file that does not exist
// gives DefaultMapping. Every problem is reported with its line (a
// pipefile.List of *pipefile.ConfigError).
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultMapping(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the collect mapping: %w", err)
	}
	return ParseMapping(path, data)
}

// ParseMapping parses a mapping file's data; name is the file name used in
// errors. Keys absent from the file keep DefaultMapping's values, except
// track, which replaces the default list when present.
func ParseMapping(name string, data []byte) (*Mapping, error) {
	root, err := pipefile.Document(name, data)
	if err != nil {
		return nil, err
	}
	m := DefaultMapping()
	if root == nil {
		return m, nil
	}
	if _, ok := pipefile.KeyLines(root)["track"]; ok {
		m.Track = nil
	}
	var l pipefile.List
	l.Add(name, pipefile.Decode(name, root, "", m))
	lines := pipefile.KeyLines(root)
	bad := func(key, format string, args ...any) {
		line, ok := lines[key]
		if !ok {
			line = lines["track"]
		}
		l = append(l, &pipefile.ConfigError{File: name, Line: line, Reason: fmt.Sprintf(format, args...)})
	}
	for ev, typ := range m.Track {
		if !eventType.MatchString(typ) {
			bad(pipefile.Join("track", ev), "track: %q maps to %q, not an event type (lower case letters, digits and _)", ev, typ)
		}
	}
	for key, typ := range map[string]string{"page": m.Page, "screen": m.Screen, "identify": m.Identify, "alias": m.Alias, "group": m.Group} {
		if !eventType.MatchString(typ) {
			bad(key, "%s: %q is not an event type (lower case letters, digits and _)", key, typ)
		}
	}
	if len(m.Revenue) == 0 {
		bad("revenue", "revenue: names no property")
	}
	if !currencyCode.MatchString(m.DefaultCurrency) {
		bad("default_currency", "default_currency: %q is not an ISO 4217 code (three upper-case letters)", m.DefaultCurrency)
	}
	sort.Slice(l, func(i, j int) bool {
		a, b := l[i], l[j]
		return a.Line < b.Line || a.Line == b.Line && a.Reason < b.Reason
	})
	return m, l.Err()
}

// TrackType returns the event type of a track event named name.
func (m *Mapping) TrackType(name string) string {
	if t, ok := m.Track[name]; ok {
		return t
	}
	return name
}
