// Package pipefile is touchline's kit for its configuration files, the
// declarative files of the pipelines directory and touchline.yaml: YAML
// nodes whose errors name the file, the line of the key or value they are
// about and the reason (ConfigError), all the errors of a file collected
// (List), durations with days and weeks (ParseDuration), decoding into Go
// structs with unknown keys refused (Decode), and the collected,
// key-named checks of a configuration section (Checks).
package pipefile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError is an error in a configuration or pipelines file, with its
// place: the one file:line error type of touchline.
type ConfigError struct {
	// File is the path or name of the file.
	File string
	// Line is the 1-based line of the offending YAML node, or 0 when the
	// error has no line (for example an unreadable YAML stream).
	Line int
	// Reason says what is wrong, e.g. `rule 7: unknown channel "emial"`.
	Reason string
	// Err is the error the reason describes, when there is one: errors.Is
	// and errors.As see through the file and line to it.
	Err error
}

// Unwrap returns the error the reason describes, or nil.
func (e *ConfigError) Unwrap() error { return e.Err }

// Error formats the error as file:line: reason (file: reason without a
// line, the reason alone without a file).
func (e *ConfigError) Error() string {
	switch {
	case e.File == "":
		return e.Reason
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return e.File + ": " + e.Reason
}

// Errorf returns a *ConfigError for file and line.
func Errorf(file string, line int, format string, args ...any) error {
	return &ConfigError{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// yamlLine extracts the line of yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// Document parses data, the content of file, and returns its root node with
// aliases resolved, or nil for an empty document. A syntax error is a
// *ConfigError with the line of the problem.
func Document(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			// yaml.v3 numbers the lines of its parser errors ("did not
			// find expected ...") from 0 and those of its scanner errors
			// from 1.
			if strings.HasPrefix(m[2], "did not find expected") {
				line++
			}
			return nil, Errorf(file, line, "%s", m[2])
		}
		return nil, Errorf(file, 0, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return Deref(doc.Content[0]), nil
}

// Deref follows a YAML alias to the node it names.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Pairs returns the key and value nodes of mapping node n (aliases
// resolved), refusing other kinds, keys that are not strings and duplicate
// keys with a *ConfigError of file; what names n in errors ("top level",
// "type 2").
func Pairs(file string, n *yaml.Node, what string) ([][2]*yaml.Node, error) {
	return Mapping(file, n, what, "a mapping")
}

// Mapping is Pairs with what n should be in its error ("a mapping with id,
// description and aliases").
func Mapping(file string, n *yaml.Node, what, want string) ([][2]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, Errorf(file, n.Line, "%s: want %s, got %s", what, want, KindName(n))
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Deref(n.Content[i]), Deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, Errorf(file, k.Line, "%s: keys must be strings", what)
		}
		if first, dup := seen[k.Value]; dup {
			return nil, Errorf(file, k.Line, "%s: duplicate key %q (first on line %d)", what, k.Value, first)
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out, nil
}

// KindName describes node n in errors: "a mapping", "a list", "nothing" or
// the quoted scalar.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}
