package servers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// ErrNotInstalled reports that a server's binary, jars or runtime are
// missing. Errors returned by StartClickHouse and StartKafka wrap it, so test
// for it with errors.Is; the error text tells which scripts/install-deps.sh
// command installs the missing piece.
var ErrNotInstalled = errors.New("server not installed")

const (
	// stopGrace is how long Stop waits after SIGTERM before sending SIGKILL.
	stopGrace = 30 * time.Second
	// pollInterval separates readiness checks.
	pollInterval = 200 * time.Millisecond
	// checkTimeout bounds one readiness check.
	checkTimeout = 5 * time.Second
	// tailLines is how many lines of a log file an error message quotes.
	tailLines = 25
)

// process supervises one long-running child server process. Its stdout and
// stderr are appended to outPath. It can be started again after it exited.
// The methods are safe for concurrent use.
type process struct {
	name     string   // command name used in messages, e.g. "clickhouse-server"
	dir      string   // working directory
	argv     []string // command line, argv[0] is the executable
	outPath  string   // file receiving stdout and stderr
	logFiles []string // files quoted in error messages, besides outPath
	log      *zap.Logger

	mu  sync.Mutex
	cur *run // the latest run; nil before the first start
}

// run is one execution of a process.
type run struct {
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // the result of Wait; read it only after done is closed
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// pid returns the process id of the running process, or 0 when it is not
// running.
func (p *process) pid() int {
	if r := p.running(); r != nil {
		return r.pid
	}
	return 0
}

// start starts the process. It fails if the process is running already.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && !p.cur.exited() {
		return fmt.Errorf("%s is already running (pid %d)", p.name, p.cur.pid)
	}
	out, err := os.OpenFile(p.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	fmt.Fprintf(out, "\n=== %s: starting %s\n", time.Now().Format(time.RFC3339), strings.Join(p.argv, " "))

	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()

	r := &run{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Linux delivers the parent-death signal when the *thread* that
		// forked the child exits, so this goroutine keeps its thread to
		// itself until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		r.pid = cmd.Process.Pid
		started <- nil
		r.err = cmd.Wait()
		close(r.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.cur = r
	p.log.Debug("process started", zap.String("cmd", p.name), zap.Int("pid", r.pid), zap.String("dir", p.dir))
	return nil
}

// running returns the current run, or nil when the process is not running.
func (p *process) running() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.exited() {
		return nil
	}
	return p.cur
}

// stop sends SIGTERM to the process group and waits up to grace for the
// process to exit, then sends SIGKILL and waits again. It returns nil when
// the process is not running.
func (p *process) stop(grace time.Duration) error {
	r := p.running()
	if r == nil {
		return nil
	}
	if err := signalGroup(r, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-r.done:
		p.log.Debug("process stopped", zap.String("cmd", p.name), zap.Int("pid", r.pid))
		return nil
	case <-timer.C:
	}
	p.log.Warn("process ignored SIGTERM, killing it",
		zap.String("cmd", p.name), zap.Int("pid", r.pid), zap.Duration("grace", grace))
	return p.killRun(r)
}

// kill sends SIGKILL to the process group and waits for the process to exit.
// It returns nil when the process is not running.
func (p *process) kill() error {
	r := p.running()
	if r == nil {
		return nil
	}
	return p.killRun(r)
}

func (p *process) killRun(r *run) error {
	if err := signalGroup(r, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-r.done
	p.log.Debug("process killed", zap.String("cmd", p.name), zap.Int("pid", r.pid))
	return nil
}

// signalGroup sends sig to the process group that r leads. A group that is
// gone already is not an error.
func signalGroup(r *run, sig syscall.Signal) error {
	if r.exited() {
		return nil
	}
	if err := syscall.Kill(-r.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %v to process group %d: %w", sig, r.pid, err)
	}
	return nil
}

// waitReady calls check every pollInterval until it returns nil. It gives up
// when the process exits, when ctx is done or after timeout; the error then
// quotes the tails of the process's output and log files.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	r := p.running()
	if r == nil {
		return fmt.Errorf("%s is not running%s", p.name, p.tails())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	start := time.Now()
	var lastMsg string // logged once per distinct failure
	for attempt := 1; ; attempt++ {
		checkCtx, cancelCheck := context.WithTimeout(ctx, checkTimeout)
		err := check(checkCtx)
		cancelCheck()
		if err == nil {
			p.log.Debug("process ready", zap.String("cmd", p.name), zap.Int("pid", r.pid),
				zap.Duration("after", time.Since(start)), zap.Int("checks", attempt))
			return nil
		}
		if msg := err.Error(); msg != lastMsg {
			p.log.Debug("process not ready yet", zap.String("cmd", p.name), zap.Int("pid", r.pid),
				zap.Duration("after", time.Since(start)), zap.Error(err))
			lastMsg = msg
		}
		select {
		case <-r.done:
			return fmt.Errorf("%s exited before it was ready (%v)%s", p.name, r.err, p.tails())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %w (last check: %v)%s",
				p.name, time.Since(start).Round(time.Millisecond), ctx.Err(), err, p.tails())
		case <-ticker.C:
		}
	}
}

// tails formats the ends of the process's log files and captured output for
// an error message, skipping files that are missing or empty.
func (p *process) tails() string {
	var b strings.Builder
	for _, path := range append(append([]string(nil), p.logFiles...), p.outPath) {
		if t := tailFile(path, tailLines); t != "" {
			fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", path, t)
		}
	}
	return b.String()
}

// tailFile returns up to n final lines of the file at path, or "" when it
// cannot be read.
func tailFile(path string, n int) string {
	const maxBytes = 16 << 10
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	offset := max(info.Size()-maxBytes, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return ""
	}
	buf = bytes.TrimRight(buf, "\n")
	if offset > 0 {
		// Drop the partial first line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	lines := strings.Split(string(buf), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// runToCompletion runs a short-lived helper command in dir, appending its
// output to outPath, and waits for it. The helper dies with ctx and, on
// Linux, with the calling process.
func runToCompletion(ctx context.Context, dir, outPath string, argv ...string) error {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	// See process.start for why the thread is locked.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Run(); err != nil {
		if t := tailFile(outPath, tailLines); t != "" {
			return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, outPath, t)
		}
		return err
	}
	return nil
}

// lookExecutable returns the path of the first candidate that exists and is
// executable. A candidate containing a slash is checked as a path, any other
// is looked up on PATH.
func lookExecutable(candidates ...string) (string, bool) {
	for _, c := range candidates {
		if path, err := exec.LookPath(c); err == nil {
			return path, true
		}
	}
	return "", false
}
