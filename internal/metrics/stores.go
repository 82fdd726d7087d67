package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// The store label of each kind of store.
const (
	storeSessions = "sessions"
	storeAccounts = "accounts"
	storeThrottle = "throttle"
)

// failed reports whether err is a failure of the store, rather than an
// answer its contract defines (not found, conflict, taken, invalid) or a
// client that went away.
func failed(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, session.ErrNotFound),
		errors.Is(err, account.ErrNotFound),
		errors.Is(err, account.ErrConflict),
		errors.Is(err, account.ErrUsernameTaken),
		errors.Is(err, account.ErrInvalid),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// storeCall records one call to a store that began at start.
func (m *Metrics) storeCall(store, op string, start time.Time, err error) {
	m.storeDuration.WithLabelValues(store, op).Observe(time.Since(start).Seconds())
	if failed(err) {
		m.storeErrors.WithLabelValues(store, op).Inc()
	}
}

// zero makes the error series of store's operations show from zero.
func (m *Metrics) zero(store string, ops ...string) {
	for _, op := range ops {
		m.storeErrors.WithLabelValues(store, op)
	}
}

// SessionStore returns s with every call timed and its failures counted.
// The result has the optional interfaces s has (session.UserIndex,
// session.Sweeper), and no others.
func (m *Metrics) SessionStore(s session.Store) session.Store {
	if m == nil {
		return s
	}
	base := &sessionStore{s: s, m: m}
	m.zero(storeSessions, "load", "create", "update", "delete")
	ix, hasIndex := s.(session.UserIndex)
	sw, hasSweep := s.(session.Sweeper)
	if hasIndex {
		m.zero(storeSessions, "list_by_user", "delete_by_user")
	}
	if hasSweep {
		m.zero(storeSessions, "sweep")
	}
	switch {
	case hasIndex && hasSweep:
		return struct {
			*sessionStore
			sessionIndex
			sweeper
		}{base, sessionIndex{ix, m}, sweeper{sw, m, storeSessions}}
	case hasIndex:
		return struct {
			*sessionStore
			sessionIndex
		}{base, sessionIndex{ix, m}}
	case hasSweep:
		return struct {
			*sessionStore
			sweeper
		}{base, sweeper{sw, m, storeSessions}}
	}
	return base
}

type sessionStore struct {
	s session.Store
	m *Metrics
}

// Unwrap returns the store w times, so the session Manager sees through it
// (session.InProcessStore).
func (w *sessionStore) Unwrap() session.Store { return w.s }

func (w *sessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	start := time.Now()
	v, err := w.s.Load(ctx, id)
	w.m.storeCall(storeSessions, "load", start, err)
	return v, err
}

func (w *sessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	start := time.Now()
	err := w.s.Create(ctx, id, rec)
	w.m.storeCall(storeSessions, "create", start, err)
	return err
}

func (w *sessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	start := time.Now()
	err := w.s.Update(ctx, id, u)
	w.m.storeCall(storeSessions, "update", start, err)
	return err
}

func (w *sessionStore) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := w.s.Delete(ctx, id)
	w.m.storeCall(storeSessions, "delete", start, err)
	return err
}

type sessionIndex struct {
	ix session.UserIndex
	m  *Metrics
}

func (w sessionIndex) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	start := time.Now()
	v, err := w.ix.ListByUser(ctx, userID)
	w.m.storeCall(storeSessions, "list_by_user", start, err)
	return v, err
}

func (w sessionIndex) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	start := time.Now()
	v, err := w.ix.DeleteByUser(ctx, userID, except...)
	w.m.storeCall(storeSessions, "delete_by_user", start, err)
	return v, err
}

// sweeper times the Sweep of a session or account store.
type sweeper struct {
	sw    session.Sweeper
	m     *Metrics
	store string
}

func (w sweeper) Sweep(ctx context.Context) (int, error) {
	start := time.Now()
	v, err := w.sw.Sweep(ctx)
	w.m.storeCall(w.store, "sweep", start, err)
	return v, err
}

// AccountStores is what the server's accounts database provides.
type AccountStores interface {
	account.Store
	account.RememberStore
	account.TokenStore
}

// AccountStores returns s with every call timed and its failures
// counted. The result is an account.Importer, an account.Deleter, and has
// a Sweep method, exactly when s does.
func (m *Metrics) AccountStores(s AccountStores) AccountStores {
	if m == nil {
		return s
	}
	m.zero(storeAccounts, "create_user", "user_by_id", "user_by_username", "list_users", "set_password", "change_password",
		"rehash_password", "set_disabled", "set_roles", "create_remember", "remember_by_selector",
		"rotate_remember", "delete_remember", "delete_remember_by_user", "create_token", "token_by_hash",
		"list_tokens", "touch_token", "delete_token", "delete_tokens_by_user")
	base := &accountStores{s: s, m: m}
	im, hasImport := s.(account.Importer)
	sw, hasSweep := s.(session.Sweeper)
	de, hasDelete := s.(account.Deleter)
	if hasImport {
		m.zero(storeAccounts, "import_users")
	}
	if hasSweep {
		m.zero(storeAccounts, "sweep")
	}
	if hasDelete {
		m.zero(storeAccounts, "delete_user")
	}
	i, w, d := accountImporter{im, m}, sweeper{sw, m, storeAccounts}, accountDeleter{de, m}
	// One anonymous type for each set of optional interfaces, so a type
	// assertion on the result answers as it would on s.
	switch {
	case hasImport && hasSweep && hasDelete:
		return struct {
			*accountStores
			accountImporter
			sweeper
			accountDeleter
		}{base, i, w, d}
	case hasImport && hasSweep:
		return struct {
			*accountStores
			accountImporter
			sweeper
		}{base, i, w}
	case hasImport && hasDelete:
		return struct {
			*accountStores
			accountImporter
			accountDeleter
		}{base, i, d}
	case hasSweep && hasDelete:
		return struct {
			*accountStores
			sweeper
			accountDeleter
		}{base, w, d}
	case hasImport:
		return struct {
			*accountStores
			accountImporter
		}{base, i}
	case hasSweep:
		return struct {
			*accountStores
			sweeper
		}{base, w}
	case hasDelete:
		return struct {
			*accountStores
			accountDeleter
		}{base, d}
	}
	return base
}

type accountStores struct {
	s AccountStores
	m *Metrics
}

func (w *accountStores) CreateUser(ctx context.Context, u *account.User) error {
	start := time.Now()
	err := w.s.CreateUser(ctx, u)
	w.m.storeCall(storeAccounts, "create_user", start, err)
	return err
}

func (w *accountStores) UserByID(ctx context.Context, id string) (*account.User, error) {
	start := time.Now()
	v, err := w.s.UserByID(ctx, id)
	w.m.storeCall(storeAccounts, "user_by_id", start, err)
	return v, err
}

func (w *accountStores) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	start := time.Now()
	v, err := w.s.UserByUsername(ctx, name)
	w.m.storeCall(storeAccounts, "user_by_username", start, err)
	return v, err
}

func (w *accountStores) ListUsers(ctx context.Context, opt account.ListOptions) ([]*account.User, error) {
	start := time.Now()
	v, err := w.s.ListUsers(ctx, opt)
	w.m.storeCall(storeAccounts, "list_users", start, err)
	return v, err
}

func (w *accountStores) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error {
	start := time.Now()
	err := w.s.SetPassword(ctx, id, hash, changedAt)
	w.m.storeCall(storeAccounts, "set_password", start, err)
	return err
}

// ChangePassword is the wrapped store's (account.PasswordChanger), or an
// error wrapping account.ErrNotSupported when it has none.
func (w *accountStores) ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) error {
	c, ok := w.s.(account.PasswordChanger)
	if !ok {
		return fmt.Errorf("metrics: %T has no ChangePassword: %w", w.s, account.ErrNotSupported)
	}
	start := time.Now()
	err := c.ChangePassword(ctx, id, oldHash, newHash, changedAt)
	w.m.storeCall(storeAccounts, "change_password", start, err)
	return err
}

func (w *accountStores) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	start := time.Now()
	err := w.s.RehashPassword(ctx, id, oldHash, newHash)
	w.m.storeCall(storeAccounts, "rehash_password", start, err)
	return err
}

func (w *accountStores) SetDisabled(ctx context.Context, id string, disabled bool) error {
	start := time.Now()
	err := w.s.SetDisabled(ctx, id, disabled)
	w.m.storeCall(storeAccounts, "set_disabled", start, err)
	return err
}

func (w *accountStores) SetRoles(ctx context.Context, id string, roles []string) error {
	start := time.Now()
	err := w.s.SetRoles(ctx, id, roles)
	w.m.storeCall(storeAccounts, "set_roles", start, err)
	return err
}

func (w *accountStores) CreateRemember(ctx context.Context, t *account.RememberToken) error {
	start := time.Now()
	err := w.s.CreateRemember(ctx, t)
	w.m.storeCall(storeAccounts, "create_remember", start, err)
	return err
}

func (w *accountStores) RememberBySelector(ctx context.Context, selector string, now time.Time) (*account.RememberToken, error) {
	start := time.Now()
	v, err := w.s.RememberBySelector(ctx, selector, now)
	w.m.storeCall(storeAccounts, "remember_by_selector", start, err)
	return v, err
}

func (w *accountStores) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	start := time.Now()
	err := w.s.RotateRemember(ctx, selector, oldHash, newHash, now, expiresAt)
	w.m.storeCall(storeAccounts, "rotate_remember", start, err)
	return err
}

func (w *accountStores) DeleteRemember(ctx context.Context, selector string) error {
	start := time.Now()
	err := w.s.DeleteRemember(ctx, selector)
	w.m.storeCall(storeAccounts, "delete_remember", start, err)
	return err
}

func (w *accountStores) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	start := time.Now()
	v, err := w.s.DeleteRememberByUser(ctx, userID)
	w.m.storeCall(storeAccounts, "delete_remember_by_user", start, err)
	return v, err
}

func (w *accountStores) CreateToken(ctx context.Context, t *account.APIToken) error {
	start := time.Now()
	err := w.s.CreateToken(ctx, t)
	w.m.storeCall(storeAccounts, "create_token", start, err)
	return err
}

func (w *accountStores) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	start := time.Now()
	v, err := w.s.TokenByHash(ctx, hash, now)
	w.m.storeCall(storeAccounts, "token_by_hash", start, err)
	return v, err
}

func (w *accountStores) ListTokens(ctx context.Context, userID string) ([]*account.APIToken, error) {
	start := time.Now()
	v, err := w.s.ListTokens(ctx, userID)
	w.m.storeCall(storeAccounts, "list_tokens", start, err)
	return v, err
}

func (w *accountStores) TouchToken(ctx context.Context, id string, t time.Time) error {
	start := time.Now()
	err := w.s.TouchToken(ctx, id, t)
	w.m.storeCall(storeAccounts, "touch_token", start, err)
	return err
}

func (w *accountStores) DeleteToken(ctx context.Context, userID, id string) error {
	start := time.Now()
	err := w.s.DeleteToken(ctx, userID, id)
	w.m.storeCall(storeAccounts, "delete_token", start, err)
	return err
}

func (w *accountStores) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	start := time.Now()
	v, err := w.s.DeleteTokensByUser(ctx, userID)
	w.m.storeCall(storeAccounts, "delete_tokens_by_user", start, err)
	return v, err
}

type accountImporter struct {
	im account.Importer
	m  *Metrics
}

func (w accountImporter) ImportUsers(ctx context.Context, users []*account.User) error {
	start := time.Now()
	err := w.im.ImportUsers(ctx, users)
	w.m.storeCall(storeAccounts, "import_users", start, err)
	return err
}

type accountDeleter struct {
	de account.Deleter
	m  *Metrics
}

func (w accountDeleter) DeleteUser(ctx context.Context, userID string) error {
	start := time.Now()
	err := w.de.DeleteUser(ctx, userID)
	w.m.storeCall(storeAccounts, "delete_user", start, err)
	return err
}

// Counter returns c with every call timed and its failures counted.
func (m *Metrics) Counter(c throttle.Counter) throttle.Counter {
	if m == nil {
		return c
	}
	m.zero(storeThrottle, "incr", "reserve", "release", "get", "reset")
	return &counter{c: c, m: m}
}

type counter struct {
	c throttle.Counter
	m *Metrics
}

func (w *counter) Incr(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	start := time.Now()
	n, reset, err := w.c.Incr(ctx, key, window)
	w.m.storeCall(storeThrottle, "incr", start, err)
	return n, reset, err
}

func (w *counter) Reserve(ctx context.Context, key string, limit int, window time.Duration) (int, time.Time, bool, error) {
	start := time.Now()
	n, reset, ok, err := w.c.Reserve(ctx, key, limit, window)
	w.m.storeCall(storeThrottle, "reserve", start, err)
	return n, reset, ok, err
}

func (w *counter) Release(ctx context.Context, key string) error {
	start := time.Now()
	err := w.c.Release(ctx, key)
	w.m.storeCall(storeThrottle, "release", start, err)
	return err
}

func (w *counter) Get(ctx context.Context, key string) (int, time.Time, error) {
	start := time.Now()
	n, reset, err := w.c.Get(ctx, key)
	w.m.storeCall(storeThrottle, "get", start, err)
	return n, reset, err
}

func (w *counter) Reset(ctx context.Context, key string) error {
	start := time.Now()
	err := w.c.Reset(ctx, key)
	w.m.storeCall(storeThrottle, "reset", start, err)
	return err
}

var (
	_ session.Store     = (*sessionStore)(nil)
	_ session.UserIndex = sessionIndex{}
	_ session.Sweeper   = sweeper{}
	_ AccountStores     = (*accountStores)(nil)
	_ account.Importer  = accountImporter{}
	_ account.Deleter   = accountDeleter{}
	_ throttle.Counter  = (*counter)(nil)
)
