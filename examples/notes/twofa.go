package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/twofa"
)

// Optional TOTP (the -totp flag): /2fa enrols, /login/2fa takes the code
// after the password.

// twofaForm is what the 2FA pages show.
type twofaForm struct {
	Enabled bool
	Secret  string   // the secret being enrolled, base32
	URL     string   // its otpauth:// URI
	Codes   []string // recovery codes, shown once
	Error   string
}

func (a *app) twofaRoutes(mux *http.ServeMux) {
	auth := a.auth
	mux.Handle("GET /2fa", auth.RequireLogin(http.HandlerFunc(a.twofaPage)))
	mux.Handle("POST /2fa", auth.RequireFresh(10*time.Minute)(http.HandlerFunc(a.twofaEnable)))
	mux.HandleFunc("GET /login/2fa", func(w http.ResponseWriter, r *http.Request) {
		a.pages.Render(w, r, http.StatusOK, "login2fa.html", twofaForm{})
	})
	mux.HandleFunc("POST /login/2fa", a.login2fa)
}

// enrolment returns the secret kept in the session, making one first.
func (a *app) enrolment(r *http.Request) (*twofa.Enrolment, error) {
	s, name := a.auth.Session(r), a.auth.CurrentUser(r).Username
	var secret string
	if ok, _ := s.Get("totp_secret", &secret); ok {
		return a.auth.TwoFA().EnrolmentFor(name, secret)
	}
	e, err := a.auth.TwoFA().NewEnrolment(name)
	if err == nil {
		err = s.Put("totp_secret", e.Secret)
	}
	return e, err
}

func (a *app) renderTwofa(w http.ResponseWriter, r *http.Request, status int, f twofaForm) {
	st, err := a.auth.TwoFA().Status(r.Context(), a.auth.CurrentUser(r).ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f.Enabled = st.Enabled
	if !st.Enabled && f.Codes == nil {
		e, err := a.enrolment(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		f.Secret, f.URL = e.Secret, e.URL
	}
	a.pages.Render(w, r, status, "twofa.html", f)
}

func (a *app) twofaPage(w http.ResponseWriter, r *http.Request) {
	a.renderTwofa(w, r, http.StatusOK, twofaForm{})
}

func (a *app) twofaEnable(w http.ResponseWriter, r *http.Request) {
	e, err := a.enrolment(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	codes, err := a.auth.TwoFA().Enable(r.Context(), a.auth.CurrentUser(r).ID, e.Secret, r.PostFormValue("code"))
	if errors.Is(err, twofa.ErrInvalidCode) {
		a.renderTwofa(w, r, http.StatusUnauthorized, twofaForm{Error: "That code is not correct."})
		return
	}
	if err == nil {
		a.auth.Session(r).Delete("totp_secret")
		// This session gets a new token and counts as having passed the
		// factor; the user's other sessions end.
		_, err = a.auth.LoginManager().SecondFactorChanged(w, r, true)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderTwofa(w, r, http.StatusOK, twofaForm{Codes: codes})
}

func (a *app) login2fa(w http.ResponseWriter, r *http.Request) {
	user, err := a.auth.CompleteSecondFactor(w, r, r.PostFormValue("code"))
	if errors.Is(err, login.ErrNoPendingLogin) {
		a.auth.Flash(w, r, "info", "Please log in again.", "/login")
		return
	}
	if err != nil {
		a.formError(w, r, "login2fa.html", form{}, err)
		return
	}
	var next string
	a.auth.Session(r).Get("next", &next)
	if next = login.SafeNext(next); next == "" {
		next = "/notes"
	}
	a.auth.Flash(w, r, "success", "Welcome back, "+user.Username+".", next)
}
