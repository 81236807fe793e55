package integration

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identity"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/identityref"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestIdentityResolverMatchesReference publishes thousands of random link
// requests (limit conflicts, blocked values, duplicates) while resolver
// processes are killed and replaced mid-stream, one taking over from
// another through the consumer group, and checks that the identity map
// topic and ClickHouse end in exactly the partition of identifiers that the
// reference union-find computes, with every stored person id resolving to
// its person through person_overrides.
func TestIdentityResolverMatchesReference(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cfg := s.Config(uniqueName(t))
	conn, err := testenv.Prepare(ctx, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl, err := kafka.NewClient(cfg.Kafka, nil, kgo.DefaultProduceTopic(cfg.Kafka.Topics.IdentityLinks))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cfgPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		t.Fatal(err)
	}
	log := logPath(t)
	start := func() *testenv.Process {
		p, err := testenv.StartProcess(touchlineBin, log, "identity", "--config", cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	rules := stitch.DefaultRules()
	ref := identityref.New(rules)
	reqs := identityref.Requests(rand.New(rand.NewPCG(42, 7)), 6000)
	for _, r := range reqs {
		ref.Apply(r)
	}
	publish := func(part []stitch.LinkRequest) {
		t.Helper()
		var records []*kgo.Record
		for _, r := range part {
			key, value := stitch.EncodeLinkRequest(r)
			if req, err := stitch.DecodeLinkRequest(value); err != nil || len(req.Identifiers) == 0 {
				continue // only blocked identifiers: a producer has nothing to ask
			}
			records = append(records, &kgo.Record{Key: key, Value: value})
		}
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	waitApplied := func() {
		t.Helper()
		for {
			done, err := kafka.GroupCaughtUp(ctx, adm, cfg.Identity.Group, cfg.Kafka.Topics.IdentityLinks)
			if err == nil && done {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the resolver did not apply every request: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	// waitLoads waits until processes have loaded the map n times: a
	// process loads it when it becomes the owner of the links partition.
	waitLoads := func(n int) {
		t.Helper()
		for {
			serviceLog, _ := os.ReadFile(log)
			if strings.Count(string(serviceLog), "identity map loaded") >= n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the map was not loaded %d times", n)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	chunk := len(reqs) / 4
	a := start()
	waitLoads(1)
	publish(reqs[:chunk])
	waitApplied()
	publish(reqs[chunk : 2*chunk])
	time.Sleep(100 * time.Millisecond)
	a.Kill() // mid-stream, without warning
	b := start()
	waitLoads(2) // b owns the partition once a's session expired
	standby := start()
	publish(reqs[2*chunk : 3*chunk])
	time.Sleep(100 * time.Millisecond)
	b.Kill() // the owner dies mid-stream; the standby takes over
	waitLoads(3)
	publish(reqs[3*chunk:])
	waitApplied()
	defer func() { _ = standby.Terminate(10 * time.Second) }()

	published := map[string]string{}
	if err := identity.ReadMap(ctx, cfg.Kafka, zap.NewNop(), func(x stitch.Assignment, present bool) {
		if present {
			published[string(stitch.MapKey(x.Identifier))] = x.Person
		} else {
			delete(published, string(stitch.MapKey(x.Identifier)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	want := ref.Partition()
	if got := identityref.Render(published); got != want {
		t.Fatalf("identity map topic differs from the reference:\n%s", identityref.FirstDiff(got, want))
	}

	stored := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT identifier_type, identifier_value, person_id FROM identity_map FINAL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, value, person string
		if err := rows.Scan(&typ, &value, &person); err != nil {
			t.Fatal(err)
		}
		stored[typ+":"+value] = person
	}
	rows.Close()
	if got := identityref.Render(stored); got != want {
		t.Fatalf("ClickHouse identity_map differs from the reference:\n%s", identityref.FirstDiff(got, want))
	}

	overrides := map[string]string{}
	rows, err = conn.Query(ctx, "SELECT person_id, surviving_person_id FROM person_overrides FINAL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			t.Fatal(err)
		}
		overrides[from] = to
	}
	rows.Close()
	for k, person := range published {
		x, _ := stitch.ParseMapKey([]byte(k))
		id := stitch.SingletonID(x)
		if to, ok := overrides[id]; ok {
			id = to
		}
		if id != person {
			t.Fatalf("events stored with %s's own person id resolve to %s, want %s", k, id, person)
		}
	}
	var refusals uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM identity_refusals FINAL WHERE conflicting_type = 'customer_id'").Scan(&refusals); err != nil {
		t.Fatal(err)
	}
	if refusals == 0 {
		t.Fatal("no refusal recorded: the requests did not exercise the customer_id limit")
	}
	t.Logf("%d requests, %d identifiers, %d overrides, %d refusals", len(reqs), len(published), len(overrides), refusals)
}
