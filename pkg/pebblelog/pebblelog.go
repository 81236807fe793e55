// Package pebblelog sends the messages of a pebble database to zap.
package pebblelog

import (
	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"
)

// New returns a pebble logger writing to log. Pebble's informational
// messages (WAL recovery, compactions, ...) are debug logs.
func New(log *zap.Logger) pebble.Logger { return logger{log.Sugar()} }

type logger struct{ s *zap.SugaredLogger }

func (l logger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l logger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }

// Fatalf is called by pebble on an unrecoverable invariant violation such
// as corruption; like pebble's default logger it exits the process.
func (l logger) Fatalf(format string, args ...any) { l.s.Fatalf(format, args...) }
