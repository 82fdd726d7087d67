//go:build !linux

package sched

import "errors"

// Idle is the Linux scheduling policy SCHED_IDLE.
const Idle = 5

// Supported reports whether this system has per-thread scheduling
// policies (Linux).
const Supported = false

var errUnsupported = errors.New("sched: scheduling policies are Linux only")

// SetIdle does nothing outside Linux and returns an error saying so.
func SetIdle(tid int) error { return errUnsupported }

// Policy returns an error outside Linux.
func Policy(tid int) (int, error) { return 0, errUnsupported }

// IdleProcess does nothing outside Linux and returns an error saying so.
func IdleProcess() error { return errUnsupported }
