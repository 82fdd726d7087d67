package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
)

// The recovery resource: forgotten passwords, email verification and
// changes of address (package recovery), as pages and as
// /api/password/forgot, /api/password/reset and /api/email/verify.

// pendingKey holds, in the session, the ID of a user whose login was
// refused for an unverified address, so the refusal page can send the link
// again without asking for the password a second time.
const pendingKey = "web.unverified_user"

// errInvalidLink is the answer to a link that does not work: 400 with
// recovery.MsgInvalidLink and a way to ask for a new one.
var errInvalidLink = &webError{problem{http.StatusBadRequest, "invalid_token", "Link invalid or expired", recovery.MsgInvalidLink}}

// linkErr turns recovery.ErrInvalidToken into errInvalidLink.
func linkErr(err error) error {
	if errors.Is(err, recovery.ErrInvalidToken) {
		return errInvalidLink
	}
	return err
}

// forgotPage asks for the address to send a reset link to.
type forgotPage struct {
	base
	Email  string
	Errors map[string]string
}

func (s *Server) forgotForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", &forgotPage{base: base{Title: "Forgot your password?", needCSRF: true}})
}

func (s *Server) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.PostForm.Get("email")
	if err := s.recovery.RequestReset(r.Context(), email, s.clientIP(r)); err != nil {
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", &forgotPage{base: base{Title: "Forgot your password?", needCSRF: true},
			Email: redisplay(email), Errors: map[string]string{"email": autherr.MessageOf(err)}})
		return
	}
	s.flash(r, "info", recovery.MsgResetSent)
	redirect(w, r, "/login")
}

// resetPage sets a new password through a reset link.
type resetPage struct {
	base
	Username string
	Action   string // the form's own URL, with the token
	Errors   map[string]string
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) {
	u, err := s.recovery.CheckReset(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, linkErr(err))
		return
	}
	s.render(w, r, http.StatusOK, "reset", &resetPage{base: base{Title: "Choose a new password", needCSRF: true},
		Username: u.Username, Action: r.URL.Path})
}

func (s *Server) resetSubmit(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	token, pw := r.PathValue("token"), r.PostForm.Get("new_password")
	u, err := s.recovery.ResetPassword(r.Context(), token, pw, s.clientIP(r))
	if err != nil {
		if autherr.KindOf(err) == autherr.Invalid && !errors.Is(err, recovery.ErrInvalidToken) {
			u, cerr := s.recovery.CheckReset(r.Context(), token)
			if cerr != nil {
				s.fail(w, r, linkErr(cerr))
				return
			}
			s.render(w, r, http.StatusUnprocessableEntity, "reset", &resetPage{base: base{Title: "Choose a new password", needCSRF: true},
				Username: u.Username, Action: r.URL.Path, Errors: map[string]string{"new_password": autherr.MessageOf(err)}})
			return
		}
		s.fail(w, r, linkErr(err))
		return
	}
	if cu := login.CurrentUser(r.Context()); cu != nil && cu.ID == u.ID {
		// The reset ended this browser's session too: log it out, so
		// the message below has a session to wait in.
		if err := s.login.Logout(w, r); err != nil {
			s.log.WarnContext(r.Context(), "web: cannot log out after a reset", "err", err)
		}
	}
	s.flash(r, "success", "Your password has been reset, and every session of your account has been logged out. Please log in with your new password.")
	redirect(w, r, "/login")
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request) {
	u, err := s.recovery.Verify(r.Context(), r.PathValue("token"), s.clientIP(r))
	if err != nil {
		s.fail(w, r, linkErr(err))
		return
	}
	if err := s.login.RefreshUser(r.Context(), u.ID); err != nil {
		s.log.WarnContext(r.Context(), "web: cannot refresh the sessions of a user", "err", err)
	}
	s.flash(r, "success", "Thank you: your email address "+u.Email+" is confirmed.")
	if login.CurrentUser(r.Context()) != nil {
		redirect(w, r, "/account")
		return
	}
	redirect(w, r, "/login")
}

// resendVerification sends the verification link again: to the signed-in
// user, or to the user whose login was just refused for want of it.
func (s *Server) resendVerification(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := ""
	if u := login.CurrentUser(ctx); u != nil {
		id = u.ID
	} else {
		id = session.FromRequest(r).GetString(pendingKey)
	}
	if id == "" {
		s.fail(w, r, login.ErrUnauthenticated)
		return
	}
	u, err := s.accounts.UserByID(ctx, id)
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	back := "/account"
	if login.CurrentUser(ctx) == nil {
		back = "/login"
	}
	if ok, err := s.recovery.Verified(ctx, u); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		s.flash(r, "info", "Your email address is already confirmed.")
		redirect(w, r, back)
		return
	}
	if err := s.recovery.SendVerification(ctx, u, s.clientIP(r)); err != nil {
		if autherr.KindOf(err) == autherr.Throttled {
			s.flash(r, "error", autherr.MessageOf(err))
			redirect(w, r, back)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "We have sent a new link to "+u.Email+".")
	redirect(w, r, back)
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	current, next := r.PostForm.Get("current_password"), strings.TrimSpace(r.PostForm.Get("new_email"))
	d := &accountPage{NewEmail: redisplay(next)}
	if current == "" {
		d.Errors = map[string]string{"email_current_password": "Please enter your current password."}
		s.renderAccount(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	u, err := s.login.CheckPassword(r, current)
	if err == nil {
		err = s.recovery.RequestEmailChange(r.Context(), u, next, s.clientIP(r))
	}
	if err != nil {
		s.accountFormFailed(w, r, err, d, "email_current_password", "new_email")
		return
	}
	s.flash(r, "success", "We have sent a link to "+next+". Your address changes when you follow it; until then it stays "+u.Email+".")
	redirect(w, r, "/account")
}

// unverifiedPage answers a login refused for an unverified address.
type unverifiedPage struct {
	base
	Email string
}

// refuseUnverified answers a login of u, whose address is not verified,
// when verified addresses are required: a page that offers to send the
// link again, or 403 email_unverified for the JSON API.
func (s *Server) refuseUnverified(w http.ResponseWriter, r *http.Request, u *account.User) {
	if WantsJSON(r) {
		s.fail(w, r, recovery.ErrUnverified)
		return
	}
	if err := session.FromRequest(r).Put(pendingKey, u.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusForbidden, "unverified", &unverifiedPage{base: base{Title: "Please confirm your email address", needCSRF: true}, Email: u.Email})
}

// verifiedOK reports whether u may log in: always, unless verified
// addresses are required and u's is not.
func (s *Server) verifiedOK(r *http.Request, u *account.User) (bool, error) {
	if !s.requireVerified || s.recovery == nil {
		return true, nil
	}
	return s.recovery.Verified(r.Context(), u)
}

func (s *Server) apiForgot(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recovery.RequestReset(r.Context(), req.Email, s.clientIP(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Message string `json:"message"`
	}{recovery.MsgResetSent})
}

func (s *Server) apiReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.recovery.ResetPassword(r.Context(), req.Token, req.NewPassword, s.clientIP(r)); err != nil {
		s.fail(w, r, linkErr(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiVerify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.recovery.Verify(r.Context(), req.Token, s.clientIP(r))
	if err != nil {
		s.fail(w, r, linkErr(err))
		return
	}
	if err := s.login.RefreshUser(r.Context(), u.ID); err != nil {
		s.log.WarnContext(r.Context(), "web: cannot refresh the sessions of a user", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}
