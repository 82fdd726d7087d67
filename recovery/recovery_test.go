package recovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
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

// A change-of-address link dies with a later password change, as a reset
// link does: someone who knew the password and asked to move the account
// to their address cannot use the link once the owner, warned by the
// notice, has changed the password (with it they could then reset the
// password through the new address). And a newer request replaces an
// older one: only the latest link works.
func TestChangeEmailLinkDies(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ada, _ := f.users.UserByID(ctx, "u-1")
	if err := f.svc.RequestEmailChange(ctx, ada, "attacker@evil.example", ""); err != nil {
		t.Fatal(err)
	}
	stolen := secretOf(f.smtp.Wait(t, "attacker@evil.example", 0).Link(t, "/verify/"))
	f.clock.Advance(time.Minute)
	f.users.mu.Lock()
	f.users.users["u-1"].PasswordChangedAt = f.clock.Now() // the owner changes the password
	f.users.mu.Unlock()
	if u, err := f.svc.Verify(ctx, stolen, ""); !errors.Is(err, recovery.ErrInvalidToken) {
		t.Errorf("a change link issued before a password change: Verify = %v, %v; want ErrInvalidToken", u, err)
	}
	if stored, _ := f.users.UserByID(ctx, "u-1"); stored.Email != "ada@example.com" {
		t.Errorf("the address became %q", stored.Email)
	}

	f.clock.Advance(time.Minute)
	ada, _ = f.users.UserByID(ctx, "u-1")
	for _, to := range []string{"ada@first.example", "ada@second.example"} {
		if err := f.svc.RequestEmailChange(ctx, ada, to, ""); err != nil {
			t.Fatal(err)
		}
	}
	first := secretOf(f.smtp.Wait(t, "ada@first.example", 0).Link(t, "/verify/"))
	second := secretOf(f.smtp.Wait(t, "ada@second.example", 0).Link(t, "/verify/"))
	if _, err := f.svc.Verify(ctx, first, ""); !errors.Is(err, recovery.ErrInvalidToken) {
		t.Errorf("the older of two change links: Verify = %v, want ErrInvalidToken", err)
	}
	if u, err := f.svc.Verify(ctx, second, ""); err != nil || u.Email != "ada@second.example" {
		t.Errorf("the newer change link: Verify = %v, %v; want the address ada@second.example", u, err)
	}

	// A link of an account disabled since changes nothing.
	f.clock.Advance(time.Hour) // past the per-user limit's window
	ada, _ = f.users.UserByID(ctx, "u-1")
	if err := f.svc.RequestEmailChange(ctx, ada, "ada@third.example", ""); err != nil {
		t.Fatal(err)
	}
	third := secretOf(f.smtp.Wait(t, "ada@third.example", 0).Link(t, "/verify/"))
	f.users.mu.Lock()
	f.users.users["u-1"].Disabled = true
	f.users.mu.Unlock()
	if u, err := f.svc.Verify(ctx, third, ""); !errors.Is(err, recovery.ErrInvalidToken) {
		t.Errorf("a change link of a disabled account: Verify = %v, %v; want ErrInvalidToken", u, err)
	}
	if stored, _ := f.users.UserByID(ctx, "u-1"); stored.Email != "ada@second.example" {
		t.Errorf("the disabled account's address became %q", stored.Email)
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

// lockedBuffer is a bytes.Buffer that a slog handler and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// resetEvents returns the password.reset.request events b holds, each as
// "user_id reason" ("-" for none), in order.
func resetEvents(t *testing.T, b *lockedBuffer) []string {
	t.Helper()
	var got []string
	for line := range strings.Lines(b.String()) {
		var e struct {
			Msg    string `json:"msg"`
			UserID string `json:"user_id"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if e.Msg != audit.ResetRequest {
			continue
		}
		for _, f := range []*string{&e.UserID, &e.Reason} {
			if *f == "" {
				*f = "-"
			}
		}
		got = append(got, e.UserID+" "+e.Reason)
	}
	return got
}

var greeting = regexp.MustCompile(`(?m)^Hello (\S+),$`)

// resetLinks returns the reset links the server received, by the username
// each message greets, failing the test on a message to another address
// or a username greeted twice.
func resetLinks(t *testing.T, smtp *mailtest.Server, rcpt string) map[string]string {
	t.Helper()
	links := map[string]string{}
	for _, m := range smtp.Messages() {
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], rcpt) {
			t.Errorf("message to %v, want only %s", m.To, rcpt)
			continue
		}
		g := greeting.FindStringSubmatch(m.Text)
		if g == nil {
			t.Fatalf("message greets no one:\n%s", m.Text)
		}
		if _, dup := links[g[1]]; dup {
			t.Errorf("two links for %s", g[1])
		}
		links[g[1]] = m.Link(t, "https://app.example.com/password/reset/")
	}
	return links
}

// Two accounts can share an address (registration does not stop it), so a
// squatter who registers someone's address first, and never proves it,
// must not capture the owner's resets: a request for the address mails a
// link for every enabled account at it, each naming its own user, and
// each link resets its own account. (The oldest account alone got a link:
// the squatter's, "Hello squatter", so the owner could never reset their
// password by email.)
func TestResetSharedAddress(t *testing.T) {
	tests := []struct {
		name             string
		squatterDisabled bool
		wantMails        []string // usernames greeted
		wantEvents       []string // password.reset.request: "user_id reason"
	}{
		{"squatter enabled", false, []string{"squatter", "victim"}, []string{"1 -", "2 -"}},
		{"squatter disabled", true, []string{"victim"}, []string{"1 disabled", "2 -"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			accounts := memstore.NewAccountStore()
			// Registered before the links are made, even at the
			// clock's resolution: a link dies with a later password.
			registered := time.Now().Add(-time.Hour)
			squatter := &account.User{Username: "squatter", Email: "victim@example.com", PasswordHash: "x",
				CreatedAt: registered, PasswordChangedAt: registered}
			victim := &account.User{Username: "victim", Email: "Victim@Example.com", PasswordHash: "x",
				CreatedAt: registered.Add(time.Minute), PasswordChangedAt: registered.Add(time.Minute)}
			for _, u := range []*account.User{squatter, victim} {
				if err := accounts.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			if tt.squatterDisabled {
				if err := accounts.SetDisabled(ctx, squatter.ID, true); err != nil {
					t.Fatal(err)
				}
			}
			server := mailtest.Start(t, mailtest.Options{})
			smtp, err := mail.NewSMTP(server.URL(), "login@example.com", mail.SMTPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var log lockedBuffer
			svc, err := recovery.New(recovery.Config{
				Tokens: memstore.NewRecoveryStore(),
				Users:  accounts,
				Mailer: smtp,
				SetPassword: func(ctx context.Context, id, pw string) error {
					return accounts.SetPassword(ctx, id, "hash of "+pw, time.Now())
				},
				BaseURL: "https://app.example.com",
				Limits:  recovery.Limits{PerAddress: 1},
				Audit:   audit.New(slog.New(slog.NewJSONHandler(&log, nil))),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.RequestReset(ctx, "VICTIM@example.com", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			// The limit per address counts requests, not mails: the
			// second request sends nothing.
			if err := svc.RequestReset(ctx, "victim@example.com", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if err := svc.Close(ctx); err != nil { // the requests are handled, the mail delivered
				t.Fatal(err)
			}

			links := resetLinks(t, server, "victim@example.com")
			got := slices.Sorted(maps.Keys(links))
			if !slices.Equal(got, tt.wantMails) {
				t.Fatalf("reset mails for %q, want %q", got, tt.wantMails)
			}
			wantEvents := slices.Concat(tt.wantEvents, []string{"- throttled"})
			if got := resetEvents(t, &log); !slices.Equal(got, wantEvents) {
				t.Errorf("%s events %q, want %q", audit.ResetRequest, got, wantEvents)
			}
			for name, link := range links {
				u, err := svc.ResetPassword(ctx, secretOf(link), "new passphrase of "+name, "192.0.2.1")
				if err != nil || u.Username != name {
					t.Errorf("ResetPassword(link greeting %s) = %v, %v; want that user", name, u, err)
				}
			}
			if u, _ := accounts.UserByID(ctx, victim.ID); u.PasswordHash != "hash of new passphrase of victim" {
				t.Errorf("the victim's password hash is %q after their reset", u.PasswordHash)
			}
		})
	}
}

// deadlineProbe is hallpass's memory account store, noting whether its
// last UsersByEmail call had a deadline.
type deadlineProbe struct {
	*memstore.AccountStore
	hadDeadline bool
}

func (p *deadlineProbe) UsersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	_, p.hadDeadline = ctx.Deadline()
	return p.AccountStore.UsersByEmail(ctx, email)
}

// StoreTimeout's deadline on each call of the Users keeps their
// UsersByEmail, with the deadline: hidden behind the wrapper, a reset
// request would mail only the oldest account at an address.
func TestStoreTimeoutKeepsUsersByEmail(t *testing.T) {
	tests := []struct {
		name         string
		timeout      time.Duration
		wantDeadline bool
	}{
		{"default", 0, true},
		{"set", time.Minute, true},
		{"none", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := &deadlineProbe{AccountStore: memstore.NewAccountStore()}
			svc, err := recovery.New(recovery.Config{
				Tokens:       memstore.NewRecoveryStore(),
				Users:        probe,
				Mailer:       &mail.Log{Logger: slog.New(slog.DiscardHandler)},
				SetPassword:  func(context.Context, string, string) error { return nil },
				BaseURL:      "https://app.example.com",
				StoreTimeout: tt.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { svc.Close(context.Background()) })
			users := svc.Config().Users
			all, ok := users.(recovery.UsersByEmail)
			if !ok {
				t.Fatalf("Config().Users (%T) does not implement recovery.UsersByEmail; the store given does", users)
			}
			if _, err := all.UsersByEmail(context.Background(), "ada@example.com"); err != nil {
				t.Fatal(err)
			}
			if probe.hadDeadline != tt.wantDeadline {
				t.Errorf("UsersByEmail through Config().Users: deadline %v, want %v", probe.hadDeadline, tt.wantDeadline)
			}
		})
	}
}
