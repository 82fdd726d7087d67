package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/hallpass/hallpass/internal/hashworker"
	"github.com/hallpass/hallpass/internal/sched"
	"github.com/hallpass/hallpass/password"
)

// startHashWorkers sets up how the server computes password hashes: with
// HALLPASS_HASH_PROCESSES, argon2 runs in HALLPASS_HASH_CONCURRENCY
// worker processes (0: one per CPU) of this executable ("hallpass
// hash-worker"), whose threads run under SCHED_IDLE, and the hasher
// computes as many hashes at once; otherwise, or when the workers cannot
// start (a warning), hashes compute in-process. The workers' standard
// error goes to stderr; they stop with the app (a.close) and die with the
// server. It logs which way hashes are computed.
func (a *app) startHashWorkers(logger *slog.Logger, stderr io.Writer) {
	if !a.cfg.HashProcesses {
		logger.Info("password hashes computed in-process", "concurrency", inProcessConcurrency(a.hasher))
		return
	}
	n := a.cfg.HashConcurrency
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	pool, err := startHashPool(n, stderr)
	if err != nil {
		logger.Warn("hash workers did not start; password hashes computed in-process", "err", err, "concurrency", inProcessConcurrency(a.hasher))
		return
	}
	a.closers = append(a.closers, pool.Close)
	a.hasher.MaxConcurrent = n
	a.hasher.Argon2 = func(ctx context.Context, variant string, pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
		key, err := pool.Derive(ctx, variant, pw, salt, time, memory, threads, keyLen)
		if err != nil {
			// The pool's errors never contain the password.
			logger.Warn("hash worker failed; this hash computed in-process", "err", err)
		}
		return key, err
	}
	policy := "SCHED_IDLE"
	if !sched.Supported {
		policy = "normal (SCHED_IDLE is Linux only)"
	}
	logger.Info("hash workers", "n", n, "policy", policy)
}

// hashWorkerArgs are the arguments that make this executable a hash
// worker; tests change them to make the workers fail.
var hashWorkerArgs = []string{"hash-worker"}

// startHashPool starts n hash workers of this executable.
func startHashPool(n int, stderr io.Writer) (*hashworker.Pool, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the executable: %w", err)
	}
	return hashworker.Start(hashworker.Config{Workers: n, Path: exe, Args: hashWorkerArgs, Env: workerEnv(os.Environ()), Stderr: stderr})
}

// workerEnv is env without the server's settings (HALLPASS_*), which hold
// secrets (the keys, database passwords) that a hash worker never needs.
func workerEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HALLPASS_") {
			out = append(out, kv)
		}
	}
	return out
}

// inProcessConcurrency is how many hashes h computes at once in-process.
func inProcessConcurrency(h *password.Hasher) int {
	if h.MaxConcurrent > 0 {
		return h.MaxConcurrent
	}
	return password.DefaultMaxConcurrent()
}
