package stitch_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/identifiers"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
)

// TestLinkRequestsCarryABoundedNumberOfIdentifiers: a request with as many
// identifiers as MaxLinkIdentifiers reads back whole; one more is refused,
// with the count, so that no request gives the resolver more rows than its
// versions leave room for.
func TestLinkRequestsCarryABoundedNumberOfIdentifiers(t *testing.T) {
	request := func(n int) []byte {
		ids := make([]identifiers.Identifier, n)
		for i := range ids {
			ids[i] = id("anonymous_id", fmt.Sprint(i))
		}
		_, value := stitch.EncodeLinkRequest(stitch.LinkRequest{ID: "big", Identifiers: ids, At: t0})
		return value
	}
	if req, err := stitch.DecodeLinkRequest(request(stitch.MaxLinkIdentifiers)); err != nil || len(req.Identifiers) != stitch.MaxLinkIdentifiers {
		t.Errorf("%d identifiers: %d read, %v", stitch.MaxLinkIdentifiers, len(req.Identifiers), err)
	}
	_, err := stitch.DecodeLinkRequest(request(stitch.MaxLinkIdentifiers + 1))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d identifiers, more than %d", stitch.MaxLinkIdentifiers+1, stitch.MaxLinkIdentifiers)) {
		t.Errorf("%d identifiers: %v, want refused", stitch.MaxLinkIdentifiers+1, err)
	}
}
