package clickhouse

import (
	"errors"
	"fmt"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// TestColumnExists: an ADD COLUMN refused because the column exists (as
// ClickHouse 18.16 and current releases say it, also wrapped) counts as
// applied; any other refusal, or that refusal of another statement, does
// not.
func TestColumnExists(t *testing.T) {
	add := "ALTER TABLE alert_states ADD COLUMN currency String DEFAULT ''"
	exists18 := &ch.Exception{Code: 44, Message: "Cannot add column currency: column with this name already exists"}
	existsNow := &ch.Exception{Code: 15, Message: "Cannot add column `currency`: column with this name already exists"}
	for _, tc := range []struct {
		name string
		stmt string
		err  error
		want bool
	}{
		{"18.16", add, exists18, true},
		{"current", add, existsNow, true},
		{"wrapped", add, fmt.Errorf("on the cluster: %w", existsNow), true},
		{"other code", add, &ch.Exception{Code: 62, Message: "Syntax error"}, false},
		{"illegal column otherwise", add, &ch.Exception{Code: 44, Message: "Column currency has wrong type"}, false},
		{"not clickhouse", add, errors.New("column with this name already exists"), false},
		{"not an add", "CREATE TABLE IF NOT EXISTS x (a String) ENGINE = MergeTree() ORDER BY a", existsNow, false},
	} {
		if got := columnExists(tc.stmt, tc.err); got != tc.want {
			t.Errorf("%s: columnExists = %v, want %v", tc.name, got, tc.want)
		}
	}
}
