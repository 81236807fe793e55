package servers

import (
	"errors"
	"fmt"
	"syscall"
)

// errNotRunning reports a signal for a process that is not running.
var errNotRunning = errors.New("not running")

// signal sends sig to the running process's group.
func (p *process) signal(sig syscall.Signal) error {
	r := p.running()
	if r == nil {
		return fmt.Errorf("signalling %s: %w", p.name, errNotRunning)
	}
	return signalGroup(r, sig)
}

// Pause stops ClickHouse with SIGSTOP: it keeps its connections and
// answers nothing, as a hung server does, until Resume.
func (c *ClickHouse) Pause() error { return c.proc.signal(syscall.SIGSTOP) }

// Resume continues ClickHouse after Pause with SIGCONT.
func (c *ClickHouse) Resume() error { return c.proc.signal(syscall.SIGCONT) }

// Pause stops the Kafka broker with SIGSTOP: it keeps its connections and
// answers nothing, as a hung broker does, until Resume.
func (k *Kafka) Pause() error { return k.proc.signal(syscall.SIGSTOP) }

// Resume continues the Kafka broker after Pause with SIGCONT.
func (k *Kafka) Resume() error { return k.proc.signal(syscall.SIGCONT) }
