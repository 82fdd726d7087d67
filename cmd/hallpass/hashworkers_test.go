package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/sched"
)

// TestMain lets the test binary serve as the hash worker of the servers
// the tests run in-process: they start os.Executable() "hash-worker". Any
// other command runs as hallpass would, never the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hallpass:", err)
		}
		os.Exit(exitCode(err))
	}
	os.Exit(m.Run())
}

// childPIDs returns the process IDs of pid's children that run
// "hash-worker".
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		_, after, _ := strings.Cut(string(b), ") ")
		if f := strings.Fields(after); len(f) < 2 || f[1] != strconv.Itoa(pid) || f[0] == "Z" {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); strings.HasSuffix(string(cmdline), "\x00hash-worker\x00") {
			kids = append(kids, child)
		}
	}
	return kids
}

var hashWorkersRE = regexp.MustCompile(`msg="hash workers" n=(\d+) policy=SCHED_IDLE`)

// TestHashWorkersServe runs the server with its default settings on
// Linux: it starts one hash worker per CPU (HALLPASS_HASH_CONCURRENCY 0),
// all of whose threads run under SCHED_IDLE, registers and logs in
// through them, and stops them when it stops.
func TestHashWorkersServe(t *testing.T) {
	if !sched.Supported {
		t.Skip("hash processes are on by default only on Linux")
	}
	var workers []int
	// Runs after the cleanup of startProcess, which stops the server:
	// the server stops its workers. (hashworker's TestWorkersDieWithParent
	// kills a parent outright.)
	t.Cleanup(func() {
		for _, pid := range workers {
			if workerRuns(pid) {
				t.Errorf("hash worker %d still runs after the server stopped", pid)
			}
		}
	})
	p := startProcess(t, "HALLPASS_HASH_CONCURRENCY=0")
	m := hashWorkersRE.FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no hash workers line at start-up:\n%s", p.logs)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 {
		t.Fatalf("n=%d hash workers", n)
	}
	signUp(t, p.URL) // Hash of the password, then Verify at login
	if strings.Contains(p.logs.String(), "hash worker failed") {
		t.Errorf("a hash worker failed:\n%s", p.logs)
	}
	workers = childPIDs(t, p.cmd.Process.Pid)
	if len(workers) != n {
		t.Fatalf("the server has %d hash-worker child processes, want %d", len(workers), n)
	}
	for _, pid := range workers {
		// The server's settings hold secrets a worker never needs.
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range strings.Split(string(environ), "\x00") {
			if strings.HasPrefix(kv, "HALLPASS_") {
				t.Errorf("worker %d has the server's setting %s in its environment", pid, strings.SplitN(kv, "=", 2)[0])
			}
		}
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if policy, err := sched.Policy(tid); err != nil || policy != sched.Idle {
				t.Errorf("worker %d thread %d: policy %d, %v; want SCHED_IDLE", pid, tid, policy, err)
			}
		}
	}
	// The server's own threads keep the normal policy.
	if policy, err := sched.Policy(p.cmd.Process.Pid); err != nil || policy == sched.Idle {
		t.Errorf("the server's main thread has policy %d, %v; want not SCHED_IDLE", policy, err)
	}
}

// workerRuns reports whether process pid runs and is not a zombie, for
// up to 10 seconds.
func workerRuns(pid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		_, after, _ := strings.Cut(string(b), ") ")
		if err != nil || strings.HasPrefix(after, "Z") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestHashProcessesSetting checks the start-up line of each way of
// hashing, and that HALLPASS_HASH_CONCURRENCY sets the number of workers.
func TestHashProcessesSetting(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"HALLPASS_HASH_PROCESSES=false", "HALLPASS_HASH_CONCURRENCY=3"}, `msg="password hashes computed in-process" concurrency=3`},
		{[]string{"HALLPASS_HASH_PROCESSES=true", "HALLPASS_HASH_CONCURRENCY=3"}, `msg="hash workers" n=3`},
	} {
		t.Run(strings.Join(tc.env, ","), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			logs := &lockedBuffer{}
			env := map[string]string{"HALLPASS_ADDR": "127.0.0.1:0", "HALLPASS_DATA": t.TempDir(), "HALLPASS_SECRET_KEYS": testKeys}
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, logs, logs) }()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(logs.String(), "hallpass is running") {
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("the server did not start:\n%s", logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("start-up logs lack %s:\n%s", tc.want, logs)
			}
			if tc.env[0] == "HALLPASS_HASH_PROCESSES=true" && sched.Supported && len(childPIDs(t, os.Getpid())) != 0 {
				t.Errorf("hash workers still run after the server stopped")
			}
		})
	}
}

// TestHashWorkersFallback makes the workers fail to start (they run an
// unknown command): the server warns, hashes in-process, and logs in.
func TestHashWorkersFallback(t *testing.T) {
	defer func(saved []string) { hashWorkerArgs = saved }(hashWorkerArgs)
	hashWorkerArgs = []string{"no-such-command"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &lockedBuffer{}
	env := map[string]string{"HALLPASS_ADDR": "127.0.0.1:0", "HALLPASS_DATA": t.TempDir(), "HALLPASS_SECRET_KEYS": testKeys, "HALLPASS_HASH_PROCESSES": "true"}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, nil, logs, logs) }()
	deadline := time.Now().Add(30 * time.Second)
	var m []string
	for m == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
		m = listenRE.FindStringSubmatch(logs.String())
	}
	if !strings.Contains(logs.String(), `level=WARN msg="hash workers did not start; password hashes computed in-process"`) {
		t.Errorf("no warning that the hash workers did not start:\n%s", logs)
	}
	signUp(t, "http://"+m[1])
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
