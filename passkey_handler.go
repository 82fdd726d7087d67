package hallpass

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/session"
)

// Session keys of the passkey ceremonies PasskeyHandler has begun: each
// holds the state of one options call and is taken out (so used once) by
// the call that finishes it.
const (
	passkeyRegisterKey = "_hallpass_passkey_register"
	passkeyLoginKey    = "_hallpass_passkey_login"
	passkeyVerifyKey   = "_hallpass_passkey_verify"
)

var passkeyIDs = base64.RawURLEncoding

var errNoPasskey error = &autherr.Error{Kind: autherr.NotFound, Code: "not_found", Message: "There is no such passkey."}

// PasskeyHandler returns mountable JSON endpoints for passkeys (WebAuthn),
// for an app that draws its own pages (with its own users table, too), as
// TwoFAHandler does for TOTP: mount it under a prefix, such as
//
//	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", auth.PasskeyHandler()))
//
// Each ceremony is two calls: its options, which the page gives to
// navigator.credentials.create or .get (PublicKeyCredential's
// parseCreationOptionsFromJSON and parseRequestOptionsFromJSON read them
// as they are), and the browser's answer (the credential's toJSON()),
// posted as the body of the second call. The challenge is kept in the
// session that asked for it and used once.
//
//	POST /register/options   options for a new passkey (fresh login)
//	POST /register?name=N    201 {"id", "name"}: the passkey is the user's (fresh login); other sessions end
//	GET  /                   [{"id", "name", "created_at", "last_used_at"}] (login required)
//	POST /{id}/remove        204 (fresh login)
//	POST /login/options      options for signing in with any passkey of this site
//	POST /login              200 {"user_id", "username"}: logged in, under a new session token
//	POST /verify/options     options for the second factor of a login that Login left pending
//	POST /verify             200 {"user_id", "username"}: the pending login is complete
//
// Errors are Config.ErrorHandler's (401 invalid_passkey, 422 no_challenge,
// 401 fresh_login_required, 401 login_expired, 404). Without
// Config.Passkeys every route answers 404.
func (a *Auth) PasskeyHandler() http.Handler {
	mux := http.NewServeMux()
	if a.passkeys == nil {
		return a.guard("PasskeyHandler", mux)
	}
	lm := a.login
	fresh := lm.RequireFresh(TwoFAFreshFor)
	mux.Handle("POST /register/options", fresh(http.HandlerFunc(a.passkeyRegisterOptions)))
	mux.Handle("POST /register", fresh(http.HandlerFunc(a.passkeyRegister)))
	mux.Handle("GET /{$}", lm.RequireLogin(http.HandlerFunc(a.passkeyList)))
	mux.Handle("POST /{id}/remove", fresh(http.HandlerFunc(a.passkeyRemove)))
	mux.HandleFunc("POST /login/options", a.passkeyLoginOptions)
	mux.HandleFunc("POST /login", a.passkeyLogin)
	mux.HandleFunc("POST /verify/options", a.passkeyVerifyOptions)
	mux.HandleFunc("POST /verify", a.passkeyVerify)
	return a.guard("PasskeyHandler", mux)
}

// beginCeremony keeps c's state under key and answers its options.
func (a *Auth) beginCeremony(w http.ResponseWriter, r *http.Request, key string, c *passkey.Ceremony, err error) {
	if err == nil {
		err = c.Start(w, r, key)
	}
	if err != nil {
		a.Error(w, r, err)
	}
}

func (a *Auth) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request) {
	c, err := a.passkeys.BeginRegistration(r.Context(), a.CurrentUser(r))
	a.beginCeremony(w, r, passkeyRegisterKey, c, err)
}

func (a *Auth) passkeyRegister(w http.ResponseWriter, r *http.Request) {
	state := passkey.Take(session.FromRequest(r), passkeyRegisterKey)
	c, err := a.passkeys.FinishRegistration(r.Context(), a.CurrentUser(r), state, r.URL.Query().Get("name"), r)
	if err == nil {
		// A second factor now: sessions and remember-me tokens that
		// passed none end, as when TOTP is turned on.
		_, err = a.login.SecondFactorChanged(w, r, true)
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": passkeyIDs.EncodeToString(c.ID), "name": c.Name})
}

// passkeyJSON is one passkey as PasskeyHandler lists it.
type passkeyJSON struct {
	ID         string     `json:"id"` // base64url
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // null until first used
}

func (a *Auth) passkeyList(w http.ResponseWriter, r *http.Request) {
	cs, err := a.passkeys.List(r.Context(), a.CurrentUser(r).ID)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	out := make([]passkeyJSON, 0, len(cs))
	for _, c := range cs {
		j := passkeyJSON{ID: passkeyIDs.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt.UTC()}
		if !c.LastUsedAt.IsZero() {
			t := c.LastUsedAt.UTC()
			j.LastUsedAt = &t
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Auth) passkeyRemove(w http.ResponseWriter, r *http.Request) {
	id, err := passkeyIDs.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		a.Error(w, r, errNoPasskey)
		return
	}
	err = a.passkeys.Remove(r.Context(), a.CurrentUser(r).ID, id)
	if errors.Is(err, account.ErrNotFound) {
		err = errNoPasskey
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) passkeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	c, err := a.passkeys.BeginLogin(r.Context(), "")
	a.beginCeremony(w, r, passkeyLoginKey, c, err)
}

func (a *Auth) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	u, err := a.passkeys.SignIn(w, r, a.login, passkeyLoginKey)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user_id": u.ID, "username": u.Username})
}

func (a *Auth) passkeyVerifyOptions(w http.ResponseWriter, r *http.Request) {
	u, err := a.login.PendingUser(r)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	c, err := a.passkeys.BeginLogin(r.Context(), u.ID)
	a.beginCeremony(w, r, passkeyVerifyKey, c, err)
}

func (a *Auth) passkeyVerify(w http.ResponseWriter, r *http.Request) {
	u, err := a.passkeys.CompleteSecondFactor(w, r, a.login, passkeyVerifyKey)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user_id": u.ID, "username": u.Username})
}
