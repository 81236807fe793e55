package command

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// helperEnv makes the test binary run helperMain instead of the tests: a
// process whose command shuts down, on its context's end, in the time the
// variable names.
const helperEnv = "TOUCHLINE_TEST_MAIN_DRAIN"

func TestMain(m *testing.M) {
	if drain := os.Getenv(helperEnv); drain != "" {
		os.Exit(helperMain(drain))
	}
	os.Exit(m.Run())
}

// helperMain runs Main on a command that says "running", waits for its
// context to end, says "draining", takes drain to shut down and says
// "drained".
func helperMain(drain string) int {
	d, err := time.ParseDuration(drain)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return Main(&cobra.Command{
		Use: "helper",
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Println("running")
			<-cmd.Context().Done()
			fmt.Println("draining")
			time.Sleep(d)
			fmt.Println("drained")
			return cmd.Context().Err()
		},
	})
}

// startHelper starts the helper process with a drain of drain and waits
// until its command runs. It returns the process and its output lines.
func startHelper(t *testing.T, drain time.Duration) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+drain.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		for s := bufio.NewScanner(out); s.Scan(); {
			lines <- s.Text()
		}
	}()
	expect(t, lines, "running")
	return cmd, lines
}

// expect waits up to ten seconds for the next line to be want.
func expect(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	select {
	case got := <-lines:
		if got != want {
			t.Fatalf("the helper printed %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the helper did not print %q within 10s", want)
	}
}

// waitExit waits up to within for cmd to end and returns its wait status.
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) syscall.WaitStatus {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.Sys().(syscall.WaitStatus)
	case <-time.After(within):
		t.Fatalf("the process still runs %s later", within)
		return 0
	}
}

// TestFirstSignalShutsDownGracefully: one SIGINT (or SIGTERM) ends the
// command's context, the command drains and the process exits 0.
func TestFirstSignalShutsDownGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd, lines := startHelper(t, 300*time.Millisecond)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		expect(t, lines, "draining")
		expect(t, lines, "drained")
		if ws := waitExit(t, cmd, 10*time.Second); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("after one %v: wait status %v, want a clean exit 0", sig, ws)
		}
	}
}

// TestSecondSignalKillsAtOnce: a second Ctrl-C used to be swallowed, so a
// service stuck draining (ClickHouse down, say) could only be killed with
// SIGKILL. Now the first signal restores the default handling and the
// second ends the process at once, by the signal.
func TestSecondSignalKillsAtOnce(t *testing.T) {
	cmd, lines := startHelper(t, time.Hour)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	expect(t, lines, "draining")
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ws := waitExit(t, cmd, 5*time.Second)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("after a second SIGINT: wait status %v, want killed by SIGINT", ws)
	}
	t.Logf("exited %s after the second SIGINT", time.Since(start))
}
