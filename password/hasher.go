package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// MaxPasswordLength is the most Unicode code points (counted after NFC
// normalization) that [Hash] and [Verify] accept, and the highest
// [Policy.MaxLength] can be.
const MaxPasswordLength = 128

// maxPasswordBytes bounds the raw input before it is normalized: 128 code
// points after NFC come from at most a few code points each (Hangul jamo,
// stacked combining marks), of at most 4 bytes each.
const maxPasswordBytes = 4096

// Default argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes,
// 1 lane), a 16-byte salt and a 32-byte key.
const (
	defaultMemory      = 19456
	defaultIterations  = 2
	defaultParallelism = 1
	defaultSaltLength  = 16
	defaultKeyLength   = 32
	defaultMaxWait     = 5 * time.Second
)

// Params are the argon2id parameters of new hashes. The zero value of each
// field means its default, so Params{} is OWASP's recommended minimum.
type Params struct {
	// Memory is the memory cost in KiB (the m parameter). Zero means 19456
	// (19 MiB). It must be at least 8 times Parallelism and at most
	// 1048576 (1 GiB).
	Memory uint32

	// Iterations is the number of passes over the memory (the t
	// parameter). Zero means 2; at most 100.
	Iterations uint32

	// Parallelism is the number of lanes (the p parameter). Zero means 1.
	Parallelism uint8

	// SaltLength is the length of the random salt in bytes. Zero means 16;
	// it must be between 8 and 1024.
	SaltLength uint32

	// KeyLength is the length of the derived key in bytes. Zero means 32;
	// it must be between 16 and 1024.
	KeyLength uint32
}

func (p Params) withDefaults() Params {
	if p.Memory == 0 {
		p.Memory = defaultMemory
	}
	if p.Iterations == 0 {
		p.Iterations = defaultIterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = defaultParallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = defaultSaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = defaultKeyLength
	}
	return p
}

func (p Params) validate() error {
	if p.KeyLength < 16 {
		return fmt.Errorf("password: Params.KeyLength %d is below 16", p.KeyLength)
	}
	err := checkArgon2(p.Memory, p.Iterations, uint32(p.Parallelism), p.SaltLength, p.KeyLength)
	if err != nil {
		return fmt.Errorf("password: invalid Params: %w", err)
	}
	return nil
}

// A Hasher hashes new passwords with argon2id and verifies passwords against
// stored hashes of every format the package reads. All hashing runs under a
// limit on how many hashes compute at once (MaxConcurrent), so a burst of
// logins queues instead of exhausting CPU and memory; on Linux each hash
// also runs on a thread of the lowest priority (nice 19), so the kernel
// serves the process's other threads, and other programs, first. The
// argon2 derivations can go elsewhere, such as to worker processes
// (see the Argon2 field).
//
// When every slot is taken, a call waits up to MaxWait, then fails with an
// error wrapping ErrBusy; if its context ends first, the error wraps both
// ErrBusy and the context's error. A call whose context has already ended
// fails at once with an error wrapping the context's error. Hashing that has
// started is not interrupted.
//
// The zero value is ready to use with the defaults documented on each field.
// Set the fields before first use and do not change them afterwards; a
// Hasher must not be copied after first use. Its methods are safe for
// concurrent use.
type Hasher struct {
	// Params are the argon2id parameters of new hashes; NeedsRehash reports
	// hashes weaker than these. The zero value means the defaults.
	Params Params

	// MaxConcurrent is how many hash computations may run at once. Zero
	// means DefaultMaxConcurrent() as of first use: one fewer than
	// GOMAXPROCS, so hashing never takes the last core from the requests
	// of signed-in users during a login flood. Raise it (up to
	// GOMAXPROCS) for more logins per second at the cost of slower pages
	// while logins queue.
	MaxConcurrent int

	// MaxWait is how long Hash, Verify and DummyVerify wait for a free
	// slot before failing with an error wrapping ErrBusy. Zero means 5
	// seconds; a negative value means not to wait at all.
	MaxWait time.Duration

	// OnWait, if set, is called each time a computation gets its slot,
	// with how long it waited (zero when a slot was free), for metrics.
	// It must be fast and safe for concurrent use.
	OnWait func(wait time.Duration)

	// Argon2, if set, computes every argon2 key derivation (of Hash,
	// DummyVerify, and Verify and VerifyRehash of argon2id and argon2i
	// hashes), such as a pool of worker processes of the lowest priority
	// (see cmd/hallpass). It is called in a hashing slot, on the calling
	// goroutine, with the call's context, the variant ("argon2id" or
	// "argon2i") and the arguments of argon2.IDKey or argon2.Key, and must
	// return the same key, or an error. On an error (or a key of the wrong
	// length) the Hasher computes the key itself, as when Argon2 is nil,
	// and counts the failure in Stats.Argon2Failures. The error must not
	// contain the password. Other formats (bcrypt, scrypt, PBKDF2) are
	// always computed in-process. It must be safe for concurrent use.
	Argon2 func(ctx context.Context, variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error)

	once      sync.Once
	sem       chan struct{}
	dummySalt []byte
	dummyKey  []byte

	computations   atomic.Uint64
	busy           atomic.Uint64
	waiting        atomic.Int64
	argon2Failures atomic.Uint64

	// testHook, if set, runs while a computation holds its slot.
	testHook func()
}

// DefaultMaxConcurrent returns the concurrency limit of a Hasher whose
// MaxConcurrent is zero: runtime.GOMAXPROCS(0) - 1, and at least 1. With
// every processor but one hashing, Go always has a processor free for
// other work (page requests), which would otherwise queue behind argon2
// until the scheduler preempts it.
func DefaultMaxConcurrent() int {
	return max(1, runtime.GOMAXPROCS(0)-1)
}

// Stats counts what a Hasher has done since it was created.
type Stats struct {
	// Computations is the number of expensive hash computations run: one
	// for each Hash, one for each Verify that got as far as computing (a
	// hash that cannot be read, or a password that is too long, costs
	// none) and one more when it also tried a password's unnormalized
	// bytes, and as many for each DummyVerify. A Verify of a wrong password and
	// a DummyVerify count the same.
	Computations uint64

	// Busy is the number of calls that failed with ErrBusy.
	Busy uint64

	// Waiting is the number of calls waiting for a slot right now: the
	// depth of the queue.
	Waiting int64

	// Argon2Failures is the number of derivations that the Argon2 hook
	// failed, and the Hasher computed itself.
	Argon2Failures uint64
}

// Stats returns the Hasher's counters. Tests use it to check that two code
// paths do the same hashing work without timing them.
func (h *Hasher) Stats() Stats {
	return Stats{
		Computations:   h.computations.Load(),
		Busy:           h.busy.Load(),
		Waiting:        h.waiting.Load(),
		Argon2Failures: h.argon2Failures.Load(),
	}
}

func (h *Hasher) init() {
	h.once.Do(func() {
		n := h.MaxConcurrent
		if n <= 0 {
			n = DefaultMaxConcurrent()
		}
		h.sem = make(chan struct{}, n)
		p := h.Params.withDefaults()
		h.dummySalt = randomBytes(int(p.SaltLength))
		h.dummyKey = randomBytes(int(p.KeyLength))
	})
}

// acquire waits for a hashing slot, for at most MaxWait and while ctx lasts.
// The caller must call release when its computation is done.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	h.init()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	release = func() { <-h.sem }
	select {
	case h.sem <- struct{}{}:
		if h.OnWait != nil {
			h.OnWait(0)
		}
		return release, nil
	default:
	}
	wait := h.MaxWait
	if wait == 0 {
		wait = defaultMaxWait
	}
	if wait < 0 {
		h.busy.Add(1)
		return nil, fmt.Errorf("%w (%d running)", ErrBusy, cap(h.sem))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	start := time.Now()
	select {
	case h.sem <- struct{}{}:
		if h.OnWait != nil {
			h.OnWait(time.Since(start))
		}
		return release, nil
	case <-timer.C:
		h.busy.Add(1)
		return nil, fmt.Errorf("%w (%d running, waited %v)", ErrBusy, cap(h.sem), wait)
	case <-ctx.Done():
		h.busy.Add(1)
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// compute runs f in a hashing slot, and counts it. f gets the function
// that derives its argon2 keys: with the Argon2 hook set and f an argon2
// computation (usesArgon2), f runs on the calling goroutine and the hook
// derives; otherwise f runs in-process at low priority.
func (h *Hasher) compute(ctx context.Context, usesArgon2 bool, f func(derive argon2Func)) error {
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	h.computations.Add(1)
	if h.Argon2 == nil || !usesArgon2 {
		lowPriority(func() {
			if h.testHook != nil {
				h.testHook()
			}
			f(argon2Key)
		})
		return nil
	}
	if h.testHook != nil {
		h.testHook()
	}
	f(func(variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		key, err := h.Argon2(ctx, variant, password, salt, time, memory, threads, keyLen)
		if err == nil && len(key) == int(keyLen) {
			return key
		}
		// Correctness first: compute the key here, as without the hook.
		h.argon2Failures.Add(1)
		lowPriority(func() { key = argon2Key(variant, password, salt, time, memory, threads, keyLen) })
		return key
	})
	return nil
}

// Hash returns an argon2id PHC string for password in Unicode Normalization
// Form C (NIST SP 800-63B 5.1.1.2), so the same password typed as composed
// or decomposed characters hashes alike, with a fresh random salt and the
// Hasher's Params. It refuses passwords that are not valid UTF-8 or
// are longer than MaxPasswordLength, and fails with ErrBusy when no hashing
// slot frees up in time. Hash does not apply a Policy; call Policy.Check
// first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := checkLength(password); err != nil {
		return "", err
	}
	p := h.Params.withDefaults()
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := randomBytes(int(p.SaltLength))
	pw := []byte(norm.NFC.String(password))
	var key []byte
	err := h.compute(ctx, true, func(derive argon2Func) {
		key = derive("argon2id", pw, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	})
	if err != nil {
		return "", err
	}
	return encodePHC("argon2id", p.Memory, p.Iterations, p.Parallelism, salt, key), nil
}

// Verify reports whether password matches encoded, a stored hash in any
// format the package reads (see the package documentation).
//
// The password is tried in Unicode Normalization Form C first, as Hash
// stores it; when that form differs from the bytes given and does not
// match, the bytes as given are tried too, so a hash made elsewhere from
// unnormalized input (an imported one) still verifies.
//
// A wrong password is (false, nil). An error means Verify could not decide:
// the format is unknown (ErrUnknownFormat) or unreadable or too expensive
// (ErrMalformedHash), the password is too long for the format or not valid
// UTF-8 (ErrTooLong, ErrInvalidUTF8), or no hashing slot freed up in time
// (ErrBusy). The comparison takes constant time.
//
// After a successful Verify, call NeedsRehash and, if it reports true, store
// a new Hash of the password; VerifyRehash does both checks at once and
// also asks for a rehash of a hash that matched only the unnormalized bytes.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	ok, _, err := h.verify(ctx, password, encoded)
	return ok, err
}

// VerifyRehash is Verify that also reports whether encoded should be
// replaced by a new Hash of password: when NeedsRehash says so, or when
// password matched only in its unnormalized form (a rehash then stores it
// normalized). rehash is false unless ok is true.
func (h *Hasher) VerifyRehash(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	ok, raw, err := h.verify(ctx, password, encoded)
	if !ok || err != nil {
		return false, false, err
	}
	return true, raw || h.NeedsRehash(encoded), nil
}

// verify checks the NFC form of password, then its raw bytes when they
// differ; raw reports a match on the raw bytes only.
func (h *Hasher) verify(ctx context.Context, password, encoded string) (ok, raw bool, err error) {
	if err := checkLength(password); err != nil {
		return false, false, err
	}
	nfc := norm.NFC.String(password)
	for _, candidate := range []string{nfc, password} {
		check, isArgon2, err := parse(encoded, candidate)
		if err != nil {
			return false, false, err
		}
		if err := h.compute(ctx, isArgon2, func(derive argon2Func) { ok = check(derive) }); err != nil {
			return false, false, err
		}
		if ok || candidate == password {
			return ok, ok && candidate != nfc, nil
		}
	}
	return false, false, nil
}

// DummyVerify does the work of a Verify of password against a hash made with
// the Hasher's Params, and returns nil once it has; no password ever matches.
// Like a failing Verify, it computes twice for a password that is not in
// Unicode Normalization Form C, once for its normalized form and once for
// its bytes as given.
// Call it when a login names a user who does not exist, so that the response
// takes as long as a wrong password for a real user. It returns the same
// errors as Verify for a password that is too long or not valid UTF-8, and
// ErrBusy when no slot frees up in time.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	if err := checkLength(password); err != nil {
		return err
	}
	h.init()
	p := h.Params.withDefaults()
	if err := p.validate(); err != nil {
		return err
	}
	// A random key stands in for the hash of an unknown password: both are
	// indistinguishable from random, and the derivation below is exactly
	// the work Verify does for a stored hash with these parameters.
	nfc := norm.NFC.String(password)
	for _, candidate := range []string{nfc, password} {
		err := h.compute(ctx, true, func(derive argon2Func) {
			key := derive("argon2id", []byte(candidate), h.dummySalt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
			subtle.ConstantTimeCompare(key, h.dummyKey)
		})
		if err != nil || candidate == password {
			return err
		}
	}
	return nil
}

// NeedsRehash reports whether encoded should be replaced by a new Hash: true
// for anything but an argon2id hash whose memory, passes, lanes, salt and key
// lengths are all at least the Hasher's Params, including hashes that cannot
// be read.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p := h.Params.withDefaults()
	got, err := parsePHC(encoded)
	if err != nil || got.variant != "argon2id" {
		return true
	}
	return got.memory < p.Memory || got.time < p.Iterations || got.threads < p.Parallelism ||
		uint32(len(got.salt)) < p.SaltLength || uint32(len(got.key)) < p.KeyLength
}

// std is the Hasher behind the package-level functions.
var std Hasher

// Hash hashes password with a shared zero-value Hasher; see [Hasher.Hash].
func Hash(ctx context.Context, password string) (string, error) {
	return std.Hash(ctx, password)
}

// Verify checks password against encoded with a shared zero-value Hasher;
// see [Hasher.Verify].
func Verify(ctx context.Context, password, encoded string) (bool, error) {
	return std.Verify(ctx, password, encoded)
}

// NeedsRehash reports whether encoded is weaker than a default argon2id hash;
// see [Hasher.NeedsRehash].
func NeedsRehash(encoded string) bool {
	return std.NeedsRehash(encoded)
}

// checkLength refuses passwords that are not UTF-8 or longer than
// MaxPasswordLength code points, before any hashing is done.
func checkLength(password string) error {
	if !utf8.ValidString(password) {
		return errInvalidUTF8
	}
	if len(password) > maxPasswordBytes || codePoints(password) > MaxPasswordLength {
		return tooLong(MaxPasswordLength)
	}
	return nil
}

// codePoints returns the length of s in Unicode code points after NFC
// normalization.
func codePoints(s string) int {
	return utf8.RuneCountInString(norm.NFC.String(s))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never returns an error since Go 1.24; it crashes the program instead
	return b
}

func encodePHC(variant string, memory, time uint32, threads uint8, salt, key []byte) string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", variant, argon2.Version, memory, time, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckHash reports whether encoded is a hash that Verify can check: a
// supported format with parameters inside the package's limits. It does no
// hashing, so it is cheap enough to validate a whole import file. The
// error wraps ErrUnknownFormat or ErrMalformedHash.
func CheckHash(encoded string) error {
	_, _, err := parse(encoded, "")
	return err
}
