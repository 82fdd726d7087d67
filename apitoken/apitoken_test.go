package apitoken_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/internal/storetest"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session/sessiontest"
)

func newService(t *testing.T) (*apitoken.Service, *sessiontest.Clock) {
	t.Helper()
	clock := sessiontest.NewClock()
	return &apitoken.Service{Store: memstore.NewAccountStore(), Now: clock.Now}, clock
}

func TestCreateCheckRevoke(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	secret, tok, err := s.Create(ctx, "7", "deploy script", []string{apitoken.ScopeRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, apitoken.Prefix) || !apitoken.WellFormed(secret) {
		t.Errorf("secret %q is not a well-formed hp_ token", secret)
	}
	if string(tok.Hash) == secret || strings.Contains(string(tok.Hash), secret[3:]) {
		t.Error("the stored token holds the secret")
	}
	got, err := s.Check(ctx, secret)
	if err != nil || got.UserID != "7" || got.ID != tok.ID {
		t.Fatalf("Check = %+v, %v", got, err)
	}
	list, _ := s.List(ctx, "7")
	if len(list) != 1 || list[0].Name != "deploy script" || list[0].LastUsedAt.IsZero() {
		t.Errorf("List = %+v, want the token with its last use recorded", list)
	}
	if err := s.Revoke(ctx, "8", tok.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("another user revoking the token: %v, want ErrNotFound", err)
	}
	if err := s.Revoke(ctx, "7", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, secret); !errors.Is(err, apitoken.ErrInvalid) {
		t.Errorf("Check after revoke = %v, want ErrInvalid", err)
	}
}

func TestExpiry(t *testing.T) {
	s, clock := newService(t)
	secret, _, err := s.Create(context.Background(), "7", "ci", []string{apitoken.ScopeRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour + time.Second)
	if _, err := s.Check(context.Background(), secret); !errors.Is(err, apitoken.ErrInvalid) {
		t.Errorf("Check of an expired token = %v, want ErrInvalid", err)
	}
}

func TestCheckRejectsMalformed(t *testing.T) {
	s, _ := newService(t)
	for _, bad := range []string{"", "hp_", "hp_short", "xx_" + strings.Repeat("a", 43), "hp_" + strings.Repeat("!", 43), strings.Repeat("a", 10000)} {
		if _, err := s.Check(context.Background(), bad); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("Check(%.20q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// A token has exactly one valid spelling: replacing its last character
// by one that differs only in the spare bits a lenient base64 decoder
// ignores makes it malformed, refused without a store lookup.
func TestTokenHasOneSpelling(t *testing.T) {
	s, _ := newService(t)
	secret, _, err := s.Create(context.Background(), "7", "ci", []string{apitoken.ScopeRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, apitoken.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	accepted := 0
	for _, c := range alphabet {
		v := secret[:len(secret)-1] + string(c)
		got, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, apitoken.Prefix))
		if err != nil || !bytes.Equal(got, want) {
			continue // a different token, not another spelling of this one
		}
		if apitoken.WellFormed(v) {
			accepted++
			if v != secret {
				t.Errorf("WellFormed(%q) = true for another spelling of %q", v, secret)
			}
		}
	}
	if accepted != 1 {
		t.Errorf("%d spellings of token %q are well formed, want exactly 1", accepted, secret)
	}
}

func TestCreateValidates(t *testing.T) {
	s, _ := newService(t)
	tests := []struct {
		name  string
		exp   time.Duration
		field string
	}{
		{"", 0, "name"},
		{strings.Repeat("n", 101), 0, "name"},
		{"ok", -time.Second, "expires_in"},
		{"a\x00b", 0, "name"}, // PostgreSQL refuses NUL: it was a 503
		{"ci\x1b[2Jdeploy", 0, "name"},
		{"del\x7f", 0, "name"},
		{"c1\u0085x", 0, "name"},
		{"evil\u202egnp.exe", 0, "name"},
		{"iso\u2067late", 0, "name"},
		{"bad\xffutf8", 0, "name"},
	}
	for _, tt := range tests {
		var fe *account.FieldError
		_, _, err := s.Create(context.Background(), "7", tt.name, []string{apitoken.ScopeRead}, tt.exp)
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Create(%.12q, %v) = %v, want a FieldError for %s", tt.name, tt.exp, err, tt.field)
		}
	}
	if l, _ := s.Store.ListTokens(context.Background(), "7"); len(l) != 0 {
		t.Errorf("refused names stored %d tokens", len(l))
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		header, want string
		err          error
	}{
		{"Bearer hp_abc", "hp_abc", nil},
		{"bearer hp_abc", "hp_abc", nil},
		{"Basic dXNlcjpwYXNz", "", apitoken.ErrNoToken},
		{"Bearer ", "", apitoken.ErrNoToken},
		{"", "", apitoken.ErrNoToken},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/?access_token=hp_abc", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, err := apitoken.FromRequest(r)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("FromRequest(Authorization: %q) = %q, %v; want %q, %v", tt.header, got, err, tt.want, tt.err)
		}
	}
}

// Create a token for a script; the secret is shown once and only its
// digest is stored.
func ExampleService_Create() {
	s := &apitoken.Service{Store: memstore.NewAccountStore()}
	secret, tok, _ := s.Create(context.Background(), "42", "backup script", []string{apitoken.ScopeRead}, 90*24*time.Hour)
	fmt.Println(secret[:3], len(secret), tok.Name)
	// Output: hp_ 46 backup script
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{[]string{"read"}, []string{"read"}, false},
		{[]string{"admin", "read", "write"}, []string{"read", "write", "admin"}, false},
		{[]string{"write", "write"}, []string{"write"}, false},
		{nil, nil, true},
		{[]string{}, nil, true},
		{[]string{"read", "Admin"}, nil, true},
		{[]string{"read", ""}, nil, true},
		{[]string{"read write"}, nil, true},
		{[]string{"*"}, nil, true},
	}
	for _, tt := range tests {
		got, err := apitoken.ParseScopes(tt.in)
		var fe *account.FieldError
		if tt.wantErr {
			if !errors.As(err, &fe) || fe.Field != "scopes" || fe.Message == "" {
				t.Errorf("ParseScopes(%q) = %q, %v; want a FieldError for scopes", tt.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

// Create stores the parsed scopes and refuses bad ones before storing
// anything.
func TestCreateScopes(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	secret, tok, err := s.Create(ctx, "7", "ci", []string{"write", "read", "read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"read", "write"}; !slices.Equal(tok.Scopes, want) {
		t.Errorf("Create: Scopes = %q, want %q", tok.Scopes, want)
	}
	got, err := s.Check(ctx, secret)
	if err != nil || !got.HasScope("write") || got.HasScope("admin") {
		t.Errorf("Check = %+v, %v; want the token with read and write only", got, err)
	}
	if _, _, err := s.Create(ctx, "7", "bad", []string{"root"}, 0); !errors.Is(err, account.ErrInvalid) {
		t.Errorf("Create with an unknown scope = %v, want an error wrapping account.ErrInvalid", err)
	}
	if list, _ := s.List(ctx, "7"); len(list) != 1 {
		t.Errorf("List after a refused Create = %d tokens, want 1", len(list))
	}
}

// silentTokens is a token store whose network went silent: every call
// waits until its context ends.
type silentTokens struct{ account.TokenStore }

func (silentTokens) CreateToken(ctx context.Context, t *account.APIToken) error {
	<-ctx.Done()
	return fmt.Errorf("test: write: %w", ctx.Err())
}

func (silentTokens) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

func (silentTokens) ListTokens(ctx context.Context, userID string) ([]*account.APIToken, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

func (silentTokens) DeleteToken(ctx context.Context, userID, id string) error {
	<-ctx.Done()
	return fmt.Errorf("test: write: %w", ctx.Err())
}

func (silentTokens) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	<-ctx.Done()
	return 0, fmt.Errorf("test: write: %w", ctx.Err())
}

// Every Service call fails as unavailable once StoreTimeout has passed
// on a silent store, instead of hanging the request that made it (token
// management had no deadline: a silent database held it until the
// client gave up).
func TestStoreTimeout(t *testing.T) {
	s := &apitoken.Service{Store: silentTokens{memstore.NewAccountStore()}, StoreTimeout: 20 * time.Millisecond}
	secret := apitoken.Prefix + strings.Repeat("A", 43)
	if !apitoken.WellFormed(secret) {
		t.Fatalf("%q is not well formed", secret)
	}
	ops := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Create", func(ctx context.Context) error {
			_, _, err := s.Create(ctx, "7", "ci", []string{apitoken.ScopeRead}, 0)
			return err
		}},
		{"Check", func(ctx context.Context) error { _, err := s.Check(ctx, secret); return err }},
		{"List", func(ctx context.Context) error { _, err := s.List(ctx, "7"); return err }},
		{"Revoke", func(ctx context.Context) error { return s.Revoke(ctx, "7", "1") }},
		{"RevokeAll", func(ctx context.Context) error { _, err := s.RevokeAll(ctx, "7"); return err }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			storetest.FailsWithin(t, 30*time.Second, context.DeadlineExceeded, func() error { return op.call(context.Background()) })
		})
	}
}

// readOnlyTokens is a token store that takes reads but no writes, as a
// full disk or a paused Redis does.
type readOnlyTokens struct{ account.TokenStore }

func (readOnlyTokens) TouchToken(ctx context.Context, id string, at time.Time) error {
	return errors.New("database or disk is full")
}

// A token whose use cannot be recorded still authenticates (the failure
// is logged, once for the outage): when it was last used is for the
// account page, and a store that takes no writes does not refuse every API
// request.
func TestCheckWithoutTouch(t *testing.T) {
	var logs bytes.Buffer
	store := memstore.NewAccountStore()
	s := &apitoken.Service{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	secret, tok, err := s.Create(t.Context(), "7", "ci", []string{apitoken.ScopeRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Store = readOnlyTokens{store}
	for range 5 {
		if got, err := s.Check(t.Context(), secret); err != nil || got.ID != tok.ID {
			t.Errorf("Check with a store that takes no writes = %v, %v; want the token", got, err)
		}
	}
	if n := strings.Count(logs.String(), "recording token use unavailable"); n != 1 || strings.Contains(logs.String(), secret) {
		t.Errorf("log: %q; want the failure logged once for five checks, without the secret", logs.String())
	}
}
