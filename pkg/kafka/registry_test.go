package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// fakeRegistry serves the two Schema Registry calls touchline makes:
// registering a schema under a subject and fetching a schema by id.
type fakeRegistry struct {
	mu      sync.Mutex
	schemas []string
	auth    string
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, p, _ := r.BasicAuth(); u+":"+p != f.auth {
		http.Error(w, `{"error_code":401,"message":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
		var body struct{ Schema string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		id := 0
		for i, s := range f.schemas {
			if s == body.Schema {
				id = i + 101
			}
		}
		if id == 0 {
			f.schemas = append(f.schemas, body.Schema)
			id = len(f.schemas) + 100
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"id": id})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/schemas/ids/"))
		if id <= 100 || id > 100+len(f.schemas) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": f.schemas[id-101]})
	default:
		http.NotFound(w, r)
	}
}

func TestSchemaRegistry(t *testing.T) {
	fake := &fakeRegistry{auth: "u:p"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.SchemaRegistry = SchemaRegistryConfig{URL: srv.URL, User: "u", Password: "p"}
	reg, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	text, _ := avro.Latest(avro.KindTouchpoint).Text()
	id, err := reg.Register(ctx, "touchline.touchpoints-value", text)
	if err != nil || id != 101 {
		t.Fatalf("register: id %d, %v", id, err)
	}
	codecs := avro.NewCodecs(reg)
	tp := &touchpoint.Touchpoint{EventID: "e", EventType: "click", Identifiers: touchpoint.AttrsOf(map[string]string{"device_id": "d"})}
	b, err := codecs.Encode(ctx, id, tp.ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	gotID, native, err := avro.NewCodecs(reg).Decode(ctx, b)
	if err != nil || gotID != 101 || native["event_id"] != "e" {
		t.Fatalf("decode through the registry: %d %v %v", gotID, native["event_id"], err)
	}
	if _, _, err := codecs.Decode(ctx, append(avro.AppendHeader(nil, 999), b[5:]...)); !errors.Is(err, avro.ErrUnknownSchema) {
		t.Fatalf("unknown id: %v, want ErrUnknownSchema", err)
	}
	cfg.SchemaRegistry.Password = "wrong"
	bad, _ := NewRegistry(cfg)
	if _, err := bad.SchemaText(ctx, 101); err == nil || errors.Is(err, avro.ErrUnknownSchema) {
		t.Fatalf("a registry refusing credentials must be a retryable error, got %v", err)
	}
}
