package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/password"
)

// testHasher is the real hasher, which can be made to answer as it does
// when its queue stays full for MaxWait: every call fails with
// password.ErrBusy.
type testHasher struct {
	*password.Hasher
	full atomic.Bool
}

func (h *testHasher) busy() error {
	if h.full.Load() {
		return fmt.Errorf("%w (2 running, waited 5s)", password.ErrBusy)
	}
	return nil
}

func (h *testHasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.busy(); err != nil {
		return "", err
	}
	return h.Hasher.Hash(ctx, pw)
}

func (h *testHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	if err := h.busy(); err != nil {
		return false, err
	}
	return h.Hasher.Verify(ctx, pw, encoded)
}

func (h *testHasher) VerifyRehash(ctx context.Context, pw, encoded string) (bool, bool, error) {
	if err := h.busy(); err != nil {
		return false, false, err
	}
	return h.Hasher.VerifyRehash(ctx, pw, encoded)
}

func (h *testHasher) DummyVerify(ctx context.Context, pw string) error {
	if err := h.busy(); err != nil {
		return err
	}
	return h.Hasher.DummyVerify(ctx, pw)
}

func registerForm(name string) url.Values {
	return url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {goodPassword}}
}

// Registrations are limited per client address, and a refused one costs
// no hashing.
func TestRegisterLimitedPerAddress(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		if r := e.browser().post("/register", registerForm(fmt.Sprint("user", i))); r.code != http.StatusSeeOther {
			t.Fatalf("registration %d from one address: %d, want 303", i+1, r.code)
		}
	}
	before := e.hasher.Stats().Computations
	r := e.browser().post("/register", registerForm("user10"))
	if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") != "3600" {
		t.Fatalf("11th registration from one address within the hour: %d Retry-After %q, want 429 with Retry-After 3600", r.code, r.h.Get("Retry-After"))
	}
	mustContain(t, "refused registration", r.body, "Too many sign-ups from your address. Try again in 60 minutes.")
	if got := e.hasher.Stats().Computations - before; got != 0 {
		t.Errorf("refused registration hashed %d passwords, want 0", got)
	}
	e.clock.Advance(time.Hour)
	if r := e.browser().post("/register", registerForm("user10")); r.code != http.StatusSeeOther {
		t.Errorf("registration an hour later: %d, want 303", r.code)
	}
}

// A full hash queue is answered 503 with Retry-After and a message of its
// own, on pages and the JSON API, and logged once per episode as the
// server being busy hashing, never as a store outage.
func TestBusyHashing(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	e.hasher.full.Store(true)
	for _, tt := range []struct {
		name string
		send func() resp
	}{
		{"register", func() resp { return e.browser().post("/register", registerForm("grace")) }},
		{"login", func() resp { return e.browser().login("ada", goodPassword) }},
		{"API login", func() resp {
			return e.browser().json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`"}`)
		}},
	} {
		r := tt.send()
		if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
			t.Errorf("%s while hashing is busy: %d Retry-After %q, want 503 with Retry-After", tt.name, r.code, r.h.Get("Retry-After"))
		}
		if !strings.Contains(r.body, "busy checking passwords") {
			t.Errorf("%s while hashing is busy: body %q, want the busy message", tt.name, r.body)
		}
	}
	var body struct{ Error string }
	r := e.browser().json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`"}`)
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error != "busy" {
		t.Errorf("API answer while hashing is busy: %q, want error \"busy\"", r.body)
	}

	logs := e.logs.String()
	if n := strings.Count(logs, "busy hashing password checks"); n != 1 {
		t.Errorf("%d log lines about busy hashing for one episode, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, "store unavailable") {
		t.Errorf("busy hashing logged as an error or a store outage:\n%s", logs)
	}

	e.hasher.full.Store(false)
	e.clock.Advance(time.Minute)
	if r := e.browser().login("ada", goodPassword); r.code != http.StatusSeeOther {
		t.Fatalf("login once hashing has slots again: %d, want 303", r.code)
	}
	if n := strings.Count(e.logs.String(), "password checks recovered"); n != 1 {
		t.Errorf("%d recovery lines after the episode, want 1:\n%s", n, e.logs.String())
	}
}
