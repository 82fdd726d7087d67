package hashworker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/sched"
)

// TestWorkerThreadsIdle checks that every thread of a worker runs under
// SCHED_IDLE, after it has derived keys with several lanes (argon2 runs a
// goroutine per lane, which may start threads).
func TestWorkerThreadsIdle(t *testing.T) {
	p := startPool(t, 1, "serve")
	in := input{"argon2id", "pw", "saltsalt", 2, 4096, 4, 32}
	for range 3 {
		if _, err := in.derive(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	pid := liveWorkers(p)[0].cmd.Process.Pid
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 {
		t.Fatalf("the worker has %d threads; a Go process has several", len(entries))
	}
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		policy, err := sched.Policy(tid)
		if err != nil {
			t.Fatal(err)
		}
		if policy != sched.Idle {
			t.Errorf("worker thread %d has policy %d, want SCHED_IDLE (%d)", tid, policy, sched.Idle)
		}
	}
	// This process is not affected.
	if policy, err := sched.Policy(0); err != nil || policy == sched.Idle {
		t.Errorf("the test's own thread has policy %d, %v; want not SCHED_IDLE", policy, err)
	}
}

// parentEnv makes the test binary a process that starts a pool, prints
// its workers' process IDs and waits to be killed.
const parentEnv = "HALLPASS_HASHWORKER_TEST_PARENT"

// TestWorkersDieWithParent kills a process that runs a pool: its workers
// die too.
func TestWorkersDieWithParent(t *testing.T) {
	if os.Getenv(parentEnv) != "" {
		p, err := Start(Config{Workers: 2, Path: os.Args[0], Env: append(os.Environ(), workerEnv+"=serve")})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(strings.Trim(fmt.Sprint(p.pids()), "[]"))
		time.Sleep(time.Minute)
		os.Exit(1)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkersDieWithParent$")
	cmd.Env = append(os.Environ(), parentEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	n, _ := out.Read(buf)
	line := strings.TrimSpace(string(buf[:n]))
	var pids []int
	for _, f := range strings.Fields(line) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the parent said %q", line)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Fatalf("the parent listed %d workers, want 2", len(pids))
	}
	for _, pid := range pids {
		if processGone(pid) {
			t.Fatalf("worker %d is not running before its parent dies", pid)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still runs after its parent was killed", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// processGone reports whether pid has exited (or is a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist) || syscall.Kill(pid, 0) == syscall.ESRCH
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z")
}
