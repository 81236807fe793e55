package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/test/clients"
	"github.com/touchline-io/touchline/test/testenv"
)

// clientsWriteKey is the write key the client tests configure and send.
const clientsWriteKey = "wk_clients"

// startClientsPipeline runs identity, ingest and the collector as processes
// on the test's own topics and database and returns the collector's URL and
// a ClickHouse connection; ackTimeout, when not zero, is the collector's
// collect.ack_timeout.
func startClientsPipeline(ctx context.Context, t *testing.T, ackTimeout time.Duration) (string, driver.Conn) {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, conn, cfgPath := setup(ctx, t, 1, func(c *config.Config) {
		c.Collect.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		c.Collect.WriteKeys = []collect.WriteKey{{Key: clientsWriteKey, Source: "clients_test", Origins: []string{"*"}}}
		if ackTimeout > 0 {
			c.Collect.AckTimeout = ackTimeout
		}
	})
	log := logPath(t)
	startResolver(t, cfgPath, log)
	startIngest(t, cfgPath, log)
	return testenv.StartCollect(t, cfgPath, log), conn
}

// clientRow is one scenario event as touchpoints_resolved shows it.
type clientRow struct {
	EventType, Channel string
	Revenue            int64
	Person             string
}

// wantClientRows is the hand-computed result of a scenario: by messageId,
// its event type, channel and revenue in micro-units. pageOnly is true
// for the server SDKs, whose tracks carry no page context, so only the
// page view has the email campaign's UTM parameters (the others are
// direct); the browser SDK puts the page's campaign on every event.
func wantClientRows(s clients.Scenario, pageOnly bool) map[string]clientRow {
	other := "email"
	if pageOnly {
		other = "direct"
	}
	return map[string]clientRow{
		s.MessageIDs.Page:           {EventType: "page_view", Channel: "email"},
		s.MessageIDs.ProductAdded:   {EventType: "add_to_cart", Channel: other},
		s.MessageIDs.Identify:       {EventType: "identify", Channel: other},
		s.MessageIDs.OrderCompleted: {EventType: "purchase", Channel: other, Revenue: 42_250_000},
	}
}

// checkClientRows waits until ClickHouse shows want's events, all resolved
// to one person, and compares them.
func checkClientRows(ctx context.Context, t *testing.T, conn driver.Conn, want map[string]clientRow) {
	t.Helper()
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	query := `SELECT event_id, event_type, channel, revenue, resolved_person_id FROM touchpoints_resolved WHERE has(?, event_id)`
	var got map[string]clientRow
	var persons map[string]bool
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		rows, err := conn.Query(ctx, query, ids)
		if err != nil {
			t.Fatalf("querying the scenario's events: %v", err)
		}
		got, persons = map[string]clientRow{}, map[string]bool{}
		for rows.Next() {
			var id string
			var r clientRow
			if err := rows.Scan(&id, &r.EventType, &r.Channel, &r.Revenue, &r.Person); err != nil {
				t.Fatalf("reading the scenario's events: %v", err)
			}
			persons[r.Person] = true
			r.Person = ""
			got[id] = r
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("reading the scenario's events: %v", err)
		}
		if len(got) == len(want) && len(persons) == 1 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("event %s: got %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != len(want) || len(persons) != 1 {
		t.Errorf("%d events resolved to %d persons %v, want %d events of one person", len(got), len(persons), keys(persons), len(want))
	}
}

// keys lists a set's members.
func keys(set map[string]bool) string {
	var list []string
	for k := range set {
		list = append(list, k)
	}
	return strings.Join(list, ", ")
}

// runClient runs one client's scenario through the whole pipeline and
// checks the rows. send sends the scenario and returns it as sent.
func runClient(t *testing.T, pageOnly bool, send func(context.Context, clients.Scenario) (clients.Scenario, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base, conn := startClientsPipeline(ctx, t, 0)
	s, err := send(ctx, clients.NewScenario(uniqueName(t), base, clientsWriteKey))
	clients.Require(t, err)
	checkClientRows(ctx, t, conn, wantClientRows(s, pageOnly))
}

// TestCollectorPythonSDK sends identify, page, "Product Added" and
// "Order Completed" with Segment's Python SDK to the collector and finds
// them in ClickHouse with their event types, channels and revenue, and
// one person across the anonymous and the identified events.
func TestCollectorPythonSDK(t *testing.T) {
	runClient(t, true, clients.SendPython)
}

// TestCollectorNodeSDK is TestCollectorPythonSDK with Segment's Node SDK.
func TestCollectorNodeSDK(t *testing.T) {
	runClient(t, true, clients.SendNode)
}

// TestCollectorBrowserSDK is TestCollectorPythonSDK with Segment's
// browser SDK in headless Chromium, on a test page whose URL carries the
// UTM parameters.
func TestCollectorBrowserSDK(t *testing.T) {
	runClient(t, false, clients.SendBrowser)
}

// TestCollectorPythonSDKThroughAKafkaOutage sends the scenario with
// Segment's Python SDK while the broker is stopped (SIGSTOP) for 30 s:
// the collector answers 503 after its 3 s ack_timeout, never 200, so the
// SDK retries with its own backoff until the broker is back. Every event
// then arrives once: the SDK's retries and any earlier attempt that
// reached Kafka after all collapse on the event id.
func TestCollectorPythonSDKThroughAKafkaOutage(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base, conn := startClientsPipeline(ctx, t, 3*time.Second)
	scenario := clients.NewScenario(uniqueName(t), base, clientsWriteKey)
	scenario.MaxRetries = 20
	pausedAt := pause(t, s.Kafka)
	sent := make(chan error, 1)
	go func() {
		var err error
		scenario, err = clients.SendPython(ctx, scenario)
		sent <- err
	}()
	select {
	case err := <-sent:
		t.Fatalf("the SDK finished while the broker was stopped (%v): the collector accepted what Kafka had not", err)
	case <-time.After(time.Until(pausedAt.Add(30 * time.Second))):
	}
	if err := s.Kafka.Resume(); err != nil {
		t.Fatal(err)
	}
	clients.Require(t, <-sent)
	want := wantClientRows(scenario, true)
	checkClientRows(ctx, t, conn, want)
	ids := []string{scenario.MessageIDs.Page, scenario.MessageIDs.ProductAdded, scenario.MessageIDs.Identify, scenario.MessageIDs.OrderCompleted}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM touchpoints_resolved WHERE has(?, event_id)", ids).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(len(want)) {
		t.Errorf("%d rows of the scenario's %d events: a retry was counted twice", rows, len(want))
	}
}
