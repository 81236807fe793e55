package identity

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/kafka"
)

// TestForgetSuppressesAndLiftRestores applies link requests, a forget and
// a lift to the resolver as they come from the links topic: the forget
// puts map tombstones and hashed suppressions for every identifier of the
// person; a request carrying one of them afterwards (as an offset reset
// replays it) maps nothing, not even its other identifier; the lift
// removes every suppression of that forget, after which the identifiers
// are mapped again.
// resolverService is a Service with a fresh resolver and no Kafka or
// ClickHouse, and apply, which hands it requests as records of the links
// topic at offsets 0, 1, ..., returning what each writes and its offset.
func resolverService(t *testing.T) (s *Service, apply func(stitch.LinkRequest) (*writes, int64)) {
	s = &Service{kcfg: kafka.DefaultConfig(), m: NewMetrics(prometheus.NewRegistry()), log: zap.NewNop(),
		res: stitch.NewResolver(stitch.DefaultRules()), sup: NewSuppressions()}
	offset := int64(0)
	return s, func(req stitch.LinkRequest) (*writes, int64) {
		t.Helper()
		_, value := stitch.EncodeLinkRequest(req)
		w := &writes{}
		s.apply(&kgo.Record{Value: value, Offset: offset}, w)
		offset++
		return w, offset - 1
	}
}

func TestForgetSuppressesAndLiftRestores(t *testing.T) {
	s, applyAt := resolverService(t)
	kcfg := s.kcfg
	anon, cust := identifiers.Identifier{Type: "anonymous_id", Value: "anon-x"}, identifiers.Identifier{Type: "customer_id", Value: "cust-x"}
	other := identifiers.Identifier{Type: "anonymous_id", Value: "anon-new"}
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	apply := func(req stitch.LinkRequest) *writes {
		t.Helper()
		w, _ := applyAt(req)
		return w
	}
	topics := func(w *writes) (mapped, suppressed map[string][]byte) {
		mapped, suppressed = map[string][]byte{}, map[string][]byte{}
		for _, r := range w.records {
			if r.Topic == kcfg.Topics.Suppressions() {
				suppressed[string(r.Key)] = r.Value
			} else {
				mapped[string(r.Key)] = r.Value
			}
		}
		return mapped, suppressed
	}
	link := stitch.LinkRequest{ID: "e1", Identifiers: []identifiers.Identifier{anon, cust}, At: at}
	if mapped, _ := topics(apply(link)); len(mapped) != 2 {
		t.Fatalf("the link mapped %v", mapped)
	}

	mapped, suppressed := topics(apply(stitch.LinkRequest{ID: "forget-1", Identifiers: []identifiers.Identifier{cust}, At: at, Forget: true}))
	if len(mapped) != 2 || mapped["anonymous_id:anon-x"] != nil || mapped["customer_id:cust-x"] != nil {
		t.Errorf("the forget put %v on the map topic, want a tombstone for each identifier", mapped)
	}
	for _, id := range []identifiers.Identifier{anon, cust} {
		v, ok := suppressed[stitch.SuppressionKey(id)]
		if sup, err := stitch.DecodeSuppression(v); !ok || err != nil || sup.Request != "forget-1" {
			t.Errorf("suppression of %s: %q (%v)", id.Value, v, err)
		}
	}
	for k, v := range suppressed {
		if bytes.Contains([]byte(k), []byte("x")) || bytes.Contains(v, []byte("anon-x")) || bytes.Contains(v, []byte("cust-x")) {
			t.Errorf("the suppression %s=%s names an identifier in clear", k, v)
		}
	}

	// The link request again, as a replay brings it, a new event of the
	// person with an identifier never seen, and the forget request again:
	// nothing is written.
	for _, req := range []stitch.LinkRequest{link, {ID: "e2", Identifiers: []identifiers.Identifier{anon, other}, At: at},
		{ID: "forget-1", Identifiers: []identifiers.Identifier{cust}, At: at, Forget: true}} {
		if w := apply(req); len(w.records) != 0 || len(w.mapRows) != 0 {
			t.Errorf("request %s of an erased person wrote %d records, %d rows", req.ID, len(w.records), len(w.mapRows))
		}
	}
	if _, _, _, ok := s.res.Person(other); ok {
		t.Errorf("the new identifier of an erased person was mapped")
	}

	_, lifted := topics(apply(stitch.LinkRequest{ID: "lift-1", Identifiers: []identifiers.Identifier{anon}, At: at, Forget: true, Lift: true}))
	if len(lifted) != 2 || lifted[stitch.SuppressionKey(cust)] != nil || lifted[stitch.SuppressionKey(anon)] != nil {
		t.Errorf("the lift wrote %v, want a tombstone for both suppressions of forget-1", lifted)
	}
	if mapped, _ := topics(apply(link)); len(mapped) != 2 {
		t.Errorf("after the lift the link mapped %v", mapped)
	}
}

// TestSuppressionsApply: a suppression, its tombstone, and invalid values.
func TestSuppressionsApply(t *testing.T) {
	s := NewSuppressions()
	email := identifiers.Identifier{Type: "email", Value: "0f1e"}
	key := stitch.SuppressionKey(email)
	if s.Suppressed([]identifiers.Identifier{email}) {
		t.Fatal("an empty list suppresses")
	}
	if err := s.Apply(key, []byte(`{"at": 1}`)); err == nil {
		t.Error("a suppression without its request was accepted")
	}
	if err := s.Apply(key, stitch.EncodeSuppression(stitch.Suppression{Request: "r", At: time.Now()})); err != nil {
		t.Fatal(err)
	}
	if !s.Suppressed([]identifiers.Identifier{{Type: "phone", Value: "x"}, email}) || s.Len() != 1 {
		t.Error("the suppressed email is not suppressed")
	}
	if s.Suppressed([]identifiers.Identifier{{Type: "customer_id", Value: "0f1e"}}) {
		t.Error("the same value of another type is suppressed")
	}
	if err := s.Apply(key, nil); err != nil || s.Suppressed([]identifiers.Identifier{email}) {
		t.Errorf("a tombstone did not lift the suppression (%v)", err)
	}
	var none *Suppressions
	if none.Suppressed([]identifiers.Identifier{email}) {
		t.Error("a nil list suppresses")
	}
}

// TestSuppressionsReportAStalledFollower: fetch errors make the list
// report an error only once they have lasted stallAfter, and a clean poll
// clears it.
func TestSuppressionsReportAStalledFollower(t *testing.T) {
	s := NewSuppressions()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	broker := errors.New("broker down")
	s.noteFetch(broker, t0)
	s.noteFetch(broker, t0.Add(5*time.Second)) // still failing: keeps its start
	if err := s.errAt(t0.Add(stallAfter - time.Millisecond)); err != nil {
		t.Errorf("a short failure is reported: %v", err)
	}
	if err := s.errAt(t0.Add(stallAfter)); !errors.Is(err, broker) {
		t.Errorf("a failure of %s is reported as %v", stallAfter, err)
	}
	s.noteFetch(nil, t0.Add(stallAfter+time.Second))
	if err := s.errAt(t0.Add(time.Hour)); err != nil {
		t.Errorf("after a clean poll: %v", err)
	}
}

// TestAMergeOfManyIdentifiersKeepsTheVersionsInOrder merges a person of
// 70,001 identifiers, more than the versions one request spaces, with a new
// identifier, which the request first maps to a person of its own and then,
// as that person is merged too, to the survivor. Every row it writes must
// rank below every row of the next request, and the new identifier's
// second row above its first.
func TestAMergeOfManyIdentifiersKeepsTheVersionsInOrder(t *testing.T) {
	_, apply := resolverService(t)
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	anon := func(v string) identifiers.Identifier { return identifiers.Identifier{Type: "anonymous_id", Value: v} }
	survivor, anchor, fresh := anon("survivor"), anon("anchor"), anon("fresh")
	apply(stitch.LinkRequest{ID: "s", Identifiers: []identifiers.Identifier{survivor}, At: at})
	for part := range 2 { // one person of the anchor and 70,000 more, in two requests
		ids := []identifiers.Identifier{anchor}
		for i := range 35_000 {
			ids = append(ids, anon(fmt.Sprintf("a-%d-%d", part, i)))
		}
		apply(stitch.LinkRequest{ID: fmt.Sprint("part-", part), Identifiers: ids, At: at.Add(time.Hour)})
	}
	w, offset := apply(stitch.LinkRequest{ID: "merge", Identifiers: []identifiers.Identifier{survivor, anchor, fresh}, At: at.Add(2 * time.Hour)})
	if len(w.mapRows) < versionsPerRequest || len(w.overrides) < versionsPerRequest {
		t.Fatalf("%d map rows and %d overrides, want more than %d each", len(w.mapRows), len(w.overrides), versionsPerRequest)
	}
	next := uint64(offset+2) * versionsPerRequest // where the next request's versions start
	var versions []uint64
	for _, r := range w.mapRows {
		versions = append(versions, r.Version)
	}
	for _, r := range w.overrides {
		versions = append(versions, r.Version)
	}
	for _, r := range w.merges {
		versions = append(versions, r.Version)
	}
	for _, v := range versions {
		if v >= next {
			t.Fatalf("a row of version %d, not below the next request's first, %d", v, next)
		}
	}
	var freshRows []uint64
	for _, r := range w.mapRows {
		if r.IdentifierValue == "fresh" {
			freshRows = append(freshRows, r.Version)
			if len(freshRows) == 2 && r.PersonID != stitch.SingletonID(survivor) {
				t.Errorf("the new identifier's second row names %s, want the survivor", r.PersonID)
			}
		}
	}
	if len(freshRows) != 2 || freshRows[1] <= freshRows[0] {
		t.Errorf("the new identifier's rows have versions %v, want two, rising", freshRows)
	}
}
