package settings

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if DefaultConfig().Listen != "127.0.0.1:8070" {
		t.Errorf("default listen %s, want this machine only", DefaultConfig().Listen)
	}
	bad := Config{Listen: "8070", MaxExecutionTime: time.Millisecond, BasicAuth: BasicAuth{User: "a"}, ClickHousePassword: "x"}
	err := bad.Validate()
	for _, want := range []string{"listen", "max_execution_time", "max_rows", "basic_auth: password is empty", "clickhouse_password without clickhouse_user", "probe_interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
