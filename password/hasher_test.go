package password

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// fast are argon2id parameters cheap enough for tests that hash a lot.
var fast = Params{Memory: 64, Iterations: 1}

func TestHashDefault(t *testing.T) {
	var h Hasher
	ctx := context.Background()
	const pw = "correct horse battery staple"
	encoded, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(encoded) {
		t.Errorf("Hash = %q, want a match for %s", encoded, re)
	}
	again, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if again == encoded {
		t.Errorf("two Hashes of the same password are equal (%q): the salt is not random", encoded)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{pw, true},
		{pw + " ", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		got, err := h.Verify(ctx, tc.password, encoded)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q, Hash(%q)) = %v, %v; want %v, nil", tc.password, pw, got, err, tc.want)
		}
	}
	if h.NeedsRehash(encoded) {
		t.Errorf("NeedsRehash(%q) = true, want false for a hash with the current parameters", encoded)
	}
	if got, want := h.Stats(), (Stats{Computations: 6}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestHashParams(t *testing.T) {
	tests := []struct {
		params  Params
		pattern string // of the encoded hash
	}{
		{Params{}, `^\$argon2id\$v=19\$m=19456,t=2,p=1\$[^$]{22}\$[^$]{43}$`},
		{fast, `^\$argon2id\$v=19\$m=64,t=1,p=1\$[^$]{22}\$[^$]{43}$`},
		{Params{Memory: 256, Iterations: 3, Parallelism: 4, SaltLength: 8, KeyLength: 16}, `^\$argon2id\$v=19\$m=256,t=3,p=4\$[^$]{11}\$[^$]{22}$`},
		{Params{Memory: 64, Iterations: 1, SaltLength: 32, KeyLength: 64}, `^\$argon2id\$v=19\$m=64,t=1,p=1\$[^$]{43}\$[^$]{86}$`},
	}
	for _, tc := range tests {
		h := &Hasher{Params: tc.params}
		encoded, err := h.Hash(context.Background(), "pässwörd")
		if err != nil {
			t.Errorf("Params %+v: Hash: %v", tc.params, err)
			continue
		}
		if !regexp.MustCompile(tc.pattern).MatchString(encoded) {
			t.Errorf("Params %+v: Hash = %q, want a match for %s", tc.params, encoded, tc.pattern)
		}
		if ok, err := h.Verify(context.Background(), "pässwörd", encoded); !ok || err != nil {
			t.Errorf("Params %+v: Verify(Hash) = %v, %v; want true, nil", tc.params, ok, err)
		}
		if h.NeedsRehash(encoded) {
			t.Errorf("Params %+v: NeedsRehash(%q) = true, want false", tc.params, encoded)
		}
	}
}

func TestHashInvalidParams(t *testing.T) {
	for _, p := range []Params{
		{Memory: 7},
		{Memory: 31, Parallelism: 4},
		{Memory: 1<<20 + 1},
		{Memory: 1 << 20, Iterations: 5},
		{Iterations: 101},
		{SaltLength: 7},
		{SaltLength: 1025},
		{KeyLength: 15},
		{KeyLength: 1025},
	} {
		h := &Hasher{Params: p}
		if got, err := h.Hash(context.Background(), "pw"); err == nil {
			t.Errorf("Params %+v: Hash = %q, nil; want an error", p, got)
		}
		if err := h.DummyVerify(context.Background(), "pw"); err == nil {
			t.Errorf("Params %+v: DummyVerify = nil; want an error", p)
		}
		if n := h.Stats().Computations; n != 0 {
			t.Errorf("Params %+v: %d computations ran, want 0", p, n)
		}
	}
}

func TestPasswordLength(t *testing.T) {
	nfd := strings.Repeat("e\u0301", MaxPasswordLength) // 256 code points, 128 after NFC
	tests := []struct {
		name     string
		password string
		wantErr  error
	}{
		{"empty", "", nil},
		{"128 code points", strings.Repeat("ü", MaxPasswordLength), nil},
		{"128 after NFC", nfd, nil},
		{"129 code points", strings.Repeat("x", MaxPasswordLength+1), ErrTooLong},
		{"129 after NFC", nfd + "e\u0301", ErrTooLong},
		{"huge", strings.Repeat("x", 1<<20), ErrTooLong},
		{"invalid UTF-8", "pass\xffword", ErrInvalidUTF8},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &Hasher{Params: fast}
			encoded, err := h.Hash(ctx, tc.password)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Hash: error %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if ok, err := h.Verify(ctx, tc.password, encoded); !ok || err != nil {
					t.Errorf("Verify(Hash) = %v, %v; want true, nil", ok, err)
				}
				return
			}
			stored, err := (&Hasher{Params: fast}).Hash(ctx, "something else")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := h.Verify(ctx, tc.password, stored); ok || !errors.Is(err, tc.wantErr) {
				t.Errorf("Verify = %v, %v; want false, %v", ok, err, tc.wantErr)
			}
			if err := h.DummyVerify(ctx, tc.password); !errors.Is(err, tc.wantErr) {
				t.Errorf("DummyVerify = %v, want %v", err, tc.wantErr)
			}
			if n := h.Stats().Computations; n != 0 {
				t.Errorf("%d computations ran for a refused password, want 0", n)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	var h Hasher
	current, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	salt16, salt8 := strings.Repeat("A", 22), strings.Repeat("A", 11)
	key32, key16 := strings.Repeat("B", 43), strings.Repeat("B", 22)
	phc := func(variant, params, salt, key string) string {
		return "$" + variant + "$v=19$" + params + "$" + salt + "$" + key
	}
	tests := []struct {
		encoded string
		want    bool
	}{
		{current, false},
		{phc("argon2id", "m=19456,t=2,p=1", salt16, key32), false},
		{phc("argon2id", "m=65536,t=3,p=4", salt16, key32), false},  // argon2-cffi's defaults
		{phc("argon2id", "m=102400,t=2,p=8", salt16, key32), false}, // Django's defaults
		{phc("argon2id", "m=19456,t=2,p=1", salt16+"AAAA", key32+"BBBB"), false},
		{phc("argon2id", "m=19455,t=2,p=1", salt16, key32), true},
		{phc("argon2id", "m=65536,t=1,p=4", salt16, key32), true},
		{phc("argon2id", "m=19456,t=2,p=1", salt8, key32), true},
		{phc("argon2id", "m=19456,t=2,p=1", salt16, key16), true},
		{phc("argon2i", "m=65536,t=3,p=4", salt16, key32), true},
		{phc("argon2d", "m=65536,t=3,p=4", salt16, key32), true},
		{phc("argon2id", "m=2097152,t=2,p=1", salt16, key32), true}, // over the limits
		{"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", true},
		{"pbkdf2:sha256:1000000$salt$" + strings.Repeat("00", 32), true},
		{"scrypt:32768:8:1$salt$" + strings.Repeat("00", 64), true},
		{"pbkdf2_sha256$1000000$salt$" + strings.Repeat("A", 43) + "=", true},
		{"", true},
		{"garbage", true},
	}
	for _, tc := range tests {
		if got := h.NeedsRehash(tc.encoded); got != tc.want {
			t.Errorf("NeedsRehash(%q) = %v, want %v", tc.encoded, got, tc.want)
		}
	}

	stronger := &Hasher{Params: Params{Memory: 65536, Iterations: 3, Parallelism: 4}}
	if !stronger.NeedsRehash(current) {
		t.Errorf("Hasher with m=65536,t=3,p=4: NeedsRehash(%q) = false, want true", current)
	}
	if NeedsRehash(current) {
		t.Errorf("package NeedsRehash(%q) = true, want false", current)
	}
}

func TestPackageFunctions(t *testing.T) {
	ctx := context.Background()
	encoded, err := Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify(ctx, "pw", encoded); !ok || err != nil {
		t.Errorf("Verify(Hash) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := Verify(ctx, "px", encoded); ok || err != nil {
		t.Errorf("Verify(wrong, Hash) = %v, %v; want false, nil", ok, err)
	}
}

// TestDummyVerifySameWork shows what a login handler's tests can check: an
// unknown user (DummyVerify) and a wrong password (Verify) each run exactly
// one computation with the same parameters.
func TestDummyVerifySameWork(t *testing.T) {
	ctx := context.Background()
	h := &Hasher{Params: Params{Memory: 128, Iterations: 2, Parallelism: 2}}
	var calls []string
	h.testHook = func() { calls = append(calls, "compute") }
	stored, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	before := h.Stats().Computations
	if ok, err := h.Verify(ctx, "wrong", stored); ok || err != nil {
		t.Fatalf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
	afterVerify := h.Stats().Computations
	if err := h.DummyVerify(ctx, "wrong"); err != nil {
		t.Fatalf("DummyVerify: %v", err)
	}
	afterDummy := h.Stats().Computations
	if afterVerify-before != 1 || afterDummy-afterVerify != 1 {
		t.Errorf("computations: Verify ran %d, DummyVerify ran %d; want 1 each", afterVerify-before, afterDummy-afterVerify)
	}
	if len(calls) != 3 {
		t.Errorf("test hook ran %d times, want 3", len(calls))
	}
	// DummyVerify derives a key the length of the Hasher's keys from a salt
	// the length of its salts, so its work is that of Verify.
	p := h.Params.withDefaults()
	if len(h.dummySalt) != int(p.SaltLength) || len(h.dummyKey) != int(p.KeyLength) {
		t.Errorf("dummy salt and key are %d and %d bytes, want %d and %d", len(h.dummySalt), len(h.dummyKey), p.SaltLength, p.KeyLength)
	}
}

func TestBusy(t *testing.T) {
	ctx := context.Background()
	h := &Hasher{Params: fast, MaxConcurrent: 1, MaxWait: 20 * time.Millisecond}
	stored, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	release, err := h.acquire(ctx) // hold the only slot
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok, err := h.Verify(ctx, "pw", stored)
	if ok || !errors.Is(err, ErrBusy) {
		t.Errorf("Verify with the slot held = %v, %v; want false, ErrBusy", ok, err)
	}
	if waited := time.Since(start); waited < h.MaxWait {
		t.Errorf("Verify gave up after %v, before MaxWait %v", waited, h.MaxWait)
	}
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with the slot held: error %v, want ErrBusy", err)
	}
	if err := h.DummyVerify(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("DummyVerify with the slot held: error %v, want ErrBusy", err)
	}
	if got, want := h.Stats(), (Stats{Computations: 1, Busy: 3}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	release()
	if ok, err := h.Verify(ctx, "pw", stored); !ok || err != nil {
		t.Errorf("Verify after release = %v, %v; want true, nil", ok, err)
	}
}

func TestBusyNoWait(t *testing.T) {
	h := &Hasher{Params: fast, MaxConcurrent: 1, MaxWait: -1}
	release, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with MaxWait < 0 and the slot held: error %v, want ErrBusy", err)
	}
}

func TestContext(t *testing.T) {
	h := &Hasher{Params: fast, MaxConcurrent: 1, MaxWait: time.Hour}
	stored, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before := h.Stats().Computations
		if ok, err := h.Verify(ctx, "pw", stored); ok || !errors.Is(err, context.Canceled) {
			t.Errorf("Verify with a canceled context = %v, %v; want false, context.Canceled", ok, err)
		}
		if n := h.Stats().Computations - before; n != 0 {
			t.Errorf("%d computations ran with a canceled context, want 0", n)
		}
	})

	release, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	t.Run("deadline while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := h.Verify(ctx, "pw", stored)
		if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Verify past its deadline: error %v, want ErrBusy and context.DeadlineExceeded", err)
		}
	})

	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := h.Hash(ctx, "pw")
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Hash canceled while waiting: error %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Hash did not return after its context was canceled")
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	const limit, calls = 2, 12
	h := &Hasher{Params: fast, MaxConcurrent: limit}
	var running, most atomic.Int32
	h.testHook = func() {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
	}
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Errorf("Hash: %v", err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit {
		t.Errorf("%d hashes ran at once, want at most %d", m, limit)
	}
	if got := h.Stats(); got.Computations != calls || got.Busy != 0 {
		t.Errorf("Stats() = %+v, want %d computations and none busy", got, calls)
	}
}

// TestDefaultMaxConcurrent checks that a zero Hasher leaves one processor
// free of hashing, and that MaxConcurrent overrides the default.
func TestDefaultMaxConcurrent(t *testing.T) {
	tests := []struct {
		procs, maxConcurrent, want int
	}{
		{procs: 1, want: 1},
		{procs: 2, want: 1},
		{procs: 4, want: 3},
		{procs: 2, maxConcurrent: 2, want: 2},
		{procs: 4, maxConcurrent: 1, want: 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("procs=%d,max=%d", tt.procs, tt.maxConcurrent), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tt.procs))
			h := Hasher{MaxConcurrent: tt.maxConcurrent}
			h.init()
			if got := cap(h.sem); got != tt.want {
				t.Errorf("Hasher allows %d concurrent hashes, want %d", got, tt.want)
			}
		})
	}
}

// The benchmarks compare the Hasher with a bare call to the argon2 package
// on the same parameters, so the Hasher's overhead reads as a ratio.
//
//	go test -run '^$' -bench . -benchtime 20x ./password/

func BenchmarkHashArgon2idDefault(b *testing.B) {
	var h Hasher
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyArgon2id(b *testing.B) {
	var h Hasher
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := h.Verify(ctx, "correct horse battery staple", encoded); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkDummyVerify(b *testing.B) {
	var h Hasher
	ctx := context.Background()
	for b.Loop() {
		if err := h.DummyVerify(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArgon2IDKeyBare(b *testing.B) {
	salt := randomBytes(defaultSaltLength)
	for b.Loop() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, defaultIterations, defaultMemory, defaultParallelism, defaultKeyLength)
	}
}

// TestQueueObserved checks Stats.Waiting (the queue's depth) and OnWait
// while calls wait for the only slot.
func TestQueueObserved(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var waits []time.Duration
	h := &Hasher{Params: fast, MaxConcurrent: 1, MaxWait: time.Minute, OnWait: func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
	}}
	release, err := h.acquire(ctx) // hold the only slot; a free slot waits 0
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := h.Hash(ctx, "pw"); err != nil {
				t.Errorf("Hash: %v", err)
			}
		})
	}
	for h.Stats().Waiting != 2 {
		runtime.Gosched()
	}
	release()
	wg.Wait()
	if got := h.Stats().Waiting; got != 0 {
		t.Errorf("Stats().Waiting = %d after the queue drained, want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 3 || waits[0] != 0 || waits[1] <= 0 || waits[2] <= 0 {
		t.Errorf("OnWait saw %v, want 0 for the free slot, then two positive waits", waits)
	}
}
