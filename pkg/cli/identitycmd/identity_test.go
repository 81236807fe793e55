package identitycmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/resolver"
)

// TestPersonKeepsEachValueOnItsLine: identifier values and request ids come
// from producers and may hold newlines or tabs.
func TestPersonKeepsEachValueOnItsLine(t *testing.T) {
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err := printPerson(cmd, &resolver.Person{PersonID: "p_1", FirstSeen: at,
		Identifiers: []resolver.KnownIdentifier{{Type: "customer_id", Value: "c\n1\tx"}},
		Merges:      []resolver.PersonMerge{{MergedPersonID: "p_2", SurvivingPersonID: "p_1", RequestID: "e\n2", MergedAt: at}}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 11 || lines[4] != `customer_id:c\n1\tx` || !strings.Contains(lines[7], `e\n2`) {
		t.Errorf("%d lines:\n%s", len(lines), out.String())
	}
}
