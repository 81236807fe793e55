package servers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// errNotRunning reports a signal for a process that is not running.
var errNotRunning = errors.New("not running")

// stopTimeout bounds how long Pause waits for every thread of the process
// to be stopped.
const stopTimeout = 10 * time.Second

// signal sends sig to the running process's group.
func (p *process) signal(sig syscall.Signal) error {
	r := p.running()
	if r == nil {
		return fmt.Errorf("signalling %s: %w", p.name, errNotRunning)
	}
	return signalGroup(r, sig)
}

// pause sends SIGSTOP to the process's group and returns once every thread
// of the process is stopped. kill returns when the signal is queued, not
// when it has taken effect: a busy thread on another core may still answer
// a request for a moment, which a test of a hung server must not see.
func (p *process) pause() error {
	r := p.running()
	if r == nil {
		return fmt.Errorf("pausing %s: %w", p.name, errNotRunning)
	}
	if err := signalGroup(r, syscall.SIGSTOP); err != nil {
		return err
	}
	deadline := time.Now().Add(stopTimeout)
	for {
		running, err := runningThreads(r.pid)
		if err != nil || running == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pausing %s: %d threads still running %s after SIGSTOP", p.name, running, stopTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThreads counts the threads of process pid that are not stopped,
// from /proc. Where there is no /proc it reports none.
func runningThreads(pid int) (int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, err
	}
	running := 0
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if errors.Is(err, os.ErrNotExist) { // the thread has exited
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("reading thread state: %w", err)
		}
		if !threadStopped(string(stat)) {
			running++
		}
	}
	return running, nil
}

// threadStopped reports whether a /proc/PID/task/TID/stat line shows a
// stopped (T), traced (t) or dead (Z, X) thread. The state follows the
// command name, which is in parentheses and may itself hold them.
func threadStopped(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	switch stat[i+2] {
	case 'T', 't', 'Z', 'X':
		return true
	}
	return false
}

// Pause stops ClickHouse with SIGSTOP: it keeps its connections and
// answers nothing, as a hung server does, until Resume. It returns once
// the server is stopped.
func (c *ClickHouse) Pause() error { return c.proc.pause() }

// Resume continues ClickHouse after Pause with SIGCONT.
func (c *ClickHouse) Resume() error { return c.proc.signal(syscall.SIGCONT) }

// Pause stops the Kafka broker with SIGSTOP: it keeps its connections and
// answers nothing, as a hung broker does, until Resume. It returns once
// the broker is stopped.
func (k *Kafka) Pause() error { return k.proc.pause() }

// Resume continues the Kafka broker after Pause with SIGCONT.
func (k *Kafka) Resume() error { return k.proc.signal(syscall.SIGCONT) }
