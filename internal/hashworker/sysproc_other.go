//go:build !linux

package hashworker

import "syscall"

// sysProcAttr returns nil: only Linux has Pdeathsig; elsewhere a worker
// ends when its standard input closes.
func sysProcAttr() *syscall.SysProcAttr { return nil }
