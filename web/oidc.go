package web

import (
	"errors"
	"net/http"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/oidc"
)

// The OpenID Connect resource: "Sign in with …" buttons on the login page,
// connected identities on the account page. The flow itself is package
// oidc's; this file answers its refusals in the site's pages.

// oidcError answers a refused sign-in, connect or disconnect: the account
// page with the message for a logged-in user, the login page otherwise,
// with the error's status (401, 403, 409, 429); other errors (unknown
// provider, a store down) get the site's error page.
func (s *Server) oidcError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, login.ErrNotFresh) && !WantsJSON(r) {
		s.requireFresh(w, r, "/account")
		return
	}
	if WantsJSON(r) {
		s.fail(w, r, err)
		return
	}
	status, msg, ok := s.formProblem(w, r, err, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusConflict, http.StatusTooManyRequests)
	if !ok {
		s.fail(w, r, err)
		return
	}
	if login.CurrentUser(r.Context()) != nil {
		s.renderAccount(w, r, status, &accountPage{Error: msg})
		return
	}
	d := s.newLoginPage(r, "")
	d.Error = msg
	s.render(w, r, status, "login", d)
}

// providerButtons returns the login page's "Sign in with …" buttons.
func (s *Server) providerButtons() []oidc.Button {
	if s.oidc == nil {
		return nil
	}
	return s.oidc.Buttons()
}

// fillIdentities adds the user's connected identities and the providers
// to connect to the account page.
func (s *Server) fillIdentities(r *http.Request, userID string, d *accountPage) error {
	if s.oidc == nil {
		return nil
	}
	linked, err := s.oidc.Linked(r.Context(), userID)
	if err != nil {
		return err
	}
	d.Identities, d.Providers = linked, s.oidc.Buttons()
	return nil
}
