package identitycmd

import (
	"bytes"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/identity"
)

// TestPersonKeepsEachValueOnItsLine: identifier values and request ids come
// from producers and may hold newlines or tabs.
func TestPersonKeepsEachValueOnItsLine(t *testing.T) {
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err := printPerson(cmd, &identity.Person{PersonID: "p_1", FirstSeen: at,
		Identifiers: []identity.KnownIdentifier{{Type: "customer_id", Value: "c\n1\tx"}},
		Merges:      []identity.PersonMerge{{MergedPersonID: "p_2", SurvivingPersonID: "p_1", RequestID: "e\n2", MergedAt: at}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"  person            first seen\n" +
		"     p_1  2026-11-02T09:00:00Z\n" +
		"\n" +
		"           identifier\n" +
		"  customer_id:c\\n1\\tx\n" +
		"\n" +
		"  merged person  into  request                    at\n" +
		"            p_2   p_1     e\\n2  2026-11-02T09:00:00Z\n" +
		"\n" +
		"  refused links with  reason  request  at\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
