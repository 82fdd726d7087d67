// Package apitoken issues and checks API bearer tokens for scripts and
// JavaScript clients.
//
// A token is "hp_" followed by 256 random bits in base64url: the prefix
// makes a leaked token easy to recognise (secret scanners, logs). The
// secret is shown once, at creation; the store keeps only its SHA-256
// digest. Tokens are accepted only in an "Authorization: Bearer" header.
//
// Every token carries scopes, chosen at creation, that bound what it may
// do whoever its owner is: ScopeRead for safe requests (GET, HEAD),
// ScopeWrite for the others, and ScopeAdmin, in addition, for
// administrators' routes. Package login enforces them.
package apitoken

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/internal/outage"
	"github.com/hallpass/hallpass/session"
)

// Prefix starts every token.
const Prefix = "hp_"

// secretEncoding encodes the random part. It decodes strictly (the spare
// bits of the last character must be zero), so a token has exactly one
// valid spelling.
var secretEncoding = base64.RawURLEncoding.Strict()

// secretLen is the length of the encoded random part.
var secretLen = secretEncoding.EncodedLen(32)

// Errors. Check them with errors.Is.
var (
	// ErrNoToken reports a request without an Authorization: Bearer header.
	ErrNoToken error = autherr.New(autherr.Unauthenticated, "apitoken: no bearer token")
	// ErrInvalid reports a token that is malformed, unknown, revoked or
	// expired. The cases are not told apart.
	ErrInvalid error = autherr.New(autherr.Unauthenticated, "apitoken: invalid or expired token")
)

// MaxNameLen bounds a token's name.
const MaxNameLen = 100

// MaxLifetime bounds a token's lifetime, so its expiry stays a sane date.
const MaxLifetime = 10 * 365 * 24 * time.Hour

// ErrAdminScope reports a token asked with ScopeAdmin by a user who is not
// an administrator. Kind autherr.Forbidden, with a message for the field
// "scopes".
var ErrAdminScope error = &autherr.Error{Kind: autherr.Forbidden, Message: msgAdminScope,
	Fields: map[string]string{"scopes": msgAdminScope}, Err: errors.New("apitoken: admin scope refused")}

const msgAdminScope = "Only administrators can give a token the admin scope."

// Scopes a token may carry.
const (
	ScopeRead  = "read"  // safe requests: GET, HEAD, OPTIONS
	ScopeWrite = "write" // requests that change something: POST, PUT, PATCH, DELETE
	ScopeAdmin = "admin" // administrators' routes (with read or write as well); only an admin's token may carry it
)

// AllScopes lists every scope, in the order ParseScopes returns them.
func AllScopes() []string { return []string{ScopeRead, ScopeWrite, ScopeAdmin} }

// ParseScopes checks the scopes asked for a new token and returns them
// without duplicates, in the order of AllScopes. An unknown scope, or none
// at all, is an *account.FieldError for the field "scopes" with a message
// for a person.
func ParseScopes(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		if !slices.Contains(AllScopes(), s) {
			if len(s) > 20 {
				s = s[:20] + "…"
			}
			return nil, &account.FieldError{Field: "scopes", Message: fmt.Sprintf("%q is not a scope: choose read, write or admin.", s)}
		}
	}
	for _, s := range AllScopes() {
		if slices.Contains(in, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, &account.FieldError{Field: "scopes", Message: "Choose at least one scope: read, write or admin."}
	}
	return out, nil
}

// Service creates, checks and revokes tokens on a TokenStore.
type Service struct {
	// Store keeps the tokens. Required.
	Store account.TokenStore
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Audit records the tokens Issue creates and RevokeBy revokes. Nil
	// discards the events.
	Audit *audit.Logger
	// TouchEvery limits how often a token's last-used time is written:
	// a use within this long of the recorded one does not write. Default
	// one minute.
	TouchEvery time.Duration
	// StoreTimeout is the deadline of each Store call; past it the call
	// fails as unavailable (a 503), as with the session store, instead of
	// hanging the request while the store is silent. Default
	// session.DefaultStoreTimeout (3 seconds); negative: none.
	StoreTimeout time.Duration
	// Logger receives a failure to record a token's use, which does not
	// fail the request: once per outage of the store's writes, with its
	// end. Default slog.Default().
	Logger *slog.Logger

	touch atomic.Pointer[outage.Log] // failures to record a use, made on first need
}

// touchLog returns the outage log of failures to record a token's use.
func (s *Service) touchLog() *outage.Log {
	if l := s.touch.Load(); l != nil {
		return l
	}
	l := &outage.Log{Name: "apitoken: recording token use", Logger: cmp.Or(s.Logger, slog.Default()), Now: s.Now, Level: slog.LevelWarn}
	if !s.touch.CompareAndSwap(nil, l) {
		l = s.touch.Load()
	}
	return l
}

// storeCtx returns ctx with the deadline of one Store call.
func (s *Service) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.StoreTimeout
	if d == 0 {
		d = session.DefaultStoreTimeout
	}
	if d < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Hash returns the digest under which a token's secret is stored.
func Hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// WellFormed reports whether secret has the shape of a token, without a
// store lookup: the prefix, then 256 bits in the one base64url spelling
// Create writes.
func WellFormed(secret string) bool {
	if len(secret) != len(Prefix)+secretLen || !strings.HasPrefix(secret, Prefix) {
		return false
	}
	var b [32]byte
	n, err := secretEncoding.Decode(b[:], []byte(secret[len(Prefix):]))
	return err == nil && n == len(b)
}

// Actor is the person asking for a token or its revocation.
type Actor struct {
	UserID string
	IP     string // the client address, for the audit log
	Admin  bool   // an administrator: may give a token ScopeAdmin
}

// Issue creates a token for a, as Create does, after refusing ScopeAdmin
// (ErrAdminScope) to a user who is not an administrator, and records it
// in the audit log.
func (s *Service) Issue(ctx context.Context, a Actor, name string, scopes []string, expiresIn time.Duration) (string, *account.APIToken, error) {
	if slices.Contains(scopes, ScopeAdmin) && !a.Admin {
		if _, err := checkRequest(name, scopes, expiresIn); err != nil {
			return "", nil, err // the form's own mistakes first
		}
		return "", nil, ErrAdminScope
	}
	secret, t, err := s.Create(ctx, a.UserID, name, scopes, expiresIn)
	if err != nil {
		return "", nil, err
	}
	s.Audit.Record(ctx, audit.Event{Name: audit.TokenCreate, UserID: a.UserID, IP: a.IP, Reason: t.ID})
	return secret, t, nil
}

// RevokeBy revokes a's token id, as Revoke does, and records it in the
// audit log.
func (s *Service) RevokeBy(ctx context.Context, a Actor, id string) error {
	if err := s.Revoke(ctx, a.UserID, id); err != nil {
		return err
	}
	s.Audit.Record(ctx, audit.Event{Name: audit.TokenRevoke, UserID: a.UserID, IP: a.IP, Reason: id})
	return nil
}

// checkRequest checks a new token's name, scopes and lifetime, and returns
// the scopes as ParseScopes does. Each problem is an *account.FieldError.
func checkRequest(name string, scopes []string, expiresIn time.Duration) ([]string, error) {
	if err := account.ValidateText("name", "A token name", strings.TrimSpace(name)); err != nil {
		return nil, err
	}
	if expiresIn < 0 || expiresIn > MaxLifetime {
		return nil, &account.FieldError{Field: "expires_in", Message: fmt.Sprintf("A token expires in 0 (never) to %d seconds (10 years).", int64(MaxLifetime/time.Second))}
	}
	scopes, err := ParseScopes(scopes)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxNameLen {
		return nil, &account.FieldError{Field: "name", Message: fmt.Sprintf("A token name is 1 to %d characters long.", MaxNameLen)}
	}
	return scopes, nil
}

// Create issues a token named name (1 to MaxNameLen bytes once trimmed,
// text that account.ValidateText accepts: no control or bidi characters)
// for userID with scopes (checked by ParseScopes), expiring after
// expiresIn (0 for never, at most MaxLifetime). It returns the secret, to
// show once, and the stored record. Each invalid argument is
// an *account.FieldError. Whether the user may have ScopeAdmin is the
// caller's decision (Issue decides it).
func (s *Service) Create(ctx context.Context, userID, name string, scopes []string, expiresIn time.Duration) (string, *account.APIToken, error) {
	scopes, err := checkRequest(name, scopes, expiresIn)
	if err != nil {
		return "", nil, err
	}
	name = strings.TrimSpace(name)
	var b [32]byte
	rand.Read(b[:])
	secret := Prefix + secretEncoding.EncodeToString(b[:])
	now := s.now()
	t := &account.APIToken{UserID: userID, Name: name, Hash: Hash(secret), CreatedAt: now, Scopes: scopes}
	if expiresIn > 0 {
		t.ExpiresAt = now.Add(expiresIn)
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if err := s.Store.CreateToken(sctx, t); err != nil {
		return "", nil, storeErr("create", err)
	}
	return secret, t, nil
}

// FromRequest returns the bearer token of r, or ErrNoToken. Only the
// Authorization header is read: tokens in URLs end up in logs.
func FromRequest(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrNoToken
	}
	return tok, nil
}

// Check returns the stored token for secret, recording its use, or
// ErrInvalid. A malformed secret costs no store lookup.
func (s *Service) Check(ctx context.Context, secret string) (*account.APIToken, error) {
	if !WellFormed(secret) {
		return nil, ErrInvalid
	}
	now := s.now()
	sctx, cancel := s.storeCtx(ctx)
	t, err := s.Store.TokenByHash(sctx, Hash(secret), now)
	cancel()
	if errors.Is(err, account.ErrNotFound) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, storeErr("check", err)
	}
	every := s.TouchEvery
	if every == 0 {
		every = time.Minute
	}
	if now.Sub(t.LastUsedAt) >= every {
		sctx, cancel := s.storeCtx(ctx)
		defer cancel()
		switch err := s.Store.TouchToken(sctx, t.ID, now); {
		case errors.Is(err, account.ErrNotFound):
			return nil, ErrInvalid // revoked meanwhile
		case err != nil:
			// The token is valid; when it was last used is for the
			// account page. A store that takes reads but no writes (a
			// full disk, a paused Redis) does not refuse the request.
			s.touchLog().Failed(ctx, "record a token's use (the request goes on)", err)
		default:
			t.LastUsedAt = now
			if l := s.touch.Load(); l != nil {
				l.OK()
			}
		}
	}
	return t, nil
}

// List returns the user's tokens, without secrets (none are stored).
func (s *Service) List(ctx context.Context, userID string) ([]*account.APIToken, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	l, err := s.Store.ListTokens(sctx, userID)
	if err != nil {
		return nil, storeErr("list", err)
	}
	return l, nil
}

// Revoke deletes the user's token id; account.ErrNotFound when the user
// has no such token.
func (s *Service) Revoke(ctx context.Context, userID, id string) error {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if err := s.Store.DeleteToken(sctx, userID, id); err != nil {
		return storeErr("revoke", err)
	}
	return nil
}

// RevokeAll deletes every token of the user and returns how many.
func (s *Service) RevokeAll(ctx context.Context, userID string) (int, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	n, err := s.Store.DeleteTokensByUser(sctx, userID)
	if err != nil {
		return n, storeErr("revoke all", err)
	}
	return n, nil
}

// storeErr wraps a failure of the token store while doing op, marking it
// autherr.Unavailable unless it has a kind already (account.ErrNotFound).
func storeErr(op string, err error) error {
	err = fmt.Errorf("apitoken: %s: %w", op, err)
	if autherr.KindOf(err) == autherr.Internal {
		return autherr.Wrap(err, autherr.Unavailable, "")
	}
	return err
}
