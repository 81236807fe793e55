package pipefile

import (
	"errors"
	"fmt"
)

// keyError is an invalid setting with the key it is about.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// Key returns the dotted key (inside its section of touchline.yaml) that
// err is about, as Checks recorded it, or "" when err names none.
func Key(err error) string {
	var ke *keyError
	if errors.As(err, &ke) {
		return ke.key
	}
	return ""
}

// Checks collects the invalid settings of one configuration section, each
// with its key, so that a config file's errors all come out at once, each
// at its key's line.
type Checks struct {
	kind error
	errs []error
}

// NewChecks returns a Checks whose errors wrap kind (e.g. ingest.ErrConfig).
func NewChecks(kind error) *Checks { return &Checks{kind: kind} }

// Check records, when bad, the setting at key as invalid with the message
// of format and args.
func (c *Checks) Check(bad bool, key, format string, args ...any) {
	if bad {
		c.Add(key, fmt.Errorf(format, args...))
	}
}

// Add records err, when not nil, as the problem of the setting at key.
// The errors of an errors.Join each count on their own, at the key they
// carry below key.
func (c *Checks) Add(key string, err error) {
	if err == nil {
		return
	}
	if errs := Flatten(err); len(errs) > 1 {
		for _, e := range errs {
			c.Add(key, e)
		}
		return
	}
	if inner := Key(err); inner != "" {
		key = Join(key, inner)
	}
	if c.kind != nil && !errors.Is(err, c.kind) {
		err = fmt.Errorf("%w: %w", c.kind, err)
	}
	c.errs = append(c.errs, &keyError{key: key, err: err})
}

// Err returns every recorded error (errors.Join), or nil.
func (c *Checks) Err() error { return errors.Join(c.errs...) }

// AtKey marks err as the problem of the setting at key, for errors built
// outside a Checks.
func AtKey(key string, err error) error { return &keyError{key: key, err: err} }
