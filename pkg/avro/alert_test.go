package avro

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// alertV1 returns a native Alert record with the fields of version 1.
func alertV1() map[string]any {
	at := time.Date(2026, 4, 16, 0, 0, 0, 0, time.UTC)
	return map[string]any{
		"idempotency_key": "i-1:firing", "incident": "i-1", "status": "firing", "rule": "big-day",
		"description": nil, "kpi": "revenue", "severity": "warning",
		"channel": map[string]any{"string": "web"}, "campaign": nil,
		"value": 240.0, "reference": 220.0, "score": 0.0,
		"window_start": at.Add(-24 * time.Hour), "window_end": at, "at": at,
		"labels": map[string]any{}, "message": "revenue 240",
	}
}

// TestAlertVersionsReadEachOther: version 2 of the Alert record adds an
// optional currency, so each version reads the other's records. A reader
// of version 2 reads a version 1 record with no currency (the default); a
// reader that knows only version 1's fields reads a version 2 record,
// decoded with its writer's schema from the registry, with every field it
// knows unchanged.
func TestAlertVersionsReadEachOther(t *testing.T) {
	var v1, v2 Shipped
	for _, s := range ShippedSchemas {
		if s.Kind == KindAlert && s.Version == 1 {
			v1 = s
		}
		if s.Kind == KindAlert && s.Version == 2 {
			v2 = s
		}
	}
	if v1.ID == 0 || v2.ID == 0 || Latest(KindAlert) != v2 {
		t.Fatalf("shipped alert schemas v1 %+v, v2 %+v, latest %+v", v1, v2, Latest(KindAlert))
	}
	a, _ := v1.Text()
	b, _ := v2.Text()
	if err := checkBackwardCompatible(a, b); err != nil {
		t.Errorf("a v2 reader of v1 records: %v", err)
	}
	if err := checkBackwardCompatible(b, a); err != nil {
		t.Errorf("a v1 reader of v2 records: %v", err)
	}

	reg, err := NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCodecs(reg)
	ctx := context.Background()
	old, err := c.Encode(ctx, v1.ID, alertV1())
	if err != nil {
		t.Fatal(err)
	}
	_, native, err := c.Decode(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := native["currency"]; ok && got != nil {
		t.Errorf("a v1 record has currency %v", got)
	}

	rec := alertV1()
	rec["currency"] = map[string]any{"string": "USD"}
	b2, err := c.Encode(ctx, v2.ID, rec)
	if err != nil {
		t.Fatal(err)
	}
	if b2[4] != byte(v2.ID) {
		t.Fatalf("header % x, want schema id %d", b2[:5], v2.ID)
	}
	_, native, err = c.Decode(ctx, b2)
	if err != nil {
		t.Fatal(err)
	}
	if native["currency"].(map[string]any)["string"] != "USD" {
		t.Errorf("currency %v, want USD", native["currency"])
	}
	want := alertV1()
	for k := range want {
		if !reflect.DeepEqual(native[k], want[k]) {
			t.Errorf("v2 record: %s = %#v, want %#v as in v1", k, native[k], want[k])
		}
	}
}
