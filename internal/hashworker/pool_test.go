package hashworker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// workerEnv makes the test binary a worker: "serve" runs Serve;
// "garbage" answers the first request (the start-up check) and then
// sends keys of the wrong length.
const workerEnv = "HALLPASS_HASHWORKER_TEST_WORKER"

func TestMain(m *testing.M) {
	switch os.Getenv(workerEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		if err := Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "garbage":
		r := bufio.NewReader(os.Stdin)
		for i := 0; ; i++ {
			body, err := readFrame(r, nil)
			if err != nil {
				os.Exit(0)
			}
			out := answer(nil, body)
			if i > 0 {
				out = appendAnswer(nil, statusKey, []byte("short"))
			}
			os.Stdout.Write(out)
		}
	}
	os.Exit(3)
}

// startPool starts a pool of n workers of the test binary in mode, closed
// when the test ends.
func startPool(t *testing.T, n int, mode string) *Pool {
	t.Helper()
	p, err := Start(Config{
		Workers: n,
		Path:    os.Args[0],
		Env:     append(os.Environ(), workerEnv+"="+mode),
		Stderr:  os.Stderr,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// liveWorkers returns the running workers of p.
func liveWorkers(p *Pool) []*worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ws []*worker
	for w := range p.live {
		ws = append(ws, w)
	}
	return ws
}

type input struct {
	variant        string
	password, salt string
	time, memory   uint32
	threads        uint8
	keyLen         uint32
}

func (in input) want() []byte {
	if in.variant == "argon2i" {
		return argon2.Key([]byte(in.password), []byte(in.salt), in.time, in.memory, in.threads, in.keyLen)
	}
	return argon2.IDKey([]byte(in.password), []byte(in.salt), in.time, in.memory, in.threads, in.keyLen)
}

func (in input) derive(ctx context.Context, p *Pool) ([]byte, error) {
	return p.Derive(ctx, in.variant, []byte(in.password), []byte(in.salt), in.time, in.memory, in.threads, in.keyLen)
}

// TestDeriveMatchesArgon2 checks the workers' keys against the argon2
// package's, for both variants and a range of parameters.
func TestDeriveMatchesArgon2(t *testing.T) {
	p := startPool(t, 2, "serve")
	for _, in := range []input{
		{"argon2id", "correct horse battery staple", "0123456789abcdef", 2, 19456, 1, 32},
		{"argon2id", "", "saltsalt", 1, 8, 1, 4},
		{"argon2id", "pässwörd ✓", "another salt of some length", 3, 256, 4, 64},
		{"argon2id", strings.Repeat("x", 4096), strings.Repeat("s", 1024), 1, 64, 2, 1024},
		{"argon2i", "correct horse battery staple", "0123456789abcdef", 2, 1024, 1, 32},
		{"argon2i", "pw", "saltsalt", 1, 32, 4, 16},
	} {
		t.Run(fmt.Sprintf("%s/t=%d,m=%d,p=%d,len=%d", in.variant, in.time, in.memory, in.threads, in.keyLen), func(t *testing.T) {
			got, err := in.derive(t.Context(), p)
			if err != nil {
				t.Fatalf("Derive: %v", err)
			}
			if want := in.want(); !bytes.Equal(got, want) {
				t.Errorf("Derive = %x, want %x", got, want)
			}
		})
	}
}

// TestDeriveRefusesBadInput checks that invalid parameters fail without a
// round trip or with the worker's refusal, and leave the worker in use.
func TestDeriveRefusesBadInput(t *testing.T) {
	p := startPool(t, 1, "serve")
	before := liveWorkers(p)
	for _, in := range []input{
		{"argon2d", "pw", "saltsalt", 1, 8, 1, 16},
		{"argon2id", "pw", "saltsalt", 0, 8, 1, 16},
		{"argon2id", "pw", "saltsalt", 1, 8, 0, 16},
		{"argon2id", "pw", "saltsalt", 1, 15, 2, 16},
		{"argon2id", "pw", "saltsalt", 1, 8, 1, 0},
		{"argon2id", "pw", "saltsalt", 1, 2 << 20, 1, 16},
	} {
		if _, err := in.derive(t.Context(), p); err == nil {
			t.Errorf("Derive(%+v) succeeded, want an error", in)
		}
	}
	// A request the pool lets through but the worker refuses.
	w := <-p.idle
	_, err := w.derive(&request{variant: 9, time: 1, memory: 8, threads: 1, keyLen: 16}, time.Minute)
	p.idle <- w
	var refused *refusedError
	if !errors.As(err, &refused) {
		t.Errorf("a request of unknown variant: %v, want the worker's refusal", err)
	}
	in := input{"argon2id", "pw", "saltsalt", 1, 8, 1, 16}
	if got, err := in.derive(t.Context(), p); err != nil || !bytes.Equal(got, in.want()) {
		t.Errorf("Derive after refusals = %x, %v; want %x", got, err, in.want())
	}
	if after := liveWorkers(p); len(after) != 1 || after[0] != before[0] {
		t.Errorf("the refusals replaced the worker")
	}
}

// TestKilledWorker kills a worker: the next call fails, the one after
// gets a new worker and succeeds.
func TestKilledWorker(t *testing.T) {
	p := startPool(t, 1, "serve")
	in := input{"argon2id", "secret-password-1", "saltsalt", 1, 64, 1, 32}
	if _, err := in.derive(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	old := liveWorkers(p)
	if len(old) != 1 {
		t.Fatalf("%d live workers, want 1", len(old))
	}
	if err := old[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-old[0].exited
	_, err := in.derive(t.Context(), p)
	if err == nil {
		t.Fatal("Derive on a killed worker succeeded")
	}
	if strings.Contains(err.Error(), in.password) {
		t.Errorf("the error shows the password: %v", err)
	}
	got, err := in.derive(t.Context(), p)
	if err != nil || !bytes.Equal(got, in.want()) {
		t.Fatalf("Derive after the failure = %x, %v; want %x", got, err, in.want())
	}
	now := liveWorkers(p)
	if len(now) != 1 || now[0] == old[0] || now[0].cmd.Process.Pid == old[0].cmd.Process.Pid {
		t.Errorf("the killed worker was not replaced")
	}
}

// TestGarbageAnswer checks that a worker sending a key of the wrong
// length is replaced, and the call fails.
func TestGarbageAnswer(t *testing.T) {
	p := startPool(t, 1, "garbage")
	old := liveWorkers(p)[0]
	in := input{"argon2id", "secret-password-2", "saltsalt", 1, 64, 1, 32}
	_, err := in.derive(t.Context(), p)
	if err == nil {
		t.Fatal("Derive with a garbage answer succeeded")
	}
	if strings.Contains(err.Error(), in.password) {
		t.Errorf("the error shows the password: %v", err)
	}
	select {
	case <-old.exited:
	default:
		t.Error("the worker that sent garbage still runs")
	}
	if n := len(liveWorkers(p)); n != 0 {
		t.Errorf("%d live workers, want 0 until the next call", n)
	}
}

// TestConcurrentDerive runs 20 goroutines on 2 workers.
func TestConcurrentDerive(t *testing.T) {
	p := startPool(t, 2, "serve")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			in := input{"argon2id", fmt.Sprintf("password %d", i), "saltsaltsalt", 1, 512, 1, 32}
			got, err := in.derive(context.Background(), p)
			if err != nil {
				t.Errorf("Derive %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, in.want()) {
				t.Errorf("Derive %d = %x, want %x", i, got, in.want())
			}
		})
	}
	wg.Wait()
	if n := len(liveWorkers(p)); n != 2 {
		t.Errorf("%d live workers, want 2", n)
	}
}

// TestDeriveWaitsWhileContextLasts checks that a call waiting for a busy
// worker gives up when its context ends.
func TestDeriveWaitsWhileContextLasts(t *testing.T) {
	p := startPool(t, 1, "serve")
	w := <-p.idle // the only worker is busy
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	in := input{"argon2id", "pw", "saltsalt", 1, 8, 1, 16}
	if _, err := in.derive(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("Derive with no free worker and an ended context: %v, want context.Canceled", err)
	}
	p.idle <- w
}

// TestStartFails checks that Start reports an executable that is missing
// or does not speak the protocol, and leaves nothing running.
func TestStartFails(t *testing.T) {
	for _, cfg := range []Config{
		{Workers: 2, Path: os.Args[0] + "-missing"},
		{Workers: 2, Path: os.Args[0], Env: append(os.Environ(), workerEnv+"=nonsense")},
	} {
		p, err := Start(cfg)
		if err == nil {
			p.Close()
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}

// TestClose checks that Close ends the workers through their standard
// input (they exit with status 0) and that Derive then fails.
func TestClose(t *testing.T) {
	p := startPool(t, 2, "serve")
	ws := liveWorkers(p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		<-w.exited
		if code := w.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("worker %d exited with %d, want 0 (Serve returned at EOF)", w.cmd.Process.Pid, code)
		}
	}
	in := input{"argon2id", "pw", "saltsalt", 1, 8, 1, 16}
	if _, err := in.derive(t.Context(), p); !errors.Is(err, ErrClosed) {
		t.Errorf("Derive after Close: %v, want ErrClosed", err)
	}
	if n := len(liveWorkers(p)); n != 0 {
		t.Errorf("%d live workers after Close", n)
	}
}
