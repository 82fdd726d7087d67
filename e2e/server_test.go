package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testKeys is the server's secret for the tests.
const testKeys = "test-secret-key-0123456789abcdef0123456789"

// buildServer builds ../cmd/hallpass (the checkout this module sits in)
// once per test binary run.
var buildServer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hallpass-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hallpass")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hallpass")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hallpass: %v\n%s", err, out)
	}
	return bin, nil
})

// server is a running "hallpass serve".
type server struct {
	URL  string
	logs *lockedBuffer
}

var listenRE = regexp.MustCompile(`listen=(\S+)`)

// startServer runs "hallpass serve" on the embedded default store in a
// temporary data directory, on a free port, with env (KEY=VALUE) added to
// the environment, and waits until it listens. The process gets SIGTERM
// at cleanup and must exit cleanly; its log is shown when the test fails.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"HALLPASS_ADDR=127.0.0.1:0", "HALLPASS_DATA=" + t.TempDir(),
		"HALLPASS_SECRET_KEYS=" + testKeys, "HALLPASS_LOG_LEVEL=info"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{logs: &lockedBuffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // drains in-flight requests, then exits 0
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hallpass exited with %v after SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("hallpass did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs)
		}
	})
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("hallpass did not start; logs:\n%s", s.logs)
	}
	return s
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// commandOutput runs the server binary with args and env (added to the
// environment) and returns its combined output.
func commandOutput(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
