package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestIngestInstancesConvergeOnTheIdentityMap runs two ingest instances
// sharing the touchpoints partitions, each with its own local copy of the
// identity map, and the resolver. After persons are stitched, events that
// carry only an anonymous id are stored by either instance with the person
// the identity map gives that id, so both copies converged.
func TestIngestInstancesConvergeOnTheIdentityMap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	second := cfg
	second.StateDir = filepath.Join(t.TempDir(), "second")
	secondPath := filepath.Join(t.TempDir(), "second.yaml")
	if err := testenv.WriteConfig(second, secondPath); err != nil {
		t.Fatal(err)
	}
	log := logPath(t)
	startResolver(t, cfgPath, log)
	startIngest(t, cfgPath, log)
	startIngest(t, secondPath, log)

	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const persons = 200
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	send := func(id string, ids map[string]string) {
		t.Helper()
		if err := p.Touchpoint(ctx, &touchpoint.Touchpoint{EventID: id, EventType: "page_view", EventTime: at, Identifiers: touchpoint.AttrsOf(ids)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < persons; i++ { // device, then login, then the anonymous id on the device
		send(fmt.Sprintf("d%d", i), map[string]string{"device_id": fmt.Sprint("dev-", i)})
		send(fmt.Sprintf("l%d", i), map[string]string{"device_id": fmt.Sprint("dev-", i), "customer_id": fmt.Sprint("cust-", i)})
		send(fmt.Sprintf("a%d", i), map[string]string{"device_id": fmt.Sprint("dev-", i), "anonymous_id": fmt.Sprint("anon-", i)})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		done, err := kafka.GroupCaughtUp(ctx, adm, cfg.Identity.Group, cfg.Kafka.Topics.IdentityLinks)
		if err == nil && done {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the resolver did not apply the link requests")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Probe rounds until both local copies caught up with the map.
	for round := 0; ; round++ {
		for i := 0; i < persons; i++ {
			send(fmt.Sprintf("probe-%d-%d", round, i), map[string]string{"anonymous_id": fmt.Sprint("anon-", i)})
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var stored, matching uint64
		for {
			err := conn.QueryRow(ctx, `SELECT count(), countIf(t.person_id = m.person_id) FROM
(SELECT person_id, identifier_values[1] AS anon FROM touchpoints FINAL WHERE event_id LIKE ?) AS t
ANY LEFT JOIN (SELECT identifier_value AS anon, person_id FROM identity_map FINAL WHERE identifier_type = 'anonymous_id') AS m
USING anon`, fmt.Sprintf("probe-%d-%%", round)).Scan(&stored, &matching)
			if err != nil {
				t.Fatal(err)
			}
			if stored == persons || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if matching == persons {
			groups, err := adm.DescribeGroups(ctx, cfg.Ingest.Group)
			if err != nil {
				t.Fatal(err)
			}
			if members := len(groups[cfg.Ingest.Group].Members); members != 2 {
				t.Fatalf("the ingest group has %d members, want both instances", members)
			}
			t.Logf("both instances resolve every probe to its mapped person after %d round(s)", round+1)
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("round %d: %d of %d probes stored with the mapped person", round, matching, stored)
		}
		time.Sleep(time.Second)
	}
}
