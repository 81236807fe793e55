package docsql

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsSQLResolvesPersons: the README's example counted
// uniqExact(person_id), which a replay after identity merges changed
// (2,001 became 1,776). Every example must read FINAL and resolve persons.
func TestDocsSQLResolvesPersons(t *testing.T) {
	blocks, err := Blocks(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, b := range blocks {
		files[b.File] = true
		for _, p := range b.Problems() {
			t.Error(p)
		}
	}
	if len(blocks) < 7 || !files["README.md"] || !files[filepath.Join("docs", "analytics.md")] || !files[filepath.Join("docs", "segments.md")] {
		t.Errorf("found %d SQL examples in %v", len(blocks), files)
	}
}

func TestProblems(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT uniqExact(person_id) FROM touchpoints FINAL":                   "uses person_id without resolving it",
		"SELECT count() FROM touchpoints WHERE 1":                              "reads touchpoints without FINAL",
		"SELECT sum(cost) FROM spend":                                          "reads spend without FINAL",
		"SELECT uniqExact(resolved_person_id) FROM touchpoints_resolved":       "",
		"SELECT count() FROM touchpoints FINAL, (SELECT 1 FROM spend final)":   "",
		"SELECT person_id FROM segment_members ANY LEFT JOIN person_overrides": "",
	} {
		got := strings.Join(Block{File: "x.md", Line: 3, SQL: sql}.Problems(), "; ")
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", sql, got, want)
		}
	}
}

func TestParseIndentedBlocks(t *testing.T) {
	blocks, err := parse("d.md", "text\n- item\n\n  ```sql\n  SELECT 1\n    + 2;\n  ```\n```sql\nSELECT 3\n```\n```go\nx\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].SQL != "SELECT 1\n  + 2" || blocks[0].Line != 4 || blocks[1].SQL != "SELECT 3" || blocks[1].String() != "d.md:8" {
		t.Errorf("%+v", blocks)
	}
	if _, err := parse("d.md", "```sql\nSELECT 1\n"); err == nil {
		t.Error("an unclosed block passed")
	}
}
