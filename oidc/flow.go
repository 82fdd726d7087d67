package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// pendingKey is the session key of the sign-ins started in this browser.
const pendingKey = "_oidc"

// maxPending bounds the sign-ins one browser may have started at once
// (one per tab); the oldest is dropped.
const maxPending = 4

// pending is a sign-in started in this browser: what the callback must
// find (state), check (nonce) and send (verifier).
type pending struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Provider string    `json:"p"`
	Next     string    `json:"x,omitempty"`
	UserID   string    `json:"u,omitempty"` // set when connecting to this user
	Expires  time.Time `json:"e"`
}

// Start begins a sign-in (POST Prefix/{id}, a form with csrf_token and
// next, or connect=1 to connect the identity to the logged-in user, who
// must have logged in within FreshFor): it answers 303 See Other to the
// provider's authorization endpoint with a state bound to this browser's
// session, a nonce and a PKCE S256 challenge.
func (s *Service) Start(w http.ResponseWriter, r *http.Request) {
	p := s.byID[r.PathValue("id")]
	if p == nil {
		s.fail(w, r, ErrUnknownProvider)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, autherr.Wrap(err, autherr.Invalid, "The form could not be read."))
		return
	}
	ps := pending{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Provider: p.ID,
		Next: login.SafeNext(r.PostForm.Get("next")), Expires: s.cfg.Now().Add(StateFor)}
	if r.PostForm.Get("connect") != "" {
		u := s.freshUser(w, r)
		if u == nil {
			return
		}
		ps.UserID, ps.Next = u.ID, ""
	}
	oc, _ := p.ready()
	if oc == nil {
		s.fail(w, r, ErrProviderUnavailable)
		return
	}
	sess := session.FromRequest(r)
	var list []pending
	if _, err := sess.Get(pendingKey, &list); err != nil {
		list = nil // unreadable: start afresh
	}
	now := s.cfg.Now()
	list = slices.DeleteFunc(list, func(q pending) bool { return !now.Before(q.Expires) })
	if len(list) >= maxPending {
		list = list[len(list)-maxPending+1:]
	}
	if err := sess.Put(pendingKey, append(list, ps)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.record(r, audit.Event{Name: audit.OIDCStart, Provider: p.ID, UserID: ps.UserID})
	to := oc.AuthCodeURL(ps.State, oauth2.SetAuthURLParam("nonce", ps.Nonce), oauth2.S256ChallengeOption(ps.Verifier))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// take removes the sign-in whose state is state from the session and
// returns it; ok is false when there is none. A state is usable once.
func take(sess *session.Session, state string) (pending, bool) {
	var list []pending
	if _, err := sess.Get(pendingKey, &list); err != nil || state == "" {
		return pending{}, false
	}
	for i, q := range list {
		if subtle.ConstantTimeCompare([]byte(q.State), []byte(state)) == 1 {
			list = slices.Delete(list, i, i+1)
			if len(list) == 0 {
				sess.Delete(pendingKey)
			} else if err := sess.Put(pendingKey, list); err != nil {
				return pending{}, false
			}
			return q, true
		}
	}
	return pending{}, false
}

// claims are the ID token's claims the flow reads.
type claims struct {
	Email             string `json:"email"`
	EmailVerified     any    `json:"email_verified"` // some providers send "true"
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name"`
	AZP               string `json:"azp"`
}

func (c *claims) verified() bool {
	switch v := c.EmailVerified.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// failure is a refused callback: the error to answer and the reason to
// audit.
type failure struct {
	err    error
	reason string
}

func (f *failure) Error() string { return f.reason + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func refuse(err error, reason string) error { return &failure{err: err, reason: reason} }

// Callback finishes a sign-in (GET Prefix/{id}/callback?code&state): it
// takes the state from this browser's session, exchanges the code with
// the PKCE verifier, verifies the ID token, then logs the linked user in,
// creates and links an account (unless the provider's NoSignup), or
// connects the identity to the user who started the flow. Every refusal
// is audited and creates no session.
func (s *Service) Callback(w http.ResponseWriter, r *http.Request) {
	p := s.byID[r.PathValue("id")]
	if p == nil {
		s.fail(w, r, ErrUnknownProvider)
		return
	}
	ctx := r.Context()
	var res *throttle.Reservation
	if t := s.lc.Throttle; t != nil {
		var err error
		ip := s.lc.ClientIP(r)
		// The attempt's account is the address too, so no one's guesses
		// lock anyone else out.
		res, err = t.Reserve(ctx, throttle.Attempt{Account: "\x00oidc " + ip, IP: ip})
		if errors.Is(err, throttle.ErrThrottled) {
			s.record(r, audit.Event{Name: audit.Lockout, Provider: p.ID, Reason: "throttled"})
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	settle := func(ok bool) {
		if res == nil {
			return
		}
		var err error
		if ok {
			err = res.Succeed(ctx)
		} else {
			err = res.Fail(ctx)
		}
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "oidc: cannot count the callback", "err", err)
		}
	}
	ps, id, c, err := s.verify(r, p)
	if err != nil {
		settle(false)
		var f *failure
		if errors.As(err, &f) {
			e := audit.Event{Name: audit.OIDCFailure, Provider: p.ID, Reason: f.reason, UserID: ps.UserID}
			s.record(r, e)
		}
		s.fail(w, r, err)
		return
	}
	settle(true)
	if ps.UserID != "" {
		s.connect(w, r, p, ps, id, c)
		return
	}
	s.signIn(w, r, p, ps, id, c)
}

// verify checks the callback up to a verified ID token.
func (s *Service) verify(r *http.Request, p *provider) (pending, *gooidc.IDToken, *claims, error) {
	q := r.URL.Query()
	ps, ok := take(session.FromRequest(r), q.Get("state"))
	switch {
	case !ok:
		return ps, nil, nil, refuse(ErrFailed, "bad_state")
	case ps.Provider != p.ID:
		return ps, nil, nil, refuse(ErrFailed, "bad_state")
	case !s.cfg.Now().Before(ps.Expires):
		return ps, nil, nil, refuse(ErrFailed, "expired_state")
	case q.Has("iss") && q.Get("iss") != p.Issuer:
		// RFC 9207: the answer names another issuer (a mix-up attack).
		return ps, nil, nil, refuse(ErrFailed, "bad_iss")
	case q.Get("error") != "":
		return ps, nil, nil, refuse(ErrDenied, "provider_error:"+errorCode(q.Get("error")))
	case q.Get("code") == "":
		return ps, nil, nil, refuse(ErrFailed, "no_code")
	}
	if ps.UserID != "" {
		if u := login.CurrentUser(r.Context()); u == nil || u.ID != ps.UserID {
			return ps, nil, nil, refuse(ErrFailed, "user_changed")
		}
	}
	oc, v := p.ready()
	if oc == nil {
		return ps, nil, nil, ErrProviderUnavailable
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.cfg.HTTPClient)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ps.Verifier))
	if err != nil {
		s.cfg.Logger.InfoContext(ctx, "oidc: code exchange refused", "provider", p.ID, "err", err)
		return ps, nil, nil, refuse(ErrFailed, "bad_code")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return ps, nil, nil, refuse(ErrFailed, "no_id_token")
	}
	id, err := v.Verify(gooidc.ClientContext(ctx, s.cfg.HTTPClient), raw)
	if err != nil {
		var expired *gooidc.TokenExpiredError
		reason := "bad_id_token"
		if errors.As(err, &expired) {
			reason = "expired_id_token"
		}
		s.cfg.Logger.InfoContext(ctx, "oidc: ID token refused", "provider", p.ID, "err", err)
		return ps, nil, nil, refuse(ErrFailed, reason)
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(ps.Nonce)) != 1 {
		return ps, nil, nil, refuse(ErrFailed, "bad_nonce")
	}
	var c claims
	if err := id.Claims(&c); err != nil {
		return ps, nil, nil, refuse(ErrFailed, "bad_claims")
	}
	for _, a := range id.Audience {
		if a != p.ClientID && !slices.Contains(p.TrustedAudiences, a) {
			return ps, nil, nil, refuse(ErrFailed, "untrusted_audience")
		}
	}
	if c.AZP != "" && c.AZP != p.ClientID {
		return ps, nil, nil, refuse(ErrFailed, "untrusted_azp")
	}
	if id.Subject == "" {
		return ps, nil, nil, refuse(ErrFailed, "no_subject")
	}
	if c.Email == "" && c.PreferredUsername == "" && c.Name == "" {
		// Some providers put the profile in the UserInfo response only.
		if err := s.userInfo(ctx, p, tok, id.Subject, &c); err != nil {
			return ps, nil, nil, err
		}
	}
	return ps, id, &c, nil
}

// userInfo fills c from the provider's UserInfo endpoint, when it has
// one. A response about another subject is refused; an endpoint that
// fails only leaves c as it was (the ID token alone signs in).
func (s *Service) userInfo(ctx context.Context, p *provider, tok *oauth2.Token, subject string, c *claims) error {
	op := p.discovered()
	if op == nil || op.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		s.cfg.Logger.InfoContext(ctx, "oidc: UserInfo request failed; signing in with the ID token's claims", "provider", p.ID, "err", err)
		return nil
	}
	if ui.Subject != subject {
		return refuse(ErrFailed, "userinfo_subject")
	}
	var more claims
	if err := ui.Claims(&more); err != nil {
		return refuse(ErrFailed, "bad_claims")
	}
	c.Email, c.EmailVerified, c.PreferredUsername, c.Name = more.Email, more.EmailVerified, more.PreferredUsername, more.Name
	return nil
}

// errorCode returns a provider's error code for the audit log: the
// registered codes are lowercase letters and '_'; anything else is cut.
func errorCode(code string) string {
	code = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r == '_' {
			return r
		}
		return -1
	}, code)
	if len(code) > 40 {
		code = code[:40]
	}
	return code
}

// signIn logs in the user linked to the identity, or signs a new one up.
// It never links to an existing account by a matching email: that would
// hand the account to whoever controls the address at the provider.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, p *provider, ps pending, id *gooidc.IDToken, c *claims) {
	ctx := r.Context()
	users := s.lc.Users
	var u *account.User
	link, err := s.cfg.Identities.Identity(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		u, err = users.UserByID(ctx, link.UserID)
		if errors.Is(err, account.ErrNotFound) {
			// The account is gone but its link stayed (an app's own user
			// table): the identity is free again.
			s.cfg.Logger.WarnContext(ctx, "oidc: linked account no longer exists; link removed", "provider", p.ID, "user_id", link.UserID)
			if err := s.cfg.Identities.UnlinkIdentity(ctx, link.UserID, id.Issuer, id.Subject); err != nil && !errors.Is(err, identity.ErrNotFound) {
				s.fail(w, r, storeErr(err))
				return
			}
			u, err = nil, identity.ErrNotFound
		} else if err != nil {
			s.fail(w, r, storeErr(err))
			return
		}
	case !errors.Is(err, identity.ErrNotFound):
		s.fail(w, r, storeErr(err))
		return
	}
	if errors.Is(err, identity.ErrNotFound) {
		if p.NoSignup {
			s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: p.ID, Reason: "signup_closed"})
			s.fail(w, r, ErrSignupClosed)
			return
		}
		if u, err = s.signUp(r, p, id, c); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.cfg.BeforeLogin != nil && !s.cfg.BeforeLogin(w, r, u) {
		s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: p.ID, UserID: u.ID, Reason: "refused_before_login"})
		return
	}
	if err := s.cfg.Login.Login(w, r, u, false); err != nil {
		if errors.Is(err, login.ErrSecondFactorRequired) && s.cfg.SecondFactor != nil {
			// The provider was the first factor; the user's own second
			// factor completes the login.
			s.record(r, audit.Event{Name: audit.OIDCSuccess, Provider: p.ID, UserID: u.ID, Reason: "second_factor_required"})
			s.cfg.SecondFactor(w, r, ps.Next)
			return
		}
		if errors.Is(err, login.ErrInvalidCredentials) {
			// A disabled account, or one changed under the sign-in.
			s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: p.ID, UserID: u.ID, Reason: "account_refused"})
			err = ErrFailed
		}
		s.fail(w, r, err)
		return
	}
	if err := s.cfg.Identities.TouchIdentity(ctx, id.Issuer, id.Subject, s.cfg.Now()); err != nil {
		s.cfg.Logger.WarnContext(ctx, "oidc: cannot record the identity's last use", "err", err)
	}
	s.record(r, audit.Event{Name: audit.OIDCSuccess, Provider: p.ID, UserID: u.ID})
	next := ps.Next
	if next == "" {
		next = s.cfg.AfterLogin
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signUp creates an account for the identity and links it.
func (s *Service) signUp(r *http.Request, p *provider, id *gooidc.IDToken, c *claims) (*account.User, error) {
	ctx := r.Context()
	if t := s.lc.Throttle; t != nil {
		if err := t.AllowRegistration(ctx, s.lc.ClientIP(r)); err != nil {
			return nil, err
		}
	}
	email := strings.TrimSpace(c.Email)
	if account.ValidateEmail(email) != nil {
		email = ""
	}
	claimed := email // a name may come from it all the same
	if !c.verified() {
		// An address the provider does not vouch for is not the
		// account's: whoever signed up with someone else's address would
		// keep a way in (this identity) to the account that a password
		// reset to that address then hands its owner (a pre-account
		// takeover). The owner can add an address from the account page.
		email = ""
	}
	now := s.cfg.Now()
	var u *account.User
	for i, name := range usernames(c, claimed) {
		u = &account.User{Username: name, Email: email, CreatedAt: now}
		err := s.lc.Users.(account.Store).CreateUser(ctx, u)
		if err == nil {
			break
		}
		if errors.Is(err, account.ErrNotSupported) {
			// An app's own user Source that cannot create users: only
			// identities connected from an account sign in.
			s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: p.ID, Reason: "signup_unsupported"})
			return nil, ErrSignupClosed
		}
		if !errors.Is(err, account.ErrUsernameTaken) || i == maxNameTries-1 {
			return nil, storeErr(err)
		}
	}
	l := &identity.Identity{Issuer: id.Issuer, Subject: id.Subject, Provider: p.ID, UserID: u.ID, Email: email,
		CreatedAt: now, LastUsedAt: now}
	if err := s.cfg.Identities.LinkIdentity(ctx, l); err != nil {
		// Another callback for the same identity won the race: this
		// account stays unused rather than half linked.
		return nil, storeErr(err)
	}
	if email != "" && s.cfg.VerifiedEmail != nil {
		if err := s.cfg.VerifiedEmail(ctx, u.ID, email, now); err != nil {
			s.cfg.Logger.WarnContext(ctx, "oidc: cannot mark the new account's address verified", "user_id", u.ID, "err", err)
		}
	}
	s.record(r, audit.Event{Name: audit.OIDCSignup, Provider: p.ID, UserID: u.ID, Username: u.Username})
	return u, nil
}

// maxNameTries bounds the usernames tried for a new account.
const maxNameTries = 12

// usernames returns the usernames to try for a new account, best first:
// the preferred_username (or the address's local part, or the name) kept
// to the characters a username allows, then numbered variants, then a
// random one.
func usernames(c *claims, email string) []string {
	base := ""
	local, _, _ := strings.Cut(email, "@")
	for _, cand := range []string{c.PreferredUsername, local, c.Name} {
		if base = cleanName(cand); len(base) >= account.MinUsername {
			break
		}
	}
	if len(base) < account.MinUsername {
		base = "user"
	}
	base = base[:min(len(base), account.MaxUsername-8)]
	out := []string{base}
	for i := 2; len(out) < maxNameTries-1; i++ {
		out = append(out, fmt.Sprintf("%s-%d", base, i))
	}
	return append(out, base+"-"+strings.ToLower(rand.Text()[:6]))
}

// cleanName keeps the characters of s that a username allows, with
// spaces as '.', and trims separators from its ends.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		case r == ' ':
			return '.'
		}
		return -1
	}, s)
	return strings.Trim(s, ".-_")
}

// connect links the identity to the user who started the flow.
func (s *Service) connect(w http.ResponseWriter, r *http.Request, p *provider, ps pending, id *gooidc.IDToken, c *claims) {
	ctx := r.Context()
	now := s.cfg.Now()
	l := &identity.Identity{Issuer: id.Issuer, Subject: id.Subject, Provider: p.ID, UserID: ps.UserID, Email: c.Email,
		CreatedAt: now, LastUsedAt: now}
	err := s.cfg.Identities.LinkIdentity(ctx, l)
	if errors.Is(err, identity.ErrLinked) {
		if cur, e := s.cfg.Identities.Identity(ctx, id.Issuer, id.Subject); e == nil && cur.UserID == ps.UserID {
			s.flash(r, "That "+p.Label+" account was connected already.")
			http.Redirect(w, r, s.cfg.AccountPath, http.StatusSeeOther)
			return
		}
		s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: p.ID, UserID: ps.UserID, Reason: "linked_to_another"})
		s.fail(w, r, identity.ErrLinked)
		return
	}
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	s.record(r, audit.Event{Name: audit.OIDCLink, Provider: p.ID, UserID: ps.UserID})
	s.flash(r, "Your "+p.Label+" account is connected: you can sign in with it.")
	http.Redirect(w, r, s.cfg.AccountPath, http.StatusSeeOther)
}

func (s *Service) flash(r *http.Request, msg string) {
	if s.cfg.Flash != nil {
		s.cfg.Flash(r, msg)
	}
}

// storeErr marks a store's failure that carries no kind as unavailable
// (503); errors with a kind keep it.
func storeErr(err error) error {
	if autherr.KindOf(err) == autherr.Internal {
		return autherr.Wrap(err, autherr.Unavailable, "")
	}
	return err
}

// Linked is an identity as the account page lists it.
type Linked struct {
	Provider string // the configured ID
	Label    string
	Email    string
	Since    time.Time
	LastUsed time.Time
}

// Linked returns the identities linked to the user, oldest first.
func (s *Service) Linked(ctx context.Context, userID string) ([]Linked, error) {
	list, err := s.cfg.Identities.IdentitiesByUser(ctx, userID)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Linked, 0, len(list))
	for _, l := range list {
		out = append(out, Linked{Provider: l.Provider, Label: s.Label(l.Provider), Email: l.Email, Since: l.CreatedAt, LastUsed: l.LastUsedAt})
	}
	return out, nil
}

// freshUser returns the logged-in user of a request that connects or
// disconnects an identity, or answers it (login.ErrUnauthenticated,
// login.ErrNotFresh: a login older than FreshFor) and returns nil.
func (s *Service) freshUser(w http.ResponseWriter, r *http.Request) *account.User {
	u := login.CurrentUser(r.Context())
	if u == nil {
		s.fail(w, r, login.ErrUnauthenticated)
		return nil
	}
	if !s.cfg.Login.IsFresh(r, s.cfg.FreshFor) {
		s.fail(w, r, login.ErrNotFresh)
		return nil
	}
	return u
}

// Disconnect removes the logged-in user's identities at the provider
// (POST Prefix/{id}/disconnect), unless that would leave the account
// without a password, another identity or another way in
// (Config.OtherWayIn): ErrLastMethod, 403. Like connecting, it needs a
// login within FreshFor (login.ErrNotFresh).
func (s *Service) Disconnect(w http.ResponseWriter, r *http.Request) {
	u := s.freshUser(w, r)
	if u == nil {
		return
	}
	pid := r.PathValue("id")
	n, err := Unlink(r.Context(), s.cfg.Identities, s.lc.Users, u, pid, true, s.cfg.OtherWayIn)
	if err != nil {
		if errors.Is(err, ErrLastMethod) {
			s.record(r, audit.Event{Name: audit.OIDCFailure, Provider: pid, UserID: u.ID, Reason: "last_login_method"})
		}
		s.fail(w, r, err)
		return
	}
	s.record(r, audit.Event{Name: audit.OIDCUnlink, Provider: pid, UserID: u.ID, Count: n})
	s.flash(r, "Your "+s.Label(pid)+" account is disconnected.")
	http.Redirect(w, r, s.cfg.AccountPath, http.StatusSeeOther)
}

// Unlink removes u's identities at the provider id and returns how many
// there were: identity.ErrNotFound when none. With keepOne, it refuses
// with ErrLastMethod when the account would be left with no password, no
// other identity and no other way in (otherWay, when not nil: a passkey,
// say); users must then find u with its password hash
// (account.Source.UserByUsername). This holds against other changes at
// the same moment too (the account's other identity disconnected by
// another request): a removal that left no way in is undone and answered
// ErrLastMethod, so the last change standing leaves one.
func Unlink(ctx context.Context, ids identity.Store, users account.Source, u *account.User, id string, keepOne bool, otherWay func(ctx context.Context, userID string) (bool, error)) (int, error) {
	list, err := ids.IdentitiesByUser(ctx, u.ID)
	if err != nil {
		return 0, storeErr(err)
	}
	mine := slices.DeleteFunc(slices.Clone(list), func(l *identity.Identity) bool { return l.Provider != id })
	if len(mine) == 0 {
		return 0, identity.ErrNotFound
	}
	if keepOne && len(mine) == len(list) {
		ok, err := otherWayIn(ctx, users, u, otherWay)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, ErrLastMethod
		}
	}
	// Once an identity is gone, the check below and its undo run to their
	// end even if the request is cancelled (each store call keeps its own
	// deadline).
	ctx = context.WithoutCancel(ctx)
	for _, l := range mine {
		if err := ids.UnlinkIdentity(ctx, u.ID, l.Issuer, l.Subject); err != nil && !errors.Is(err, identity.ErrNotFound) {
			return 0, storeErr(err)
		}
	}
	if keepOne {
		if err := keepAWayIn(ctx, ids, users, u, mine, otherWay); err != nil {
			return 0, err
		}
	}
	return len(mine), nil
}

// otherWayIn reports whether u can log in without an identity: with a
// password, or the other way (otherWay, when not nil).
func otherWayIn(ctx context.Context, users account.Source, u *account.User, otherWay func(ctx context.Context, userID string) (bool, error)) (bool, error) {
	full, err := users.UserByUsername(ctx, u.Username)
	if err != nil {
		return false, storeErr(err)
	}
	if full.PasswordHash != "" || otherWay == nil {
		return full.PasswordHash != "", nil
	}
	ok, err := otherWay(ctx, u.ID)
	if err != nil {
		return false, storeErr(err)
	}
	return ok, nil
}

// keepAWayIn checks, after Unlink removed the identities removed, that u
// can still log in, and links them back if not (ErrLastMethod). Two
// disconnects of an account's two identities at once would otherwise
// leave none, each having checked before the other's removal that
// another identity remained: whatever the order, the last change
// standing leaves a way in. It needs no lock across processes. When the
// check cannot be made, the identities are linked back too and the
// store's error returned.
func keepAWayIn(ctx context.Context, ids identity.Store, users account.Source, u *account.User, removed []*identity.Identity, otherWay func(ctx context.Context, userID string) (bool, error)) error {
	left, err := ids.IdentitiesByUser(ctx, u.ID)
	if err == nil && len(left) > 0 {
		return nil
	}
	ok := false
	if err != nil {
		err = storeErr(err)
	} else if ok, err = otherWayIn(ctx, users, u, otherWay); ok {
		return nil
	}
	for _, l := range removed {
		// ErrLinked: it was connected again meanwhile.
		if lerr := ids.LinkIdentity(ctx, l); lerr != nil && !errors.Is(lerr, identity.ErrLinked) {
			return storeErr(lerr)
		}
	}
	if err != nil {
		return err
	}
	return ErrLastMethod
}
