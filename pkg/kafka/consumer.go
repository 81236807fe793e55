package kafka

import (
	"time"

	"github.com/touchline-io/touchline/pkg/pipefile"
)

// MinSessionTimeout is the shortest group session timeout a service
// accepts: the broker's default group.min.session.timeout.ms, below which
// it refuses the consumer's join.
const MinSessionTimeout = 6 * time.Second

// Consumer is the consumer-group part of a service's section of
// touchline.yaml (ingest, identity, segments), inlined so its keys sit
// beside the service's own.
type Consumer struct {
	// Group is the service's consumer group.
	Group string `yaml:"group"`
	// SessionTimeout is how long the group waits for a silent instance
	// before giving its partitions to others, e.g. after a crash: an
	// instance restarted after a crash makes no progress for up to this
	// long. At least MinSessionTimeout. Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// Check records the invalid settings of c in checks: one session-timeout
// rule for every service.
func (c Consumer) Check(checks *pipefile.Checks) {
	checks.Check(c.Group == "", "group", "group is empty")
	checks.Check(c.SessionTimeout < MinSessionTimeout, "session_timeout",
		"session_timeout %s is shorter than %s (the broker's group.min.session.timeout.ms)", c.SessionTimeout, MinSessionTimeout)
}
