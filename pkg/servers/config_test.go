package servers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKafkaEngineOffsetResetConfig renders the <kafka> section only when
// KafkaAutoOffsetReset is set, with the value escaped.
func TestKafkaEngineOffsetResetConfig(t *testing.T) {
	dir := t.TempDir()
	opts := ClickHouseOptions{Dir: dir, TCPPort: 9001, HTTPPort: 8124}
	read := func() string {
		t.Helper()
		if err := writeClickHouseConfig(opts); err != nil {
			t.Fatal(err)
		}
		config, err := os.ReadFile(filepath.Join(dir, "config.xml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(config)
	}
	if config := read(); strings.Contains(config, "<kafka>") {
		t.Errorf("config.xml has a <kafka> section without KafkaAutoOffsetReset:\n%s", config)
	}
	opts.KafkaAutoOffsetReset = "smallest"
	if config := read(); !strings.Contains(config, "<kafka>\n        <auto_offset_reset>smallest</auto_offset_reset>\n    </kafka>") {
		t.Errorf("config.xml lacks the Kafka engine's auto_offset_reset:\n%s", config)
	}
	opts.KafkaAutoOffsetReset = "<&>"
	if config := read(); !strings.Contains(config, "<auto_offset_reset>&lt;&amp;&gt;</auto_offset_reset>") {
		t.Errorf("config.xml does not escape auto_offset_reset:\n%s", config)
	}
}
