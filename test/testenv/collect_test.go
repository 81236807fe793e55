package testenv

import (
	"reflect"
	"testing"

	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/config"
)

// TestWriteConfigKeepsTheCollectSection: a collector started from the file
// WriteConfig writes has the configuration the test built.
func TestWriteConfigKeepsTheCollectSection(t *testing.T) {
	cfg := config.Default()
	cfg.Collect.Addr = "127.0.0.1:1"
	cfg.Collect.MaxBodyBytes, cfg.Collect.MaxInflightBytes = 8<<20, 16<<20
	cfg.Collect.WriteKeys = []collect.WriteKey{{Key: "k", Source: "s", Origins: []string{"*"}, RatePerSecond: 2.5}}
	got := writtenAndRead(t, cfg)
	if !reflect.DeepEqual(got.Collect, cfg.Collect) {
		t.Errorf("read back %+v\nwrote %+v", got.Collect, cfg.Collect)
	}
}
