package login_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/login"
)

// A revocation of everything (RevokeUser) that lands while a remember-me
// request is under way leaves no session behind, whether the request
// rotates the cookie (its rotation finds no token) or lost the rotation
// race within raceGrace (it looks for the token again once its session
// exists; it did not, and kept a session that outlived the revocation).
func TestRememberRacingRevocation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace bool
	}{{"current validator", false}, {"previous validator within raceGrace", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.addUser("ada", "correct horse battery")
			b := e.browser()
			b.login("ada", "correct horse battery", true)
			cookie := b.cookie(rememberCookie)
			if tc.grace {
				// Another tab rotates the cookie a moment before.
				if r := b.withOnly(rememberCookie).get("/me"); r.body != "ada remember" {
					t.Fatalf("rotation: %d %q", r.code, r.body)
				}
			}
			tab := e.browser()
			tab.setCookie(rememberCookie, cookie)
			e.users.afterByID = func() {
				if _, err := e.lm.RevokeUser(context.Background(), u.ID); err != nil {
					t.Error(err)
				}
			}
			tab.get("/me")
			if r := tab.withOnly(sessCookie).get("/me"); r.code == http.StatusOK {
				t.Errorf("its session after RevokeUser returned: %d %q, want ended", r.code, r.body)
			}
		})
	}
}

// hookRemember runs before, once, just before DeleteRememberByUser.
type hookRemember struct {
	account.RememberStore
	before func()
}

func (h *hookRemember) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.RememberStore.DeleteRememberByUser(ctx, userID)
}

// "Log out other sessions" ends the other browsers' remember-me tokens
// before their sessions: a remember-me request of another browser that
// lands between the two then makes a session that ends with the others
// (ending the sessions first let it outlive the revocation).
func TestRevokeOthersRacingRememberMe(t *testing.T) {
	var hook *hookRemember
	e := newEnv(t, func(c *login.Config) {
		hook = &hookRemember{RememberStore: c.Remember}
		c.Remember = hook
	})
	e.addUser("ada", "correct horse battery")
	a, b := e.browser(), e.browser()
	a.login("ada", "correct horse battery", false)
	b.login("ada", "correct horse battery", true)
	restored := b.withOnly(rememberCookie) // B's browser restarted: only the remember cookie

	hook.before = func() {
		// B's remember-me request, between the end of the sessions and
		// the end of the remember-me tokens.
		restored.get("/me")
	}
	if r := a.post("/revoke-others", nil); r.code != http.StatusOK {
		t.Fatalf("revoke others: %d", r.code)
	}
	if r := restored.get("/me"); r.code == http.StatusOK {
		t.Errorf("browser B after 'log out other sessions' returned: %d %q, want logged out", r.code, r.body)
	}
}

type fixedFactor struct{ at time.Time }

func (f *fixedFactor) EnrolledAt(context.Context, string) (time.Time, error) { return f.at, nil }
func (f *fixedFactor) Verify(context.Context, string, string) error          { return nil }

// afterRotate runs after, once, after a successful RotateRemember.
type afterRotate struct {
	account.RememberStore
	after func()
}

func (a *afterRotate) RotateRemember(ctx context.Context, sel string, old, next []byte, now, exp time.Time) error {
	err := a.RememberStore.RotateRemember(ctx, sel, old, next, now, exp)
	if f := a.after; err == nil && f != nil {
		a.after = nil
		f()
	}
	return err
}

// A remember-me login of a user with a second factor writes its session,
// "second factor passed" included, before it rotates the cookie: a store
// that fails right after the rotation leaves the session as it is, so
// the browser's kept cookie is not taken for a theft later (the flag was
// written at the commit, after the rotation, and that write failed).
func TestRememberRotationWith2FAAndStoreFailing(t *testing.T) {
	factor := &fixedFactor{}
	var hook *afterRotate
	e := newEnv(t, func(c *login.Config) {
		c.SecondFactor = factor
		hook = &afterRotate{RememberStore: c.Remember}
		c.Remember = hook
	})
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true) // not enrolled yet
	restored := b.withOnly(rememberCookie)
	cookie := restored.cookie(rememberCookie)
	factor.at = e.clock.Now().Add(-time.Hour) // enrolled before the token was issued

	hook.after = func() { e.down.WritesDown.Store(true) } // the store fails right after
	r := restored.get("/me")
	if r.code != http.StatusOK {
		t.Fatalf("remember-me as the store fails after the rotation: %d %q, want 200 (nothing left to write)", r.code, r.body)
	}
	if got := restored.cookie(rememberCookie); got == cookie {
		t.Errorf("the remember-me cookie was not rotated")
	}
	e.down.WritesDown.Store(false)
	e.clock.Advance(time.Minute) // past the race window
	if r := restored.get("/me"); r.code != http.StatusOK {
		t.Errorf("the browser after the outage: %d %q, want still logged in", r.code, r.body)
	}
	if strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Error("the cookie the browser kept through a 503 was taken for a theft, every session of the user ended")
	}
}

// A password change taken back because the API tokens could not be
// revoked leaves this browser's session with its copy of the user as it
// was: it kept the new password's time, so StillLoggedIn (and an app's
// own users, read on each request) took it for a session whose password
// had changed since.
func TestRolledBackPasswordChangeKeepsSession(t *testing.T) {
	var tokens *flakyTokens
	e := newEnv(t, func(c *login.Config) {
		tokens = &flakyTokens{TokenStore: c.Tokens.Store}
		c.Tokens = &apitoken.Service{Store: tokens, Now: c.Now}
	})
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)

	still := func() string {
		r := b.get("/still")
		return fmt.Sprintf("%d %s", r.code, strings.TrimSpace(r.body))
	}
	if got := still(); got != "200 still logged in" {
		t.Fatalf("before: %s", got)
	}

	e.clock.Advance(time.Minute)
	tokens.writesDown.Store(true)
	if r := b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code == http.StatusOK {
		t.Fatalf("change with the token store taking no writes: %d %q, want refused", r.code, r.body)
	}
	tokens.writesDown.Store(false)
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("old password after the rollback: %d", r.code)
	}
	if got := still(); got != "200 still logged in" {
		t.Errorf("StillLoggedIn of the browser whose change was taken back: %s", got)
	}
}
