package hashworker

import "syscall"

// sysProcAttr makes a worker get SIGKILL when the thread that started it,
// the pool's spawner, ends: when the pool closes or the process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
