package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/test/testenv"
)

// TestBrokerRefusesShortSessionTimeouts: the real broker refuses a group
// member whose session timeout is below kafka.MinSessionTimeout (its
// default group.min.session.timeout.ms) and accepts one at it, so the
// services' one session-timeout rule is the broker's.
func TestBrokerRefusesShortSessionTimeouts(t *testing.T) {
	s := servers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Kafka.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	group := uniqueName(t)
	join := func(timeout time.Duration) error {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = group
		req.SessionTimeoutMillis = int32(timeout / time.Millisecond)
		req.RebalanceTimeoutMillis = 30_000
		req.ProtocolType = "consumer"
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", []byte{}
		req.Protocols = append(req.Protocols, proto)
		for {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return err
			}
			err = kerr.ErrorForCode(resp.ErrorCode)
			if !kerr.IsRetriable(err) || ctx.Err() != nil { // e.g. the coordinator still loading
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, d := range []time.Duration{2 * time.Second, kafka.MinSessionTimeout - time.Millisecond} {
		if err := join(d); err != kerr.InvalidSessionTimeout {
			t.Errorf("join with session timeout %s: %v, want %v", d, err, kerr.InvalidSessionTimeout)
		}
	}
	// A first join is asked for its member id (or admitted); either way the
	// timeout passed.
	if err := join(kafka.MinSessionTimeout); err != nil && err != kerr.MemberIDRequired {
		t.Errorf("join with session timeout %s: %v, want it accepted", kafka.MinSessionTimeout, err)
	}
}

// TestServicesRefuseShortSessionTimeouts: every service started with
// session_timeout: 2s in its section exits 1 at start with the file, the
// key's line and the reason for every section, before it talks to the
// broker.
func TestServicesRefuseShortSessionTimeouts(t *testing.T) {
	s := servers(t)
	cfg := s.Config(uniqueName(t))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "touchline.yaml")
	if err := os.WriteFile(cfgPath, []byte("kafka:\n  brokers: ["+strings.Join(cfg.Kafka.Brokers, ", ")+"]\n"+
		"ingest:\n  session_timeout: 2s\nidentity:\n  session_timeout: 2s\nsegments:\n  session_timeout: 2s\n"+
		"pipelines: "+filepath.Join(testenv.RepoRoot(), "pipelines")+"\nstate_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const tail = "session_timeout 2s is shorter than 6s (the broker's group.min.session.timeout.ms)"
	errs := cfgPath + ":4: ingest: invalid ingest config: " + tail + "\n" +
		cfgPath + ":6: identity: invalid identity config: " + tail + "\n" +
		cfgPath + ":8: segments: invalid segments config: " + tail + "\n"
	for _, run := range []struct {
		args []string
		want string
	}{
		{[]string{ingestBin}, "touchline: " + errs},
		{[]string{touchlineBin, "ingest"}, "touchline: " + errs},
		{[]string{touchlineBin, "identity"}, "touchline: " + errs},
		{[]string{touchlineBin, "segments"}, "touchline: " + errs},
		{[]string{touchlineBin, "check"}, errs + "touchline: the configuration has errors: 3 found\n"},
	} {
		cmd := exec.CommandContext(ctx, run.args[0], append(run.args[1:], "--config", cfgPath)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("%v: exit status %d (%v), want 1", run.args, code, err)
		}
		if stderr.String() != run.want {
			t.Errorf("%v printed:\n%s\nwant:\n%s", run.args, stderr.String(), run.want)
		}
	}
}
