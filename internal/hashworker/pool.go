package hashworker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrClosed is returned by Derive after Close.
var ErrClosed = errors.New("hashworker: pool closed")

// Config says how a Pool starts its workers.
type Config struct {
	// Workers is how many worker processes the pool runs, the most
	// derivations it computes at once. Zero means runtime.GOMAXPROCS(0).
	Workers int

	// Path is the executable to run, and Args its arguments (without the
	// program name): together they must make the process call Serve on
	// its standard input and output, and do nothing else with them.
	Path string
	Args []string

	// Env is the workers' environment; nil means the current process's.
	Env []string

	// Stderr receives what workers write to their standard error, such as
	// the message of a crash; nil discards it.
	Stderr io.Writer

	// Timeout bounds each derivation once sent to a worker; a worker that
	// has not answered by then is killed and replaced. Zero means one
	// minute. Under SCHED_IDLE a derivation waits for an idle CPU, so a
	// machine that stays busy delays it.
	Timeout time.Duration
}

// A Pool runs key derivations in worker processes. A worker that dies or
// answers nonsense is killed and replaced by a new one at the next call
// that needs it; the call it failed returns an error. Its methods are safe
// for concurrent use.
type Pool struct {
	cfg   Config
	idle  chan *worker // nil: a slot whose worker must be started
	done  chan struct{}
	spawn chan chan spawned

	closeOnce sync.Once

	mu   sync.Mutex
	live map[*worker]struct{}
}

// worker is one worker process and the parent's ends of its pipes.
type worker struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	r      *bufio.Reader
	buf    []byte
	exited chan struct{} // closed once the process has been waited for
}

// spawned is the outcome of starting a worker.
type spawned struct {
	w   *worker
	err error
}

// Start starts cfg.Workers workers and checks that each answers a small
// derivation correctly, so a wrong Path or Args fails here. The workers
// are started from one locked OS thread kept for the pool's lifetime:
// on Linux a worker gets SIGKILL when the thread that started it ends
// (Pdeathsig), which is when the pool is closed or the process dies.
func Start(cfg Config) (*Pool, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Path == "" {
		return nil, errors.New("hashworker: no executable to start")
	}
	p := &Pool{
		cfg:   cfg,
		idle:  make(chan *worker, cfg.Workers),
		done:  make(chan struct{}),
		spawn: make(chan chan spawned),
		live:  make(map[*worker]struct{}),
	}
	go p.spawner()
	for i := range cfg.Workers {
		w, err := p.startWorker()
		if err == nil {
			if err = p.check(w); err != nil {
				p.discard(w)
			}
		}
		if err != nil {
			for range cfg.Workers - i {
				p.idle <- nil // Close takes every slot
			}
			p.Close()
			return nil, err
		}
		p.idle <- w
	}
	return p, nil
}

// spawner starts workers on request, on a thread of its own until Close.
func (p *Pool) spawner() {
	// Never unlocked: the thread exits with the goroutine, at Close.
	runtime.LockOSThread()
	for reply := range p.spawn {
		w, err := p.launch()
		reply <- spawned{w, err}
	}
}

// startWorker has the spawner start a worker.
func (p *Pool) startWorker() (*worker, error) {
	reply := make(chan spawned, 1)
	select {
	case p.spawn <- reply:
	case <-p.done:
		return nil, ErrClosed
	}
	s := <-reply
	return s.w, s.err
}

// launch starts a worker process; it runs on the spawner's thread.
func (p *Pool) launch() (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	cmd := exec.Command(p.cfg.Path, p.cfg.Args...)
	cmd.Env = p.cfg.Env
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = p.cfg.Stderr
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("hashworker: start worker: %w", err)
	}
	w := &worker{cmd: cmd, stdin: inW, stdout: outR, r: bufio.NewReader(outR), exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(w.exited)
	}()
	p.mu.Lock()
	p.live[w] = struct{}{}
	p.mu.Unlock()
	return w, nil
}

// checkPassword and checkSalt make the derivation Start checks each new
// worker with: the cheapest argon2id allows.
var checkPassword, checkSalt = []byte("hashworker start-up check"), []byte("salt of the check")

// check has w derive a small key and compares it with argon2.IDKey's.
func (p *Pool) check(w *worker) error {
	want := argon2.IDKey(checkPassword, checkSalt, 1, 8, 1, 16)
	req := request{variant: variantID, time: 1, memory: 8, threads: 1, keyLen: 16, password: checkPassword, salt: checkSalt}
	got, err := w.derive(&req, 10*time.Second)
	if err != nil {
		return fmt.Errorf("hashworker: new worker (%s): %w", p.cfg.Path, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("hashworker: new worker (%s) derived a wrong key", p.cfg.Path)
	}
	return nil
}

// Derive computes argon2 key derivation variant ("argon2id" or "argon2i")
// of password and salt with the given parameters in a worker, as
// argon2.IDKey or argon2.Key would. It waits for a free worker while ctx
// lasts; once the request is sent it waits for the answer, up to the
// pool's Timeout, even if ctx ends. Errors never contain the password.
func (p *Pool) Derive(ctx context.Context, variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	code, err := variantCode(variant)
	if err != nil {
		return nil, err
	}
	req := request{variant: code, time: time, memory: memory, threads: threads, keyLen: keyLen, password: password, salt: salt}
	if err := req.check(); err != nil {
		return nil, fmt.Errorf("hashworker: %w", err)
	}
	var w *worker
	select {
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("hashworker: waiting for a worker: %w", ctx.Err())
	case w = <-p.idle:
	}
	select {
	case <-p.done:
		p.idle <- w // for Close to stop
		return nil, ErrClosed
	default:
	}
	if w == nil {
		if w, err = p.startWorker(); err != nil {
			p.idle <- nil
			return nil, err
		}
	}
	key, err := w.derive(&req, p.cfg.Timeout)
	var refused *refusedError
	if err != nil && !errors.As(err, &refused) {
		p.discard(w)
		w = nil
	}
	p.idle <- w
	return key, err
}

// refusedError is a worker's error answer: the worker itself is fine.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return "hashworker: worker refused: " + e.msg }

// derive sends req to w and reads the answer. Any error but a
// refusedError leaves w in an unknown state, to be discarded.
func (w *worker) derive(req *request, timeout time.Duration) ([]byte, error) {
	w.buf = req.encode(w.buf[:0])
	_, err := w.stdin.Write(w.buf)
	clear(w.buf)
	if err != nil {
		return nil, fmt.Errorf("hashworker: send to worker %d: %w", w.cmd.Process.Pid, err)
	}
	w.stdout.SetReadDeadline(time.Now().Add(timeout))
	body, err := readFrame(w.r, w.buf[:0])
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("worker exited: %w", err)
		}
		return nil, fmt.Errorf("hashworker: answer of worker %d: %w", w.cmd.Process.Pid, err)
	}
	w.buf = body
	if len(body) == 0 {
		return nil, fmt.Errorf("hashworker: worker %d sent an empty answer", w.cmd.Process.Pid)
	}
	switch body[0] {
	case statusKey:
		if len(body)-1 != int(req.keyLen) {
			return nil, fmt.Errorf("hashworker: worker %d sent a key of %d bytes, want %d", w.cmd.Process.Pid, len(body)-1, req.keyLen)
		}
		return bytes.Clone(body[1:]), nil
	case statusError:
		return nil, &refusedError{string(body[1:])}
	}
	return nil, fmt.Errorf("hashworker: worker %d sent an answer of unknown status %d", w.cmd.Process.Pid, body[0])
}

// discard kills w and waits for it to exit.
func (p *Pool) discard(w *worker) {
	w.cmd.Process.Kill()
	p.forget(w)
}

// forget waits for w to exit and closes the parent's ends of its pipes.
func (p *Pool) forget(w *worker) {
	<-w.exited
	w.stdin.Close()
	w.stdout.Close()
	p.mu.Lock()
	delete(p.live, w)
	p.mu.Unlock()
}

// stop ends w as Close does: its standard input closes, so Serve returns;
// it is killed if it has not exited within two seconds.
func (p *Pool) stop(w *worker) {
	w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(2 * time.Second):
		w.cmd.Process.Kill()
	}
	p.forget(w)
}

// Workers returns the number of worker processes the pool runs.
func (p *Pool) Workers() int { return cap(p.idle) }

// pids returns the process IDs of the running workers.
func (p *Pool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for w := range p.live {
		pids = append(pids, w.cmd.Process.Pid)
	}
	return pids
}

// Close stops the workers, once the derivations in progress have
// finished, and makes later calls of Derive fail with ErrClosed.
func (p *Pool) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		for range cap(p.idle) {
			if w := <-p.idle; w != nil {
				p.stop(w)
			}
		}
		close(p.spawn)
	})
	return nil
}
