package collect

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/touchline-io/touchline/pkg/avro"
)

// FuzzServe sends arbitrary bodies to every endpoint of the collector. It
// must answer 200, 400 or 413, never fail otherwise; and every touchpoint it
// hands on must pass ingest's checks again after its way through Kafka
// (encoded with the shipped schema, decoded as ingest decodes), with its
// event id and type unchanged and its time to the millisecond (the
// schema's precision), so that nothing the collector accepted becomes a
// dead letter.
func FuzzServe(f *testing.F) {
	for _, body := range segmentBodies(f) {
		f.Add(uint8(0), []byte(body))
	}
	f.Add(uint8(1), []byte(`{"messageId":"m","event":"Order Completed","userId":"u","properties":{"revenue":"1e400","currency":"eur"}}`))
	f.Add(uint8(2), []byte(`{"messageId":"m","anonymousId":"a","context":{"page":{"url":"/?gclid=x&utm_source=\u0000"}}}`))
	f.Add(uint8(3), []byte(`{"messageId":"m","userId":"u","traits":{"email":"JOSE\u0301@Example.com","phone":"+49 0030 901820"}}`))
	f.Add(uint8(5), []byte(`[{"event_id":"e","event_type":"page_view","event_time":"2026-11-30T10:00:00.123456789Z","identifiers":{"anonymous_id":"a"}}]`))
	paths := []string{"/v1/batch", "/v1/track", "/v1/page", "/v1/identify", "/v1/alias", "/v1/touchpoints"}
	send := &fakeSender{}
	s := newTestServer(f, send, nil)
	validate := ingestValidator(f)
	reg, err := avro.NewStaticRegistry()
	if err != nil {
		f.Fatal(err)
	}
	codecs, id := avro.NewCodecs(reg), avro.Latest(avro.KindTouchpoint).ID
	f.Fuzz(func(t *testing.T, path uint8, body []byte) {
		send.mu.Lock()
		send.got = nil
		send.mu.Unlock()
		w, _ := s.do(call{path: paths[int(path)%len(paths)], body: string(body), key: "wk_srv"})
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
		send.mu.Lock()
		defer send.mu.Unlock()
		for _, tp := range send.got {
			msg, err := codecs.EncodeTouchpoint(context.Background(), id, tp)
			if err != nil {
				t.Fatalf("accepted %+v, which does not encode: %v", tp, err)
			}
			back, err := codecs.DecodeTouchpoint(context.Background(), msg)
			if err != nil {
				t.Fatalf("accepted %+v, whose record does not decode: %v", tp, err)
			}
			if back.EventID != tp.EventID || back.EventType != tp.EventType || !back.EventTime.Equal(tp.EventTime.Truncate(time.Millisecond)) {
				t.Fatalf("accepted %+v, read back as %+v", tp, back)
			}
			if rej := validate(back, time.Now()); rej != nil {
				t.Fatalf("accepted %+v, which ingest refuses: %v", back, rej)
			}
		}
	})
}
