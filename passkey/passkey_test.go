package passkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey"
)

func TestUsableBaseURL(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://login.example.com", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:8080", false},
		{"http://[::1]:8080", false},
		{"ftp://example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := passkey.UsableBaseURL(tt.url); got != tt.want {
			t.Errorf("UsableBaseURL(%q) = %v, want %v", tt.url, got, tt.want)
		}
		_, err := passkey.New(passkey.Config{Store: memstore.NewPasskeyStore(), BaseURL: tt.url})
		if (err == nil) != tt.want {
			t.Errorf("New(BaseURL %q) = %v, want success %v", tt.url, err, tt.want)
		}
	}
}

func newService(t *testing.T) *passkey.Service {
	t.Helper()
	s, err := passkey.New(passkey.Config{Store: memstore.NewPasskeyStore(), BaseURL: "https://login.example.com:8443"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBeginRegistration(t *testing.T) {
	s := newService(t)
	c, err := s.BeginRegistration(context.Background(), &account.User{ID: "u1", Username: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			RP        struct{ ID string } `json:"rp"`
			Challenge string              `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(c.Options, &o); err != nil || o.PublicKey.RP.ID != "login.example.com" || len(o.PublicKey.Challenge) < 40 {
		t.Errorf("options = %s, want rp login.example.com and a 256-bit challenge", c.Options)
	}
	again, _ := s.BeginRegistration(context.Background(), &account.User{ID: "u1", Username: "ada"})
	if string(again.State) == string(c.State) {
		t.Error("two ceremonies share a challenge")
	}
	if _, err := s.BeginRegistration(context.Background(), &account.User{ID: strings.Repeat("x", 65)}); err == nil {
		t.Error("a user ID longer than 64 bytes was taken as a user handle")
	}
}

func TestFinishWithoutChallenge(t *testing.T) {
	s := newService(t)
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	if _, err := s.FinishRegistration(context.Background(), &account.User{ID: "u1"}, nil, "x", r); !errors.Is(err, passkey.ErrNoChallenge) {
		t.Errorf("FinishRegistration without state = %v, want ErrNoChallenge", err)
	}
	if _, err := s.FinishLogin(context.Background(), "", []byte("garbage"), r); !errors.Is(err, passkey.ErrNoChallenge) {
		t.Errorf("FinishLogin with bad state = %v, want ErrNoChallenge", err)
	}
	c, _ := s.BeginLogin(context.Background(), "")
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`))
	if _, err := s.FinishLogin(context.Background(), "", c.State, r); !errors.Is(err, passkey.ErrInvalid) {
		t.Errorf("FinishLogin with a forged assertion = %v, want ErrInvalid", err)
	}
	if _, err := s.BeginLogin(context.Background(), "nobody"); !errors.Is(err, passkey.ErrInvalid) {
		t.Errorf("BeginLogin for a user without passkeys = %v, want ErrInvalid", err)
	}
}

// callCounter is a passkey store that counts the calls made to it.
type callCounter struct {
	passkey.Store
	calls int
}

func (c *callCounter) CredentialsByUser(ctx context.Context, userID string) ([]*passkey.Credential, error) {
	c.calls++
	return c.Store.CredentialsByUser(ctx, userID)
}

func (c *callCounter) AddCredential(ctx context.Context, cr *passkey.Credential) error {
	c.calls++
	return c.Store.AddCredential(ctx, cr)
}

func TestFinishRegistrationRefusesName(t *testing.T) {
	names := []string{
		"a\x00b", // PostgreSQL refuses NUL
		"key\x1b[2J",
		"del\x7f",
		"c1\u009bx",
		"evil\u202egnp.exe",
		"iso\u2066late",
		"bad\xffutf8",
		strings.Repeat("n", passkey.MaxName+1),
	}
	for _, name := range names {
		st := &callCounter{Store: memstore.NewPasskeyStore()}
		s, err := passkey.New(passkey.Config{Store: st, BaseURL: "https://login.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		u := &account.User{ID: "u1", Username: "ada"}
		c, err := s.BeginRegistration(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		st.calls = 0
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
		_, err = s.FinishRegistration(context.Background(), u, c.State, name, r)
		if autherr.KindOf(err) != autherr.Invalid || autherr.FieldsOf(err)["name"] == "" {
			t.Errorf("FinishRegistration(name %.12q) = %v, want kind Invalid for the field name", name, err)
		}
		if st.calls != 0 {
			t.Errorf("FinishRegistration(name %.12q) made %d store calls, want 0", name, st.calls)
		}
	}
}
