// Package docsql finds the SQL examples of touchline's documentation, every
// ```sql block of README.md and docs/*.md, for the tests that check and run
// them.
package docsql

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Block is one SQL example.
type Block struct {
	// File is the document's path relative to the repository root.
	File string
	// Line is the 1-based line of the block's opening fence.
	Line int
	// SQL is the statement, dedented, without a trailing semicolon.
	SQL string
}

// String names the block by its place, as file:line.
func (b Block) String() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

// Blocks returns the SQL examples of README.md and docs/*.md under root, the
// repository root, in file and line order.
func Blocks(root string) ([]Block, error) {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	var out []Block
	for _, path := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the SQL examples: %w", err)
		}
		rel, _ := filepath.Rel(root, path)
		blocks, err := parse(rel, string(data))
		if err != nil {
			return nil, err
		}
		out = append(out, blocks...)
	}
	return out, nil
}

// parse returns the ```sql blocks of the Markdown text of file, indented or
// not (a block in a list item is indented as the item).
func parse(file, text string) ([]Block, error) {
	var out []Block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sql" {
			continue
		}
		indent := strings.Index(lines[i], "`")
		b := Block{File: file, Line: i + 1}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			body = append(body, l[min(indent, len(l)-len(strings.TrimLeft(l, " "))):])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: the SQL block is not closed", b)
		}
		b.SQL = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
		out = append(out, b)
	}
	return out, nil
}

var (
	// rawRead matches a read of touchpoints or spend: it must be FINAL.
	rawRead = regexp.MustCompile(`(?i)\bFROM\s+(touchpoints|spend)\b(\s+FINAL\b)?`)
	// personID matches a use of a stored person id.
	personID = regexp.MustCompile(`\bperson_id\b`)
)

// Problems lists why the SQL of b may change under a replay: a read of
// touchpoints or spend without FINAL (a replayed row counts twice until
// ClickHouse merges), or a stored person_id that is not resolved through
// person_overrides or touchpoints_resolved (a replay after an identity merge
// rewrites it).
func (b Block) Problems() []string {
	var out []string
	for _, m := range rawRead.FindAllStringSubmatch(b.SQL, -1) {
		if m[2] == "" {
			out = append(out, fmt.Sprintf("%s: reads %s without FINAL", b, m[1]))
		}
	}
	if personID.MatchString(b.SQL) && !strings.Contains(b.SQL, "person_overrides") && !strings.Contains(b.SQL, "touchpoints_resolved") {
		out = append(out, fmt.Sprintf("%s: uses person_id without resolving it (join person_overrides or read touchpoints_resolved's resolved_person_id)", b))
	}
	return out
}
