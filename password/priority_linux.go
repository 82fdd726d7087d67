package password

import (
	"runtime"
	"syscall"

	"github.com/hallpass/hallpass/internal/sched"
)

// hashNice is the nice value of the threads that compute hashes: the
// lowest priority, so that the kernel runs any other ready thread first,
// such as one serving a page to a signed-in user.
const hashNice = 19

// lowPriority runs f on a thread of its own at the lowest scheduling
// priority (nice 19, and SCHED_IDLE: it runs only on a CPU that no other
// thread wants, and a thread of the normal policy that wakes up takes its
// CPU at once), and returns when f has returned. The thread ends with f:
// an unprivileged process cannot raise a thread's priority again, so it is
// never reused for other work.
func lowPriority(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread exits when this goroutine returns.
		runtime.LockOSThread()
		// Best effort: f runs anyway if the kernel refuses.
		tid := syscall.Gettid()
		syscall.Setpriority(syscall.PRIO_PROCESS, tid, hashNice)
		sched.SetIdle(tid)
		f()
	}()
	<-done
}
