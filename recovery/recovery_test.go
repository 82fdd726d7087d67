package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/storetest"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/mail/mailtest"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// appUsers is an app's own user table, not hallpass's: the flows need only
// lookups by ID and address, and a way to change the address.
type appUsers struct {
	mu    sync.Mutex
	users map[string]*account.User
	pw    map[string]string // user ID → password, as the app keeps it
}

func (a *appUsers) UserByID(_ context.Context, id string) (*account.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, ok := a.users[id]; ok {
		c := *u
		return &c, nil
	}
	return nil, account.ErrNotFound
}

func (a *appUsers) UserByEmail(_ context.Context, email string) (*account.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.users {
		if strings.EqualFold(u.Email, email) {
			c := *u
			return &c, nil
		}
	}
	return nil, account.ErrNotFound
}

func (a *appUsers) SetEmail(_ context.Context, id, email string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return account.ErrNotFound
	}
	u.Email = email
	return nil
}

type fixture struct {
	svc   *recovery.Service
	users *appUsers
	smtp  *mailtest.Server
	clock *sessiontest.Clock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{smtp: mailtest.Start(t, mailtest.Options{}), clock: sessiontest.NewClock(),
		users: &appUsers{users: map[string]*account.User{
			"u-1": {ID: "u-1", Username: "ada", Email: "ada@example.com"},
			"u-2": {ID: "u-2", Username: "eve", Email: "eve@example.com", Disabled: true},
		}, pw: map[string]string{}}}
	smtp, err := mail.NewSMTP(f.smtp.URL(), "login@example.com", mail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = recovery.New(recovery.Config{
		Tokens:   memstore.NewRecoveryStore(),
		Users:    f.users,
		SetEmail: f.users,
		Mailer:   smtp,
		SetPassword: func(_ context.Context, id, pw string) error {
			f.users.mu.Lock()
			defer f.users.mu.Unlock()
			f.users.pw[id] = pw
			f.users.users[id].PasswordChangedAt = f.clock.Now()
			return nil
		},
		BaseURL: "https://app.example.com",
		Now:     f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.svc.Close(context.Background()) })
	return f
}

func secretOf(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

func TestResetWithAppUsers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.RequestReset(ctx, "nobody@example.com", "192.0.2.1"); err != nil {
		t.Errorf("RequestReset(unknown) = %v, want nil (no enumeration)", err)
	}
	if err := f.svc.RequestReset(ctx, "eve@example.com", "192.0.2.1"); err != nil {
		t.Errorf("RequestReset(disabled) = %v, want nil", err)
	}
	var fe *account.FieldError
	if err := f.svc.RequestReset(ctx, "not an address", "192.0.2.1"); !errors.As(err, &fe) || fe.Field != "email" {
		t.Errorf("RequestReset(malformed) = %v, want a FieldError for email", err)
	}
	if err := f.svc.RequestReset(ctx, " Ada@Example.com ", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	link := f.smtp.Wait(t, "ada@example.com", 0).Link(t, "https://app.example.com/password/reset/")
	if n := f.smtp.Count("eve@example.com"); n != 0 {
		t.Errorf("%d messages to a disabled account", n)
	}
	secret := secretOf(link)
	if u, err := f.svc.CheckReset(ctx, secret); err != nil || u.ID != "u-1" {
		t.Fatalf("CheckReset = %v, %v", u, err)
	}
	f.clock.Advance(time.Second)
	if u, err := f.svc.ResetPassword(ctx, secret, "new passphrase", "192.0.2.1"); err != nil || u.ID != "u-1" {
		t.Fatalf("ResetPassword = %v, %v; want user u-1", u, err)
	}
	if f.users.pw["u-1"] != "new passphrase" {
		t.Errorf("SetPassword got %q", f.users.pw["u-1"])
	}
	if _, err := f.svc.ResetPassword(ctx, secret, "another one", ""); !errors.Is(err, recovery.ErrInvalidToken) {
		t.Errorf("reused link: %v, want ErrInvalidToken", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("!", 43), secret + "A"} {
		if _, err := f.svc.ResetPassword(ctx, bad, "pw pw pw pw", ""); !errors.Is(err, recovery.ErrInvalidToken) {
			t.Errorf("ResetPassword(%q) = %v, want ErrInvalidToken", bad, err)
		}
	}
}

func TestChangeEmailWithAppUsers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ada, _ := f.users.UserByID(ctx, "u-1")
	if err := f.svc.RequestEmailChange(ctx, ada, "ADA@example.com", ""); err == nil {
		t.Error("change to the same address accepted")
	}
	if err := f.svc.RequestEmailChange(ctx, ada, "ada@new.example.com", ""); err != nil {
		t.Fatal(err)
	}
	f.smtp.Wait(t, "ada@example.com", 0) // the notice
	secret := secretOf(f.smtp.Wait(t, "ada@new.example.com", 0).Link(t, "/verify/"))
	if ok, _ := f.svc.Verified(ctx, ada); ok {
		t.Error("verified before any link was followed")
	}
	u, err := f.svc.Verify(ctx, secret, "")
	if err != nil || u.Email != "ada@new.example.com" {
		t.Fatalf("Verify = %v, %v", u, err)
	}
	if ok, _ := f.svc.Verified(ctx, u); !ok {
		t.Error("the new address is not verified")
	}
	if stored, _ := f.users.UserByID(ctx, "u-1"); stored.Email != "ada@new.example.com" {
		t.Errorf("stored address %q", stored.Email)
	}
}

// silentStore is a link store, user source and email setter whose network
// went silent: every call waits until its context ends.
type silentStore struct{ recovery.Store }

func (silentStore) EmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

func (silentStore) TakeEmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: write: %w", ctx.Err())
}

func (silentStore) VerifiedEmail(ctx context.Context, userID string) (string, time.Time, error) {
	<-ctx.Done()
	return "", time.Time{}, fmt.Errorf("test: read: %w", ctx.Err())
}

type silentUsers struct{}

func (silentUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

func (silentUsers) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

// Each step a request takes fails as unavailable once StoreTimeout has
// passed on a silent store, instead of hanging the request (the links'
// store had no deadline: a silent database held a reset or a verification
// until the client gave up).
func TestStoreTimeout(t *testing.T) {
	svc, err := recovery.New(recovery.Config{
		Tokens:       silentStore{memstore.NewRecoveryStore()},
		Users:        silentUsers{},
		Mailer:       &mail.Log{Logger: slog.New(slog.DiscardHandler)},
		SetPassword:  func(context.Context, string, string) error { return nil },
		BaseURL:      "https://app.example.com",
		StoreTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	secret := strings.Repeat("A", 43) // the shape of a link's secret: the store is asked
	ada := &account.User{ID: "u-1", Username: "ada", Email: "ada@example.com"}
	steps := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CheckReset", func(ctx context.Context) error { _, err := svc.CheckReset(ctx, secret); return err }},
		{"ResetPassword", func(ctx context.Context) error {
			_, err := svc.ResetPassword(ctx, secret, "correct horse battery", "192.0.2.1")
			return err
		}},
		{"Verify", func(ctx context.Context) error { _, err := svc.Verify(ctx, secret, "192.0.2.1"); return err }},
		{"Verified", func(ctx context.Context) error { _, err := svc.Verified(ctx, ada); return err }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			storetest.FailsWithin(t, 30*time.Second, recovery.ErrUnavailable, func() error { return st.call(context.Background()) })
		})
	}
}
