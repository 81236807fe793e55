package enrich

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// withV2 is the shipped schemas plus, under id 100, a later Touchpoint
// version that adds an optional field: a writer schema the fast path does
// not know.
type withV2 struct {
	*avro.StaticRegistry
	v2 string
}

func (r withV2) SchemaText(ctx context.Context, id int) (string, error) {
	if id == 100 {
		return r.v2, nil
	}
	return r.StaticRegistry.SchemaText(ctx, id)
}

// TestProcessorFastAndGeneralPathsAgree processes the same touchpoints
// written with the shipped schema (the fast path) and with a later version
// (goavro): every row, link request and rejection is the same.
func TestProcessorFastAndGeneralPathsAgree(t *testing.T) {
	p, _ := newProcessor(t)
	v2, err := os.ReadFile("../avro/testdata/touchpoint.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	static, err := avro.NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codecs := avro.NewCodecs(withV2{static, string(v2)})
	p.codecs = codecs
	ctx := context.Background()
	var ts []*touchpoint.Touchpoint
	gen, err := generate.New(generate.Config{Events: 300, Persons: 30, Days: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.Touchpoints(func(tp *touchpoint.Touchpoint) error { ts = append(ts, tp); return nil }); err != nil {
		t.Fatal(err)
	}
	huge := touchpoint.MaxAmount + 1
	for _, bad := range []func(*touchpoint.Touchpoint){
		func(tp *touchpoint.Touchpoint) { tp.EventType = "" },
		func(tp *touchpoint.Touchpoint) { tp.EventID = "" },
		func(tp *touchpoint.Touchpoint) { tp.PageURL = "https://x.example/\xc3" },
		func(tp *touchpoint.Touchpoint) { tp.Identifiers.Set("customer_id", "c\xff") },
		func(tp *touchpoint.Touchpoint) { tp.Revenue = &huge },
		func(tp *touchpoint.Touchpoint) { tp.Identifiers = touchpoint.AttrsOf(map[string]string{}) },
		func(tp *touchpoint.Touchpoint) { tp.EventType = "cl\xffick" },
		func(tp *touchpoint.Touchpoint) { tp.Properties = touchpoint.AttrsOf(map[string]string{"s\xc3ku": "x"}) },
		func(tp *touchpoint.Touchpoint) {
			tp.Properties = touchpoint.AttrsOf(map[string]string{"sku": "\xed\xa0\x80"})
		},
		func(tp *touchpoint.Touchpoint) { tp.Context = &touchpoint.Context{Country: "D\x80"} },
		func(tp *touchpoint.Touchpoint) { neg := touchpoint.Money(-1); tp.Revenue = &neg },
	} {
		tp := *ts[0]
		tp.Identifiers = touchpoint.AttrsOf(map[string]string{"customer_id": "c"})
		bad(&tp)
		ts = append(ts, &tp)
	}
	rejected := 0
	for i, tp := range ts {
		shipped, err := codecs.EncodeTouchpoint(ctx, 1, tp)
		if err != nil {
			t.Fatal(err)
		}
		native := tp.ToAvro()
		native["consent"] = map[string]any{"string": "granted"}
		later, err := codecs.Encode(ctx, 100, native)
		if err != nil {
			t.Fatal(err)
		}
		outcome := func(b []byte) string {
			out := new(Touchpoint)
			_, rej, err := p.Touchpoint(ctx, &kgo.Record{Partition: 2, Offset: int64(i), Value: b}, out)
			switch {
			case err != nil:
				t.Fatal(err)
			case rej != nil:
				return fmt.Sprintf("rejected %s: %v", rej.Reason, rej.Err)
			}
			out.Row.IngestedAt = time.Time{}
			return fmt.Sprintf("%+v %+v", out.Row, out.Link)
		}
		fast, general := outcome(shipped), outcome(later)
		if fast != general {
			t.Fatalf("touchpoint %d:\nfast path    %s\ngeneral path %s", i, fast, general)
		}
		if strings.HasPrefix(fast, "rejected") {
			rejected++
		}
	}
	if rejected < 11 {
		t.Fatalf("only %d touchpoints rejected", rejected)
	}
}
