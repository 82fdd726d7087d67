package sched

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Idle is the Linux scheduling policy SCHED_IDLE.
const Idle = 5

// Supported reports whether this system has per-thread scheduling
// policies (Linux).
const Supported = true

// SetIdle puts thread tid (0: the calling thread) under SCHED_IDLE: it runs
// only on a CPU that no other thread wants, and a thread of the normal
// policy that wakes up takes its CPU at once. Any process may lower its own
// threads' policy so; threads it creates afterwards inherit the policy.
func SetIdle(tid int) error {
	var param struct{ priority int32 } // struct sched_param; 0 for SCHED_IDLE
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), Idle, uintptr(unsafe.Pointer(&param)))
	if errno != 0 {
		return fmt.Errorf("sched: sched_setscheduler(%d, SCHED_IDLE): %w", tid, errno)
	}
	return nil
}

// Policy returns the scheduling policy of thread tid (0: the calling
// thread), such as 0 for SCHED_OTHER or Idle.
func Policy(tid int) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("sched: sched_getscheduler(%d): %w", tid, errno)
	}
	return int(r), nil
}

// IdleProcess puts every thread of the calling process under SCHED_IDLE.
// Threads the process creates later inherit the policy from the thread
// that creates them; a thread created while IdleProcess runs, from one not
// yet changed, is caught by another pass over /proc/self/task, until a
// pass finds every thread already idle.
func IdleProcess() error {
	for range 10 {
		tids, err := threads()
		if err != nil {
			return err
		}
		changed := 0
		for _, tid := range tids {
			p, err := Policy(tid)
			if errors.Is(err, syscall.ESRCH) {
				continue // the thread has exited
			}
			if err != nil {
				return err
			}
			if p == Idle {
				continue
			}
			if err := SetIdle(tid); err != nil && !errors.Is(err, syscall.ESRCH) {
				return err
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return errors.New("sched: threads kept appearing outside SCHED_IDLE")
}

// threads lists the IDs of the calling process's threads.
func threads() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("sched: list threads: %w", err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
