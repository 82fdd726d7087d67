package password

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/hallpass/hallpass/internal/hashworker"
)

// workerEnv makes the test binary a hash worker (hashworker.Serve), for
// the tests of the Argon2 hook with real worker processes.
const workerEnv = "HALLPASS_PASSWORD_TEST_HASH_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		if err := hashworker.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// poolHook starts a pool of worker processes, closed when the test ends,
// and returns it with an Argon2 hook on it that counts its calls.
func poolHook(t *testing.T, calls *atomic.Int64) (*hashworker.Pool, func(context.Context, string, []byte, []byte, uint32, uint32, uint8, uint32) ([]byte, error)) {
	t.Helper()
	pool, err := hashworker.Start(hashworker.Config{Workers: 2, Path: os.Args[0], Env: append(os.Environ(), workerEnv+"=1"), Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool, func(ctx context.Context, variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
		calls.Add(1)
		return pool.Derive(ctx, variant, password, salt, time, memory, threads, keyLen)
	}
}

// TestArgon2Hook checks that a Hasher deriving its argon2 keys in worker
// processes verifies hashes made without them and the other way round, of
// both argon2 variants, that DummyVerify uses them too, and that other
// formats do not.
func TestArgon2Hook(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int64
	_, hook := poolHook(t, &calls)
	remote := &Hasher{Params: fast, Argon2: hook}
	local := &Hasher{Params: fast}

	fromRemote, err := remote.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	fromLocal, err := local.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("0123456789abcdef")
	argon2i := encodePHC("argon2i", 64, 2, 1, salt, argon2.Key([]byte("right"), salt, 2, 64, 1, 32))
	for _, tc := range []struct {
		name    string
		h       *Hasher
		encoded string
	}{
		{"hooked Hash, plain Verify", local, fromRemote},
		{"plain Hash, hooked Verify", remote, fromLocal},
		{"hooked Hash, hooked Verify", remote, fromRemote},
		{"argon2i, hooked Verify", remote, argon2i},
		{"Django argon2i, hooked Verify", remote, "argon2" + argon2i},
	} {
		if ok, err := tc.h.Verify(ctx, "right", tc.encoded); !ok || err != nil {
			t.Errorf("%s: Verify(right) = %v, %v; want true, nil", tc.name, ok, err)
		}
		if ok, err := tc.h.Verify(ctx, "wrong", tc.encoded); ok || err != nil {
			t.Errorf("%s: Verify(wrong) = %v, %v; want false, nil", tc.name, ok, err)
		}
	}
	// Hash, and two Verify calls each for 4 hashes checked by remote.
	if got, want := calls.Load(), int64(1+2*4); got != want {
		t.Errorf("the hook ran %d times, want %d", got, want)
	}
	if err := remote.DummyVerify(ctx, "wrong"); err != nil {
		t.Fatal(err)
	}
	if got, want := calls.Load(), int64(1+2*4+1); got != want {
		t.Errorf("after DummyVerify the hook ran %d times, want %d", got, want)
	}
	bcrypt := bcryptHash(t, "$2b$", "right")
	if ok, err := remote.Verify(ctx, "right", bcrypt); !ok || err != nil {
		t.Errorf("Verify(bcrypt) = %v, %v; want true, nil", ok, err)
	}
	if got, want := calls.Load(), int64(1+2*4+1); got != want {
		t.Errorf("a bcrypt Verify called the hook (%d calls, want %d)", got, want)
	}
	if f := remote.Stats().Argon2Failures; f != 0 {
		t.Errorf("Stats().Argon2Failures = %d, want 0", f)
	}
}

// TestArgon2HookFails checks that a Hasher whose hook fails (the pool is
// closed) computes every key itself, with the same results, and counts
// the failures.
func TestArgon2HookFails(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int64
	pool, hook := poolHook(t, &calls)
	var hookErrs atomic.Int64
	h := &Hasher{Params: fast, Argon2: func(ctx context.Context, variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
		key, err := hook(ctx, variant, password, salt, time, memory, threads, keyLen)
		if errors.Is(err, hashworker.ErrClosed) {
			hookErrs.Add(1)
		}
		return key, err
	}}
	pool.Close()
	encoded, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := (&Hasher{Params: fast}).Verify(ctx, "right", encoded); !ok || err != nil {
		t.Errorf("plain Verify of the hash made after the hook failed = %v, %v; want true, nil", ok, err)
	}
	if ok, err := h.Verify(ctx, "right", encoded); !ok || err != nil {
		t.Errorf("Verify(right) with a failing hook = %v, %v; want true, nil", ok, err)
	}
	if ok, err := h.Verify(ctx, "wrong", encoded); ok || err != nil {
		t.Errorf("Verify(wrong) with a failing hook = %v, %v; want false, nil", ok, err)
	}
	if err := h.DummyVerify(ctx, "wrong"); err != nil {
		t.Fatal(err)
	}
	if got := hookErrs.Load(); got != 4 {
		t.Errorf("the hook failed %d times, want 4", got)
	}
	if got := h.Stats().Argon2Failures; got != 4 {
		t.Errorf("Stats().Argon2Failures = %d, want 4", got)
	}
}

// TestArgon2HookWrongLength checks that a key of the wrong length from
// the hook counts as a failure: the Hasher computes the key itself.
func TestArgon2HookWrongLength(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int64
	_, hook := poolHook(t, &calls)
	h := &Hasher{Params: fast, Argon2: func(ctx context.Context, variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
		// A real derivation of a shorter key.
		return hook(ctx, variant, password, salt, time, memory, threads, keyLen-1)
	}}
	encoded, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := (&Hasher{Params: fast}).Verify(ctx, "right", encoded); !ok || err != nil {
		t.Errorf("plain Verify = %v, %v; want true, nil", ok, err)
	}
	if calls.Load() != 1 || h.Stats().Argon2Failures != 1 {
		t.Errorf("hook calls %d, failures %d; want 1 and 1", calls.Load(), h.Stats().Argon2Failures)
	}
}
