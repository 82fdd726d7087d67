package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/session"
)

// The passkey resource: registration and removal on the account page,
// sign-in with a passkey alone from the login page, and a passkey as the
// second factor on /login/2fa. The browser half is static/passkey.js.

// Session keys of the ceremonies in progress: each holds the state of one
// Begin and is taken out (so used once) by its Finish.
const (
	passkeyRegKey   = "passkey_reg"
	passkeyLoginKey = "passkey_login"
	passkey2faKey   = "passkey_2fa"
)

// passkeyRow is one of the user's passkeys as the account page lists it.
type passkeyRow struct {
	ID       string // base64url, for the remove form
	Name     string
	Created  time.Time
	LastUsed time.Time
}

var idEncoding = base64.RawURLEncoding

// passkeyScript is the URL of static/passkey.js for pages with passkey
// buttons, or "" when passkeys are off.
func (s *Server) passkeyScript() string {
	if s.passkeys == nil {
		return ""
	}
	return "/static/passkey.js?v=" + jsVersion
}

func (s *Server) passkeyRoutes(mux *http.ServeMux, h func(http.HandlerFunc) http.Handler) {
	needLogin := s.login.RequireLogin
	mux.Handle("POST /account/passkeys/options", needLogin(h(s.passkeyRegisterOptions)))
	mux.Handle("POST /account/passkeys", needLogin(h(s.passkeyRegister)))
	mux.Handle("POST /account/passkeys/{id}/remove", needLogin(h(s.passkeyRemove)))
	mux.Handle("POST /api/passkey/login/options", h(s.passkeyLoginOptions))
	mux.Handle("POST /api/passkey/login", h(s.passkeyLogin))
	mux.Handle("POST /api/passkey/2fa/options", h(s.passkey2faOptions))
	mux.Handle("POST /api/passkey/2fa", h(s.passkey2fa))
}

// passkeyRows lists the user's passkeys for the account page.
func (s *Server) passkeyRows(r *http.Request, userID string) ([]passkeyRow, error) {
	cs, err := s.passkeys.List(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	rows := make([]passkeyRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, passkeyRow{ID: idEncoding.EncodeToString(c.ID), Name: c.Name, Created: c.CreatedAt, LastUsed: c.LastUsedAt})
	}
	return rows, nil
}

// beginCeremony keeps c's state under key and answers its options.
func (s *Server) beginCeremony(w http.ResponseWriter, r *http.Request, key string, c *passkey.Ceremony, err error) {
	if err == nil {
		err = c.Start(w, r, key)
	}
	if err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account") {
		return
	}
	c, err := s.passkeys.BeginRegistration(r.Context(), login.CurrentUser(r.Context()))
	s.beginCeremony(w, r, passkeyRegKey, c, err)
}

func (s *Server) passkeyRegister(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account") {
		return
	}
	state := passkey.Take(session.FromRequest(r), passkeyRegKey)
	c, err := s.passkeys.FinishRegistration(r.Context(), login.CurrentUser(r.Context()), state, r.URL.Query().Get("name"), r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Every passkey is a second factor (see login.Factors), so adding one
	// ends the other sessions, as turning TOTP on does.
	if _, err := s.login.SecondFactorChanged(w, r, true); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "Passkey “"+c.Name+"” added. You can sign in with it. Your other sessions have ended.")
	writeJSON(w, http.StatusCreated, map[string]string{"id": idEncoding.EncodeToString(c.ID), "name": c.Name})
}

func (s *Server) passkeyRemove(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account") {
		return
	}
	id, err := idEncoding.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		s.fail(w, r, errNotFound)
		return
	}
	me := login.CurrentUser(r.Context())
	if last, err := s.lastWayIn(r.Context(), me, id); err != nil || last {
		if err == nil {
			err = errLastPasskey
		}
		s.fail(w, r, err)
		return
	}
	err = s.passkeys.Remove(r.Context(), me.ID, id)
	if errors.Is(err, account.ErrNotFound) {
		s.fail(w, r, errNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "Passkey removed.")
	redirect(w, r, "/account")
}

// errLastPasskey refuses to remove the passkey of an account that has no
// other way in: no password, no other passkey, no identity at a provider.
var errLastPasskey error = &autherr.Error{Kind: autherr.Forbidden, Code: "last_login_method",
	Message: "This passkey is the only way into your account: set a password or add another passkey first."}

// lastWayIn reports whether the passkey id is u's only way in: u has no
// password, no other passkey and no identity at a provider. An account
// left so could only be recovered by mail, if at all.
func (s *Server) lastWayIn(ctx context.Context, u *account.User, id []byte) (bool, error) {
	cs, err := s.passkeys.List(ctx, u.ID)
	if err != nil {
		return false, err
	}
	others := slices.DeleteFunc(cs, func(c *passkey.Credential) bool { return bytes.Equal(c.ID, id) })
	if len(others) > 0 || len(others) == len(cs) {
		return false, nil // another passkey, or not one of u's (a 404 then)
	}
	full, err := s.accounts.UserByID(ctx, u.ID)
	if err != nil {
		return false, storeErr(err)
	}
	if full.PasswordHash != "" {
		return false, nil
	}
	if s.identities != nil {
		ids, err := s.identities.IdentitiesByUser(ctx, u.ID)
		if err != nil {
			return false, storeErr(err)
		}
		return len(ids) == 0, nil
	}
	return true, nil
}

func (s *Server) passkeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	c, err := s.passkeys.BeginLogin(r.Context(), "")
	s.beginCeremony(w, r, passkeyLoginKey, c, err)
}

// passkeyDone answers a completed sign-in with where to go.
func passkeyDone(w http.ResponseWriter, r *http.Request, next string) {
	if next = login.SafeNext(next); next == "" {
		next = "/dashboard"
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
}

func (s *Server) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	if _, err := s.passkeys.SignIn(w, r, s.login, passkeyLoginKey); err != nil {
		s.fail(w, r, err)
		return
	}
	passkeyDone(w, r, r.URL.Query().Get("next"))
}

func (s *Server) passkey2faOptions(w http.ResponseWriter, r *http.Request) {
	u, err := s.login.PendingUser(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.passkeys.BeginLogin(r.Context(), u.ID)
	s.beginCeremony(w, r, passkey2faKey, c, err)
}

func (s *Server) passkey2fa(w http.ResponseWriter, r *http.Request) {
	_, err := s.passkeys.CompleteSecondFactor(w, r, s.login, passkey2faKey)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess := session.FromRequest(r)
	var next string
	sess.Get(loginNextKey, &next)
	sess.Delete(loginNextKey)
	passkeyDone(w, r, next)
}
