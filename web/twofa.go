package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/twofa"
)

// The second-factor resource: enrolment and removal on /account/2fa, the
// code step of a login on /login/2fa, and /api/session/2fa.

// Session keys of the web layer's second-factor steps.
const (
	enrolKey     = "totp_enrol" // the secret offered on /account/2fa, until confirmed
	loginNextKey = "login_next" // where to go after /login/2fa
)

// msgCodeWrong is the form's message for a wrong code.
const msgCodeWrong = "That code is not correct. Enter the current 6-digit code from your app, or a recovery code."

// twofaPage is /account/2fa: the status, or an enrolment offer.
type twofaPage struct {
	base
	Status twofa.Status
	Secret string // base32, for typing into an app
	URL    string // the otpauth:// URI
	Codes  []string
	Error  string
}

// login2faPage is the code step of a login.
type login2faPage struct {
	base
	Username   string
	Error      string
	HasTOTP    bool // ask for a code
	HasPasskey bool // offer "Use a passkey"
}

// newLogin2faPage describes the second step for the pending user u.
func (s *Server) newLogin2faPage(r *http.Request, u *account.User) (*login2faPage, error) {
	d := &login2faPage{base: base{Title: "Two-factor authentication", needCSRF: true}, HasTOTP: true}
	if u == nil {
		return d, nil
	}
	d.Username = u.Username
	if s.twofa != nil {
		st, err := s.twofa.Status(r.Context(), u.ID)
		if err != nil {
			return nil, err
		}
		d.HasTOTP = st.Enabled
	}
	if s.passkeys != nil {
		cs, err := s.passkeys.List(r.Context(), u.ID)
		if err != nil {
			return nil, err
		}
		if d.HasPasskey = len(cs) > 0; d.HasPasskey {
			d.Script = s.passkeyScript()
		}
	}
	return d, nil
}

func (s *Server) twofaRoutes(mux *http.ServeMux, h func(http.HandlerFunc) http.Handler) {
	needLogin := s.login.RequireLogin
	mux.Handle("GET /account/2fa", needLogin(h(s.twofaPage)))
	mux.Handle("GET /account/2fa/qr.png", needLogin(h(s.twofaQR)))
	mux.Handle("POST /account/2fa/totp", needLogin(h(s.twofaEnable)))
	mux.Handle("POST /account/2fa/disable", needLogin(h(s.twofaDisable)))
	mux.Handle("POST /account/2fa/recovery-codes", needLogin(h(s.twofaRecoveryCodes)))
	s.secondStepRoutes(mux, h)
}

// secondStepRoutes serves the second step of a login, for TOTP or
// passkeys.
func (s *Server) secondStepRoutes(mux *http.ServeMux, h func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET /login/2fa", h(s.login2faForm))
	mux.Handle("POST /login/2fa", h(s.login2faSubmit))
	mux.Handle("POST /api/session/2fa", h(s.apiLogin2fa))
}

// enrolment returns the secret offered to the current user, making one
// when the session holds none (create) or answering errNotFound.
func (s *Server) enrolment(r *http.Request, create bool) (*twofa.Enrolment, error) {
	e, err := s.twofa.SessionEnrolment(session.FromRequest(r), enrolKey, login.CurrentUser(r.Context()).Username, create)
	if errors.Is(err, twofa.ErrNotEnrolled) {
		return nil, errNotFound
	}
	return e, err
}

func (s *Server) renderTwofa(w http.ResponseWriter, r *http.Request, status int, d *twofaPage) {
	d.Title = "Two-factor authentication"
	st, err := s.twofa.Status(r.Context(), login.CurrentUser(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Status = st
	if !st.Enabled && d.Codes == nil {
		e, err := s.enrolment(r, true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Secret, d.URL = e.Secret, e.URL
	}
	s.render(w, r, status, "twofa", d)
}

func (s *Server) twofaPage(w http.ResponseWriter, r *http.Request) {
	s.renderTwofa(w, r, http.StatusOK, &twofaPage{})
}

func (s *Server) twofaQR(w http.ResponseWriter, r *http.Request) {
	e, err := s.enrolment(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	png, err := e.QR(256)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

// codeProblem renders the 2FA page again for a wrong code (401) or a
// throttled one (429); other errors are the site's error page.
func (s *Server) codeProblem(w http.ResponseWriter, r *http.Request, err error, d *twofaPage) {
	status, msg, ok := s.formProblem(w, r, err, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusConflict)
	if !ok {
		s.fail(w, r, err)
		return
	}
	d.Error = msg
	if errors.Is(err, twofa.ErrInvalidCode) {
		d.Error = msgCodeWrong
	}
	s.renderTwofa(w, r, status, d)
}

func (s *Server) twofaEnable(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account/2fa") {
		return
	}
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.enrolment(r, false)
	if err != nil {
		s.flash(r, "info", "Scan the new code below, then enter the code your app shows.")
		redirect(w, r, "/account/2fa")
		return
	}
	me := login.CurrentUser(r.Context())
	codes, err := s.twofa.Enable(r.Context(), me.ID, e.Secret, r.PostForm.Get("code"))
	if err != nil {
		s.codeProblem(w, r, err, &twofaPage{})
		return
	}
	session.FromRequest(r).Delete(enrolKey)
	if _, err := s.login.SecondFactorChanged(w, r, true); err != nil {
		// The other sessions could not be ended (a store failed), and
		// the codes could not be shown: undone, to be done again.
		if rerr := s.twofa.Reset(context.WithoutCancel(r.Context()), me.ID, me.ID); rerr != nil {
			s.log.ErrorContext(r.Context(), "web: cannot undo a two-factor enrolment that failed", "err", rerr)
		}
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "Two-factor authentication is on. Your other sessions have ended.")
	s.showCodes(w, r, codes)
}

// showCodes renders the recovery codes, this once.
func (s *Server) showCodes(w http.ResponseWriter, r *http.Request, codes []string) {
	w.Header().Set("Cache-Control", "no-store")
	s.renderTwofa(w, r, http.StatusOK, &twofaPage{Codes: codes})
}

func (s *Server) twofaDisable(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account/2fa") {
		return
	}
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	me := login.CurrentUser(r.Context())
	if err := s.twofa.Disable(r.Context(), me.ID, r.PostForm.Get("code")); err != nil {
		s.codeProblem(w, r, err, &twofaPage{})
		return
	}
	if _, err := s.login.SecondFactorChanged(w, r, false); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "Two-factor authentication is off. Your other sessions have ended.")
	redirect(w, r, "/account/2fa")
}

func (s *Server) twofaRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	if !s.requireFresh(w, r, "/account/2fa") {
		return
	}
	codes, err := s.twofa.NewRecoveryCodes(r.Context(), login.CurrentUser(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "Here are your new recovery codes; the old ones no longer work.")
	s.showCodes(w, r, codes)
}

// secondStep answers a login whose password was right but that needs a
// second factor: 303 to /login/2fa, remembering next.
func (s *Server) secondStep(w http.ResponseWriter, r *http.Request, next string) {
	sess := session.FromRequest(r)
	if next != "" {
		sess.Put(loginNextKey, next)
	} else {
		sess.Delete(loginNextKey)
	}
	redirect(w, r, "/login/2fa")
}

func (s *Server) login2faForm(w http.ResponseWriter, r *http.Request) {
	u, err := s.login.PendingUser(r)
	if err != nil {
		s.noPending(w, r, err)
		return
	}
	d, err := s.newLogin2faPage(r, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "login2fa", d)
}

// noPending sends a browser without a pending login back to the password.
func (s *Server) noPending(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, login.ErrNoPendingLogin) {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "info", autherr.MessageOf(err))
	redirect(w, r, "/login")
}

func (s *Server) login2faSubmit(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	code := r.PostForm.Get("code")
	var err error
	if !utf8.ValidString(code) || strings.TrimSpace(code) == "" || len(code) > 64 {
		err = twofa.ErrInvalidCode
		if _, perr := s.login.PendingUser(r); perr != nil {
			err = perr
		}
	} else {
		_, err = s.login.CompleteSecondFactor(w, r, code)
	}
	if err != nil {
		if errors.Is(err, login.ErrNoPendingLogin) {
			s.noPending(w, r, err)
			return
		}
		status, msg, ok := s.formProblem(w, r, err, http.StatusUnauthorized, http.StatusTooManyRequests)
		if !ok {
			s.fail(w, r, err)
			return
		}
		if errors.Is(err, twofa.ErrInvalidCode) {
			msg = msgCodeWrong
		}
		u, _ := s.login.PendingUser(r)
		d, derr := s.newLogin2faPage(r, u)
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		d.Error = msg
		s.render(w, r, status, "login2fa", d)
		return
	}
	sess := session.FromRequest(r)
	var next string
	sess.Get(loginNextKey, &next)
	sess.Delete(loginNextKey)
	if next = login.SafeNext(next); next == "" {
		next = "/dashboard"
	}
	redirect(w, r, next)
}

func (s *Server) apiLogin2fa(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Code == "" || len(req.Code) > 64 {
		s.fail(w, r, badRequest("A code is required."))
		return
	}
	u, err := s.login.CompleteSecondFactor(w, r, req.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	full, err := s.accounts.UserByID(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	writeJSON(w, http.StatusOK, apiSessionBody{User: userJSON(full), CSRFToken: s.login.CSRFToken(w, r)})
}

// enrolFirst sends users with a role in Config.RequireSecondFactorFor who
// have not passed a second factor to /account/2fa before anything else.
func (s *Server) enrolFirst(next http.Handler) http.Handler {
	if len(s.require2FA) == 0 || s.twofa == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u := login.CurrentUser(ctx)
		if u == nil || login.HowAuthenticated(ctx) == login.ByBearer || login.SecondFactorDone(ctx) ||
			!slices.ContainsFunc(s.require2FA, u.HasRole) || enrolAllowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		if WantsJSON(r) {
			s.fail(w, r, login.ErrSecondFactorRequired)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodGet {
			s.flash(r, "info", "Please set up two-factor authentication to continue.")
		}
		redirect(w, r, "/account/2fa")
	})
}

// enrolAllowed reports whether r is one of the requests a user who must
// enrol may make first: the enrolment itself, logging out, static files.
func enrolAllowed(r *http.Request) bool {
	p := r.URL.Path
	return p == "/account/2fa" || strings.HasPrefix(p, "/account/2fa/") || p == "/logout" || p == "/login" ||
		strings.HasPrefix(p, "/static/") || (p == "/api/session" && r.Method == http.MethodDelete) ||
		p == "/healthz" || p == "/livez" || p == "/readyz"
}
