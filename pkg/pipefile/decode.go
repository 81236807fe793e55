package pipefile

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// List is the errors of one or more files, in the order they were found.
// It unwraps to its errors, so errors.As finds the first *ConfigError.
type List []*ConfigError

// Error prints one error a line.
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors of the list.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Add appends err to the list: the errors of a List or of errors.Join one
// by one, a *ConfigError as is, and any other error as a *ConfigError of
// file without a line. A nil err adds nothing.
func (l *List) Add(file string, err error) {
	for _, e := range Flatten(err) {
		ce, ok := e.(*ConfigError)
		if !ok {
			ce = &ConfigError{File: file, Reason: e.Error()}
		}
		*l = append(*l, ce)
	}
}

// Flatten returns the errors err joins (errors.Join, List), recursively,
// or err alone, or nothing for nil.
func Flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	switch {
	case err == nil:
		return nil
	case !ok:
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Flatten(e)...)
	}
	return out
}

// Err returns the list as an error, or nil when it is empty. The errors
// of each file come in the order of their lines; the files keep their
// order.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	order := map[string]int{}
	for _, e := range l {
		if _, ok := order[e.File]; !ok {
			order[e.File] = len(order)
		}
	}
	sort.SliceStable(l, func(i, j int) bool {
		if fi, fj := order[l[i].File], order[l[j].File]; fi != fj {
			return fi < fj
		}
		return l[i].Line < l[j].Line
	})
	return l
}

// Decode decodes mapping node n of file into the struct v points to, the
// way yaml.v3 does, and also: a key v has no field for is an error at the
// key's line, a time.Duration takes ParseDuration's 1d and 2w, and every
// error of the node is reported (as a List), not only the first. What can
// be decoded is, even when other keys have errors. path
// prefixes the keys in errors ("kafka" gives "kafka.brokerz").
func Decode(file string, n *yaml.Node, path string, v any) error {
	w := walker{file: file, paths: map[int]string{}}
	w.walk(Deref(n), reflect.TypeOf(v).Elem(), path)
	l := w.errs
	if err := n.Decode(v); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return List{lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))}
		}
		for _, msg := range te.Errors {
			ce := lineError(file, msg)
			if p := w.paths[ce.Line]; p != "" {
				ce.Reason = p + ": " + ce.Reason
			}
			l = append(l, ce)
		}
	}
	return l.Err()
}

// lineError turns one of yaml.v3's "line N: reason" messages into a
// *ConfigError.
func lineError(file, msg string) *ConfigError {
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, reason, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				return &ConfigError{File: file, Line: line, Reason: reason}
			}
		}
	}
	return &ConfigError{File: file, Reason: msg}
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// walker checks a YAML tree against a Go type.
type walker struct {
	file string
	errs List
	// paths holds the key path of the deepest value that starts each
	// line (the first of siblings), to name
	// the key in yaml.v3's errors, which give only the line.
	paths map[int]string
}

// walk checks node n against type t, collecting unknown keys and bad
// durations, and rewrites the durations ParseDuration reads into
// time.ParseDuration's spelling for yaml.v3.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	n = Deref(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || n.Tag == "!!null" || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	if old, seen := w.paths[n.Line]; path != "" && (!seen || strings.HasPrefix(path, old+".")) {
		w.paths[n.Line] = path
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return // yaml.v3 reports the wrong kind
		}
		d, err := ParseDuration(n.Value)
		if err != nil {
			w.errs = append(w.errs, &ConfigError{File: w.file, Line: n.Line, Reason: fmt.Sprintf("%s: %v", path, err)})
			d = 0 // reported: decode the rest of the file without a second error here
		}
		n.Value, n.Tag, n.Style = d.String(), "!!str", 0
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := Deref(n.Content[i])
			f, ok := fields[k.Value]
			if !ok {
				w.errs = append(w.errs, &ConfigError{File: w.file, Line: k.Line, Reason: fmt.Sprintf("%s: unknown key", Join(path, k.Value))})
				continue
			}
			w.walk(n.Content[i+1], f, Join(path, k.Value))
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			w.walk(item, t.Elem(), Join(path, strconv.Itoa(i+1)))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), Join(path, Deref(n.Content[i]).Value))
		}
	}
}

// yamlFields maps the YAML keys of struct type t, inlined structs included,
// to their field types, following yaml.v3's rules for names.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// Join joins a dotted key path and a key below it.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// KeyLines returns the line of every mapping key under n, by its dotted
// path ("kafka.topics.dead_letter"; items of a list count from 1:
// "alerts.webhooks.2.url").
func KeyLines(n *yaml.Node) map[string]int {
	out := map[string]int{}
	var visit func(n *yaml.Node, path string)
	visit = func(n *yaml.Node, path string) {
		n = Deref(n)
		switch {
		case n == nil:
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			visit(n.Content[0], path)
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := Join(path, Deref(n.Content[i]).Value)
				if _, dup := out[k]; !dup {
					out[k] = n.Content[i].Line
				}
				visit(n.Content[i+1], k)
			}
		case n.Kind == yaml.SequenceNode:
			for i, item := range n.Content {
				k := Join(path, strconv.Itoa(i+1))
				out[k] = Deref(item).Line
				visit(item, k)
			}
		}
	}
	visit(n, "")
	return out
}
