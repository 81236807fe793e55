package kafka

import "testing"

// TestSuppressionsTopicName: the suppressions topic is named after the
// identity map topic unless it is set.
func TestSuppressionsTopicName(t *testing.T) {
	for _, c := range []struct {
		topics Topics
		want   string
	}{
		{DefaultConfig().Topics, "touchline.identity.suppressions"},
		{Topics{IdentityMap: "t_a.identity.map"}, "t_a.identity.suppressions"},
		{Topics{IdentityMap: "idmap"}, "idmap.suppressions"},
		{Topics{IdentityMap: "t_a.identity.map", IdentitySuppressions: "erased"}, "erased"},
	} {
		if got := c.topics.Suppressions(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.topics, got, c.want)
		}
	}
}
