package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docSQL matches the SQL blocks of docs/analytics.md with the command that
// prints them: <!-- sql: query ... --> then a ```sql block.
var docSQL = regexp.MustCompile("(?s)<!-- sql: ([^>]*) -->\n```sql\n(.*?)\n```")

// TestAnalyticsDocsShowTheShippedSQL keeps docs/analytics.md true: every
// SQL block is what its command prints with --sql.
func TestAnalyticsDocsShowTheShippedSQL(t *testing.T) {
	doc, err := os.ReadFile("../../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := docSQL.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d SQL blocks, want one per analysis", len(blocks))
	}
	for _, b := range blocks {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(append(strings.Fields(b[1]), "--sql", "--pipelines", "../../pipelines"))
		if err := root.Execute(); err != nil {
			t.Fatalf("touchline %s: %v", b[1], err)
		}
		if got := strings.TrimSuffix(out.String(), "\n"); got != b[2] {
			t.Errorf("docs/analytics.md shows for `touchline %s --sql`:\n%s\nbut it prints:\n%s", b[1], b[2], got)
		}
	}
}
