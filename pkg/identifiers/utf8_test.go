package identifiers

import (
	"errors"
	"testing"

	"github.com/touchline-io/touchline/pkg/touchpoint"
)

func TestInvalidUTF8IsInvalid(t *testing.T) {
	n, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []map[string]string{
		{CustomerID: "cus\xff\xfe"},
		{CustomerID: "cus\xfe\xff"},
		{Email: "jane\xff@example.com"},
		{"cus\xff": "1"},
	} {
		if ids, err := n.Normalize(touchpoint.AttrsOf(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %v, %v; want ErrInvalid", in, ids, err)
		}
	}
	if _, err := n.Normalize(touchpoint.AttrsOf(map[string]string{CustomerID: "cus✓", Email: "jürgen@exämple.de"})); err != nil {
		t.Errorf("valid UTF-8 refused: %v", err)
	}
}
