// Package twofa is hallpass's second factor: TOTP (RFC 6238: six digits,
// HMAC-SHA-1, 30-second steps, one step of clock drift either way) with
// single-use recovery codes. A Service enrols users, checks codes and
// keeps the secrets sealed at rest; it is the login.SecondFactor a
// login.Manager asks at each sign-in, so every way of signing in passes
// through the same gate.
//
// The Service works on user IDs only: an app with its own user table
// uses it unchanged, with any Store (memstore, sqlitestore, pgstore).
package twofa

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/skip2/go-qrcode"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/session"
)

// Period is the TOTP time step.
const Period = 30 * time.Second

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// Errors. Check them with errors.Is.
var (
	// ErrInvalidCode reports a wrong, malformed or already used code.
	// Kind autherr.Unauthenticated, code "invalid_code".
	ErrInvalidCode error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "invalid_code",
		Message: "That code is not correct.", Err: errors.New("twofa: invalid code")}

	// ErrNotEnrolled reports a user without a second factor. Kind
	// autherr.NotFound.
	ErrNotEnrolled error = &autherr.Error{Kind: autherr.NotFound, Code: "not_enrolled",
		Message: "Two-factor authentication is not on.", Err: errors.New("twofa: no second factor")}

	// ErrEnrolled reports an enrolment of a user who already has a
	// second factor. Kind autherr.Conflict.
	ErrEnrolled error = &autherr.Error{Kind: autherr.Conflict, Code: "already_enrolled",
		Message: "Two-factor authentication is already on.", Err: errors.New("twofa: already enrolled")}

	// ErrStoreUnavailable wraps every failure of the Store. Kind
	// autherr.Unavailable.
	ErrStoreUnavailable error = autherr.New(autherr.Unavailable, "twofa: store unavailable")
)

// Config configures a Service.
type Config struct {
	// Store keeps the factors. Required.
	Store Store
	// StoreTimeout is the deadline of each store call; past it the call
	// fails and the request gets a 503, as with the session store.
	// Default session.DefaultStoreTimeout (3 seconds); negative: none.
	StoreTimeout time.Duration
	// Keys are the server's secret keys; the first seals new secrets,
	// every one opens them (rotation). The sealing key is derived from
	// each with HKDF-SHA-256, so it is never the key used elsewhere.
	// Required.
	Keys [][]byte
	// Issuer names the site in authenticator apps. Default "hallpass".
	Issuer string
	// Audit records enrolments, removals and recovery code use; nil
	// discards them.
	Audit *audit.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Service enrols users and checks their codes. It is safe for
// concurrent use.
type Service struct {
	cfg  Config
	aead []cipher.AEAD
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || len(cfg.Keys) == 0 {
		return nil, errors.New("twofa: Config.Store and Keys are required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "hallpass"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = session.DefaultStoreTimeout
	}
	if cfg.StoreTimeout > 0 {
		cfg.Store = deadlineStore{cfg.Store, cfg.StoreTimeout}
	}
	s := &Service{cfg: cfg}
	for _, k := range cfg.Keys {
		if len(k) == 0 {
			return nil, errors.New("twofa: Config.Keys holds an empty key")
		}
		dk, err := hkdf.Key(sha256.New, k, nil, "hallpass twofa totp secret v1", 32)
		if err != nil {
			return nil, fmt.Errorf("twofa: derive key: %w", err)
		}
		block, err := aes.NewCipher(dk)
		if err != nil {
			return nil, fmt.Errorf("twofa: %w", err)
		}
		a, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("twofa: %w", err)
		}
		s.aead = append(s.aead, a)
	}
	return s, nil
}

func (s *Service) record(ctx context.Context, e audit.Event) { s.cfg.Audit.Record(ctx, e) }

func storeErr(op string, err error) error {
	return fmt.Errorf("twofa: %s: %w: %w", op, ErrStoreUnavailable, err)
}

// seal encrypts secret for userID (bound to it, so a sealed secret copied
// to another user's row does not open).
func (s *Service) seal(userID, secret string) []byte {
	a := s.aead[0]
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, []byte(secret), []byte(userID))
}

func (s *Service) open(userID string, sealed []byte) (string, error) {
	for _, a := range s.aead {
		n := a.NonceSize()
		if len(sealed) < n {
			break
		}
		if b, err := a.Open(nil, sealed[:n], sealed[n:], []byte(userID)); err == nil {
			return string(b), nil
		}
	}
	return "", errors.New("twofa: the stored secret does not open with any configured key")
}

// Enrolment is a new TOTP secret offered to a user, not yet confirmed.
type Enrolment struct {
	Secret string // base32, no padding: what a person types into an app
	URL    string // the otpauth:// URI
}

// QR returns the URI as a PNG QR code of size×size pixels, made here.
func (e *Enrolment) QR(size int) ([]byte, error) {
	png, err := qrcode.Encode(e.URL, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("twofa: QR code: %w", err)
	}
	return png, nil
}

// NewEnrolment returns a new random secret (160 bits) for the account
// named accountName. Keep its Secret on the server (in the session)
// until Enable confirms it.
func (s *Service) NewEnrolment(accountName string) (*Enrolment, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: accountName})
	if err != nil {
		return nil, fmt.Errorf("twofa: new secret: %w", err)
	}
	return &Enrolment{Secret: k.Secret(), URL: k.URL()}, nil
}

// SessionEnrolment returns the enrolment offered to accountName in a
// browser's session, kept there under key until Enable confirms it: the
// one already offered, or, with create, a new one (NewEnrolment) that it
// keeps. Without one and without create it returns ErrNotEnrolled.
func (s *Service) SessionEnrolment(sess *session.Session, key, accountName string, create bool) (*Enrolment, error) {
	if secret := sess.GetString(key); secret != "" {
		return s.EnrolmentFor(accountName, secret)
	}
	if !create {
		return nil, ErrNotEnrolled
	}
	e, err := s.NewEnrolment(accountName)
	if err != nil {
		return nil, err
	}
	if err := sess.Put(key, e.Secret); err != nil {
		return nil, err
	}
	return e, nil
}

// EnrolmentFor rebuilds the Enrolment of a secret kept from NewEnrolment.
func (s *Service) EnrolmentFor(accountName, secret string) (*Enrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) == 0 {
		return nil, errors.New("twofa: the secret is not base32")
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: accountName, Secret: raw})
	if err != nil {
		return nil, fmt.Errorf("twofa: secret: %w", err)
	}
	return &Enrolment{Secret: k.Secret(), URL: k.URL()}, nil
}

var opts = totp.ValidateOpts{Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Code returns the TOTP code of secret (base32) at t, for tests and
// tools.
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, opts)
}

// step returns the time step of code for secret at now, checking one
// step either way, or false.
func step(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / int64(Period/time.Second)
	for _, d := range []int64{0, -1, 1} {
		st := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*int64(Period/time.Second), 0), opts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st, true
		}
	}
	return 0, false
}

// normalize strips the spaces and dashes people type inside codes.
func normalize(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(code))
}

// Enable confirms an enrolment: code must be the secret's current code.
// It stores the secret sealed and returns RecoveryCodeCount new recovery
// codes, to show once (only their digests are kept). The code's step
// counts as used. ErrEnrolled when the user already has a factor: of
// concurrent calls for one user, exactly one succeeds, so the secret and
// recovery codes a caller is given are the ones stored.
func (s *Service) Enable(ctx context.Context, userID, secret, code string) ([]string, error) {
	st, ok := step(secret, normalize(code), s.cfg.Now())
	if !ok {
		return nil, ErrInvalidCode
	}
	codes, hashes := newRecoveryCodes()
	f := &Factor{UserID: userID, Secret: s.seal(userID, secret), EnabledAt: s.cfg.Now().Truncate(time.Millisecond),
		LastStep: st, RecoveryCodes: hashes}
	switch err := s.cfg.Store.CreateSecondFactor(ctx, f); {
	case errors.Is(err, account.ErrConflict):
		return nil, ErrEnrolled
	case err != nil:
		return nil, storeErr("save factor", err)
	}
	s.record(ctx, audit.Event{Name: audit.SecondFactorEnable, UserID: userID})
	return codes, nil
}

// EnrolledAt returns when userID enabled a second factor, or the zero
// time when the user has none.
func (s *Service) EnrolledAt(ctx context.Context, userID string) (time.Time, error) {
	f, err := s.cfg.Store.SecondFactor(ctx, userID)
	if errors.Is(err, account.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, storeErr("load factor", err)
	}
	return f.EnabledAt, nil
}

// Status is what the account page shows about a user's second factor.
type Status struct {
	Enabled       bool
	EnabledAt     time.Time
	RecoveryCodes int // unused recovery codes left
}

// Status returns userID's second-factor status.
func (s *Service) Status(ctx context.Context, userID string) (Status, error) {
	f, err := s.cfg.Store.SecondFactor(ctx, userID)
	if errors.Is(err, account.ErrNotFound) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, storeErr("load factor", err)
	}
	return Status{Enabled: true, EnabledAt: f.EnabledAt, RecoveryCodes: len(f.RecoveryCodes)}, nil
}

// Verify checks code, a current TOTP code or an unused recovery code, for
// userID and uses it up: a TOTP code is refused again within its window
// (and so is any code of an earlier step), a recovery code is gone.
// ErrInvalidCode for a wrong or used code, ErrNotEnrolled for a user
// without a factor.
func (s *Service) Verify(ctx context.Context, userID, code string) error {
	f, err := s.factor(ctx, userID)
	if err != nil {
		return err
	}
	code = normalize(code)
	if len(code) == 6 {
		return s.useTOTP(ctx, f, code)
	}
	err = s.cfg.Store.UseRecoveryCode(ctx, userID, hashCode(code))
	switch {
	case errors.Is(err, account.ErrNotFound):
		return ErrInvalidCode
	case err != nil:
		return storeErr("use recovery code", err)
	}
	s.record(ctx, audit.Event{Name: audit.RecoveryCodeUsed, UserID: userID, Count: len(f.RecoveryCodes) - 1})
	return nil
}

// VerifyTOTP is Verify for TOTP codes only (recovery codes are refused),
// for confirming a sensitive change such as Disable.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	f, err := s.factor(ctx, userID)
	if err != nil {
		return err
	}
	return s.useTOTP(ctx, f, normalize(code))
}

func (s *Service) factor(ctx context.Context, userID string) (*Factor, error) {
	f, err := s.cfg.Store.SecondFactor(ctx, userID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, storeErr("load factor", err)
	}
	return f, nil
}

func (s *Service) useTOTP(ctx context.Context, f *Factor, code string) error {
	secret, err := s.open(f.UserID, f.Secret)
	if err != nil {
		return err
	}
	st, ok := step(secret, code, s.cfg.Now())
	if !ok || st <= f.LastStep {
		return ErrInvalidCode
	}
	switch err := s.cfg.Store.UseTOTPStep(ctx, f.UserID, st); {
	case errors.Is(err, account.ErrConflict), errors.Is(err, account.ErrNotFound):
		return ErrInvalidCode // a parallel request used it first
	case err != nil:
		return storeErr("use code", err)
	}
	return nil
}

// Disable removes userID's second factor after checking a current TOTP
// code or a recovery code (used up like Verify).
func (s *Service) Disable(ctx context.Context, userID, code string) error {
	if err := s.Verify(ctx, userID, code); err != nil {
		return err
	}
	return s.remove(ctx, userID, "", "")
}

// Reset removes userID's second factor without a code, for an operator
// (actorID, "" for the command line); ErrNotEnrolled when there is none.
func (s *Service) Reset(ctx context.Context, actorID, userID string) error {
	return s.remove(ctx, userID, actorID, "reset")
}

func (s *Service) remove(ctx context.Context, userID, actorID, reason string) error {
	err := s.cfg.Store.DeleteSecondFactor(ctx, userID)
	if errors.Is(err, account.ErrNotFound) {
		return ErrNotEnrolled
	}
	if err != nil {
		return storeErr("delete factor", err)
	}
	s.record(ctx, audit.Event{Name: audit.SecondFactorDisable, UserID: userID, Actor: actorID, Reason: reason})
	return nil
}

// NewRecoveryCodes replaces userID's recovery codes with a new set, to
// show once; the old ones stop working.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, hashes := newRecoveryCodes()
	err := s.cfg.Store.SetRecoveryCodes(ctx, userID, hashes)
	if errors.Is(err, account.ErrNotFound) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, storeErr("save recovery codes", err)
	}
	s.record(ctx, audit.Event{Name: audit.RecoveryCodesNew, UserID: userID, Count: len(codes)})
	return codes, nil
}

// Enrolled returns the set of user IDs with a second factor.
func (s *Service) Enrolled(ctx context.Context) (map[string]bool, error) {
	ids, err := s.cfg.Store.UsersWithSecondFactor(ctx)
	if err != nil {
		return nil, storeErr("list factors", err)
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}

// recoveryEncoding spells recovery codes: lower-case base32 without
// padding, 10 characters (50 bits) each, shown as two groups of five.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range RecoveryCodeCount {
		b := make([]byte, 7)
		rand.Read(b)
		c := strings.ToLower(recoveryEncoding.EncodeToString(b))[:10]
		codes = append(codes, c[:5]+"-"+c[5:])
		hashes = append(hashes, hashCode(c))
	}
	return codes, hashes
}

// hashCode digests a normalized recovery code. The codes carry 50 random
// bits and are throttled at login, so a fast hash is enough.
func hashCode(code string) []byte {
	sum := sha256.Sum256([]byte(strings.ToLower(code)))
	return sum[:]
}
