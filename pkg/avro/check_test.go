package avro

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// bomb is a 42-byte touchpoint (Confluent wire format, schema id 1) whose
// identifiers map claims 2,147,483,647 entries.
const bomb = "00000000010c626f6d622d31f0adc3afc76812706167655f76696577000000000000000000feffffff0f"

func bombBytes(t testing.TB) []byte {
	b, err := hex.DecodeString(bomb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shippedCodecs(t testing.TB) *Codecs {
	reg, err := NewStaticRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return NewCodecs(reg)
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeRecordClaimingTwoBillionMapEntriesIsCorrupt(t *testing.T) {
	c := shippedCodecs(t)
	b := bombBytes(t)
	if len(b) != 42 {
		t.Fatalf("the record has %d bytes, want 42", len(b))
	}
	var err error
	n := allocated(func() { _, _, err = c.Decode(context.Background(), b) })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "map claims 2147483647 items") {
		t.Fatalf("Decode = %v, want ErrCorrupt naming the map's claim", err)
	}
	if n > 1<<20 {
		t.Fatalf("decoding a 42-byte record allocated %d bytes", n)
	}
}

// varints encodes longs as Avro does (zig-zag varints).
func varints(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestCheckBody(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		body         []byte
		err          string // "" when the body is good
	}{
		{"string", `"string"`, cat(varints(3), []byte("abc")), ""},
		{"string longer than the body", `"string"`, cat(varints(4), []byte("abc")), "string claims 4 bytes, 3 remain"},
		{"negative string length", `"string"`, varints(-1), "string claims -1 bytes"},
		{"bytes longer than the body", `"bytes"`, varints(1 << 40), "bytes claims 1099511627776 bytes, 0 remain"},
		{"long of 10 bytes", `"long"`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ""},
		{"long of 11 bytes", `"long"`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "varint does not fit in 64 bits"},
		{"long overflowing in its 10th byte", `"long"`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "does not fit"},
		{"int of 6 bytes", `"int"`, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, "varint does not fit in 32 bits"},
		{"int overflowing", `"int"`, []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, "does not fit"},
		{"varint cut short", `"long"`, []byte{0x80}, "varint cut short"},
		{"boolean 2", `"boolean"`, []byte{2}, "boolean is not 0 or 1"},
		{"double cut short", `"double"`, make([]byte, 7), "double needs 8 bytes, 7 remain"},
		{"fixed", `{"type":"fixed","name":"F","size":3}`, []byte("abc"), ""},
		{"fixed cut short", `{"type":"fixed","name":"F","size":4}`, []byte("abc"), "fixed needs 4 bytes, 3 remain"},
		{"enum", `{"type":"enum","name":"E","symbols":["a","b"]}`, varints(1), ""},
		{"enum out of range", `{"type":"enum","name":"E","symbols":["a","b"]}`, varints(2), "enum index 2 out of range [0, 2)"},
		{"union", `["null","string"]`, cat(varints(1, 1), []byte("x")), ""},
		{"union index out of range", `["null","string"]`, varints(2), "union index 2 out of range [0, 2)"},
		{"negative union index", `["null","string"]`, varints(-1), "union index -1 out of range"},
		{"map", `{"type":"map","values":"string"}`, cat(varints(1, 1), []byte("k"), varints(1), []byte("v"), varints(0)), ""},
		{"map claiming more entries than bytes", `{"type":"map","values":"string"}`, cat(varints(3, 1), []byte("k"), varints(1), []byte("v"), varints(0)), "map claims 3 items, 5 bytes remain"},
		{"map block with its byte size", `{"type":"map","values":"string"}`, cat(varints(-1, 4, 1), []byte("k"), varints(1), []byte("v"), varints(0)), ""},
		{"map block whose byte size lies", `{"type":"map","values":"string"}`, cat(varints(-1, 3, 1), []byte("k"), varints(1), []byte("v"), varints(0)), "map block says 3 bytes, its items took 4"},
		{"map block size past the end", `{"type":"map","values":"string"}`, cat(varints(-1, 9, 1), []byte("k"), varints(1), []byte("v"), varints(0)), "map block size claims 9 bytes, 5 remain"},
		{"minimum block count", `{"type":"map","values":"string"}`, varints(-1 << 63), "map block count -9223372036854775808"},
		{"array of longs claiming more items than bytes", `{"type":"array","items":"long"}`, varints(5, 1, 2, 0), "array claims 5 items, 3 bytes remain"},
		{"array of doubles claiming more than the bytes hold", `{"type":"array","items":"double"}`, cat(varints(2), make([]byte, 9), varints(0)), "array claims 2 items, 10 bytes remain"},
		{"array of nulls within the body's size", `{"type":"array","items":"null"}`, varints(2, 0), ""},
		{"array of nulls claiming more items than the body has bytes and the allowance", `{"type":"array","items":"null"}`, varints(5000, 0), "array claims 5000 items"},
		{"arrays of nulls claiming more items in all than the body has bytes and the allowance", `{"type":"array","items":{"type":"array","items":"null"}}`,
			varints(3, 3000, 0, 3000, 0, 3000, 0, 0), "array claims 3000 items"},
		{"array of records of nulls", `{"type":"array","items":{"type":"record","name":"N","fields":[
			{"name":"a","type":"null"},{"name":"b","type":"null"},{"name":"c","type":"null"},{"name":"d","type":"null"}]}}`,
			varints(2000, 0), "more values taking no bytes than 4099"},
		{"missing block end", `{"type":"array","items":"long"}`, varints(1, 1), "varint cut short"},
		{"trailing bytes", `"long"`, varints(1, 1), "1 trailing bytes"},
		{"recursive record", `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`, varints(1, 1, 0), ""},
		{"recursive record nested too deep", `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`,
			cat(bytes.Repeat([]byte{2}, 200), varints(0)), "nested deeper than 100 levels"},
		{"named type of a namespace", `{"type":"record","name":"R","namespace":"a.b","fields":[
			{"name":"e","type":{"type":"enum","name":"E","symbols":["x"]}},{"name":"f","type":"a.b.E"},{"name":"g","type":"E"}]}`,
			varints(0, 0, 0), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseShape(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			err = checkBody(s, tc.body)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("good body refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("checkBody = %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// Schemas whose values may take no bytes, for FuzzDecode.
const (
	nullsID   = 100
	nulls     = `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":{"type":"record","name":"N","fields":[{"name":"x","type":"null"},{"name":"y","type":"null"}]}}}]}`
	listID    = 101
	linkedSet = `{"type":"record","name":"L","fields":[{"name":"m","type":{"type":"map","values":"null"}},{"name":"next","type":["null","L"]}]}`
)

// FuzzDecode decodes arbitrary touchpoint, spend and odd-schema bodies:
// decoding never panics and allocates memory in proportion to the record's
// size.
func FuzzDecode(f *testing.F) {
	c := NewCodecs(staticRegistry(f, map[int]string{nullsID: nulls, listID: linkedSet}))
	ctx := context.Background()
	f.Add(bombBytes(f))
	f.Add(append(AppendHeader(nil, nullsID), varints(1<<31-1, 0)...))
	f.Add(append(AppendHeader(nil, nullsID), varints(-3, 0, 0)...))
	f.Add(append(AppendHeader(nil, listID), varints(1, 1, 0, 1, 2, 0, 0)...))
	tp, err := c.Encode(ctx, Latest(KindTouchpoint).ID, sample().ToAvro())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tp)
	f.Add(append(AppendHeader(nil, Latest(KindSpend).ID), varints(20000, 5)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		n := allocated(func() { _, _, err = c.Decode(ctx, b) })
		// A constant for freeAllowance values that take no bytes (each a
		// few hundred bytes decoded), and a multiple of the size.
		if limit := uint64(2<<20 + 256*len(b)); n > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d); error %v", len(b), n, limit, err)
		}
	})
}

func TestDecodeErrorsAreBounded(t *testing.T) {
	c := shippedCodecs(t)
	key := strings.Repeat("k", 5000)
	// A touchpoint whose identifiers map holds the same long key twice,
	// which only the codec finds.
	body := cat(varints(1), []byte("e"), varints(1, 1), []byte("x"), make([]byte, 9),
		varints(2, int64(len(key))), []byte(key), varints(1), []byte("v"), varints(int64(len(key))), []byte(key), varints(1), []byte("v"), varints(0),
		make([]byte, 5))
	_, _, err := c.Decode(context.Background(), append(AppendHeader(nil, 1), body...))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "duplicate key") || len(err.Error()) > 400 {
		t.Fatalf("Decode = %d bytes of error: %.100v", len(err.Error()), err)
	}
}

// TestCodecsCompileConcurrently asks a fresh cache for every shipped
// schema and an unknown id from several goroutines at once (run with
// -race): each gets its codec or the unknown-schema error, and the cache
// ends with each shipped schema once.
func TestCodecsCompileConcurrently(t *testing.T) {
	c := shippedCodecs(t)
	ctx := context.Background()
	const goroutines, unknown = 8, 99
	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for i := range ShippedSchemas {
				s := ShippedSchemas[(g+i)%len(ShippedSchemas)] // each goroutine in another order
				if codec, err := c.Codec(ctx, s.ID); err != nil || codec == nil {
					errs <- fmt.Errorf("schema %d: %v", s.ID, err)
					return
				}
				if _, err := c.Codec(ctx, unknown); !errors.Is(err, ErrUnknownSchema) {
					errs <- fmt.Errorf("unknown id: %v", err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(*c.byID.Load()); got != len(ShippedSchemas) {
		t.Errorf("the cache holds %d schemas, want %d", got, len(ShippedSchemas))
	}
}

// TestDecodeConcurrently decodes good and hostile records from several
// goroutines through one cache (run with -race).
func TestDecodeConcurrently(t *testing.T) {
	c := shippedCodecs(t)
	ctx := context.Background()
	good, err := c.Encode(ctx, Latest(KindTouchpoint).ID, sample().ToAvro())
	if err != nil {
		t.Fatal(err)
	}
	bad := bombBytes(t)
	errs := make(chan error, 8)
	for g := 0; g < cap(errs); g++ {
		go func() {
			for i := 0; i < 50; i++ {
				if _, _, err := c.Decode(ctx, good); err != nil {
					errs <- err
					return
				}
				if _, _, err := c.Decode(ctx, bad); !errors.Is(err, ErrCorrupt) {
					errs <- fmt.Errorf("hostile record: %v", err)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < cap(errs); g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
