// Package passkey is hallpass's WebAuthn support, built on
// github.com/go-webauthn/webauthn: users register passkeys, sign in with
// one alone (discoverable credentials, user verification required), or
// use one as the second factor after their password.
//
// A ceremony has two halves. Begin returns the options for the browser's
// navigator.credentials call and a state to keep on the server, in the
// session: the challenge is bound to that session and, taken out of it
// before Finish, used once. Finish checks the browser's answer against
// the state, the relying party (ID and origin from the site's base URL)
// and the stored credential, including its sign counter: an authenticator
// whose counter goes backwards (a clone) is refused.
package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/session"
)

// Errors. Check them with errors.Is.
var (
	// ErrInvalid reports an answer from the browser that does not prove
	// possession of a registered passkey: malformed, for another
	// challenge or origin, an unknown credential, or a cloned one. Kind
	// autherr.Unauthenticated, code "invalid_passkey".
	ErrInvalid error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "invalid_passkey",
		Message: "That passkey could not be verified.", Err: errors.New("passkey: invalid assertion")}

	// ErrNoChallenge reports a Finish without a Begin in this session, or
	// a second Finish of one. Kind autherr.Invalid, code "no_challenge".
	ErrNoChallenge error = &autherr.Error{Kind: autherr.Invalid, Code: "no_challenge",
		Message: "Please start again.", Err: errors.New("passkey: no challenge in this session")}

	// ErrStoreUnavailable wraps every failure of the Store. Kind
	// autherr.Unavailable.
	ErrStoreUnavailable error = autherr.New(autherr.Unavailable, "passkey: store unavailable")
)

// MaxName is the longest name a passkey may have, in bytes.
const MaxName = 64

// UsableBaseURL reports whether baseURL can name a relying party: an
// http or https URL whose host is a name (WebAuthn takes no IP address).
func UsableBaseURL(baseURL string) bool {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return false
	}
	_, err = netip.ParseAddr(u.Hostname())
	return err != nil
}

// Config configures a Service.
type Config struct {
	// Store keeps the credentials. Required.
	Store Store
	// StoreTimeout is the deadline of each store call; past it the call
	// fails and the request gets a 503, as with the session store.
	// Default session.DefaultStoreTimeout (3 seconds); negative: none.
	StoreTimeout time.Duration
	// BaseURL is the site's public URL ("https://login.example.com"): its
	// host is the relying party ID, its origin the only origin accepted.
	// Required.
	BaseURL string
	// DisplayName names the site in the browser's dialog. Default the
	// host.
	DisplayName string
	// Timeout is how long a ceremony may take. Default 5 minutes.
	Timeout time.Duration
	// Audit records registrations, removals and refused clones; nil
	// discards them.
	Audit *audit.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Service runs WebAuthn ceremonies. It is safe for concurrent use.
type Service struct {
	cfg Config
	wa  *webauthn.WebAuthn
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("passkey: Config.Store is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("passkey: Config.BaseURL %q is not an http or https URL", cfg.BaseURL)
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = u.Hostname()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = session.DefaultStoreTimeout
	}
	if cfg.StoreTimeout > 0 {
		cfg.Store = deadlineStore{cfg.Store, cfg.StoreTimeout}
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: cfg.DisplayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{cfg: cfg, wa: wa}, nil
}

func storeErr(op string, err error) error {
	return fmt.Errorf("passkey: %s: %w: %w", op, ErrStoreUnavailable, err)
}

// user is a hallpass user as the WebAuthn library sees it; its handle is
// the user ID.
type user struct {
	id, name string
	creds    []*Credential
}

func (u *user) WebAuthnID() []byte          { return []byte(u.id) }
func (u *user) WebAuthnName() string        { return u.name }
func (u *user) WebAuthnDisplayName() string { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.creds))
	for _, c := range u.creds {
		var wc webauthn.Credential
		if json.Unmarshal(c.Data, &wc) == nil {
			out = append(out, wc)
		}
	}
	return out
}

func (s *Service) loadUser(ctx context.Context, id, name string) (*user, error) {
	creds, err := s.cfg.Store.CredentialsByUser(ctx, id)
	if err != nil {
		return nil, storeErr("list credentials", err)
	}
	return &user{id: id, name: name, creds: creds}, nil
}

// Ceremony is what Begin returns: Options for the browser (the JSON of
// navigator.credentials' publicKey argument, under "publicKey"), and
// State to keep in the session until Finish.
type Ceremony struct {
	Options json.RawMessage
	State   []byte
}

// Start keeps c's state in the browser's session under key, for the call
// that finishes the ceremony (see Take), and answers c's options, the
// JSON the page gives to navigator.credentials.create or .get. Only an
// error keeping the state is returned; the caller answers it.
func (c *Ceremony) Start(w http.ResponseWriter, r *http.Request, key string) error {
	if err := session.FromRequest(r).Put(key, c.State); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(c.Options)
	return nil
}

// Take removes and returns the ceremony state Start kept under key, or
// nil when there is none: a challenge works once, in the session that
// asked for it, whether the answer is right or wrong.
func Take(s *session.Session, key string) []byte {
	st := s.GetBytes(key)
	s.Delete(key)
	return st
}

// Logins is the part of the login manager (login.Manager) that finishes
// a passkey ceremony into a login.
type Logins interface {
	// LoginVerified logs in the user a passkey proved, as both factors.
	LoginVerified(w http.ResponseWriter, r *http.Request, userID string, remember bool) (*account.User, error)
	// CompleteWith completes a pending login (a password was right, a
	// second factor is due) when check accepts the pending user.
	CompleteWith(w http.ResponseWriter, r *http.Request, method string, check func(ctx context.Context, userID string) error) (*account.User, error)
}

// SignIn finishes a discoverable sign-in begun with BeginLogin(ctx, "")
// and kept under key: the answer in r's body must verify against the
// state, which is used up, and the passkey's user is logged in through
// lm, under a new session token.
func (s *Service) SignIn(w http.ResponseWriter, r *http.Request, lm Logins, key string) (*account.User, error) {
	state := Take(session.FromRequest(r), key)
	userID, err := s.FinishLogin(r.Context(), "", state, r)
	if err != nil {
		return nil, err
	}
	return lm.LoginVerified(w, r, userID, false)
}

// CompleteSecondFactor finishes a pending login with a passkey of its
// user, the ceremony begun with BeginLogin(ctx, pendingUserID) and kept
// under key.
func (s *Service) CompleteSecondFactor(w http.ResponseWriter, r *http.Request, lm Logins, key string) (*account.User, error) {
	state := Take(session.FromRequest(r), key)
	return lm.CompleteWith(w, r, "passkey", func(ctx context.Context, userID string) error {
		_, err := s.FinishLogin(ctx, userID, state, r)
		return err
	})
}

func ceremony(opts any, sd *webauthn.SessionData) (*Ceremony, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	st, err := json.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Ceremony{Options: o, State: st}, nil
}

func parseState(state []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if len(state) == 0 || json.Unmarshal(state, &sd) != nil {
		return sd, ErrNoChallenge
	}
	return sd, nil
}

// BeginRegistration starts registering a passkey for u: a discoverable
// credential, with user verification preferred; the user's existing
// passkeys are excluded.
func (s *Service) BeginRegistration(ctx context.Context, u *account.User) (*Ceremony, error) {
	if len(u.ID) > 64 {
		return nil, errors.New("passkey: user IDs longer than 64 bytes cannot be user handles")
	}
	wu, err := s.loadUser(ctx, u.ID, u.Username)
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range wu.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := s.wa.BeginRegistration(wu,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return ceremony(opts, sd)
}

// FinishRegistration checks the browser's answer (r's body) to the
// ceremony whose state is state and stores the new passkey under name
// (trimmed; "Passkey" when empty). A name longer than MaxName, or one that
// account.ValidateText refuses (control or bidi characters, invalid
// UTF-8), is an error of kind autherr.Invalid for the field "name", and
// no passkey is stored.
func (s *Service) FinishRegistration(ctx context.Context, u *account.User, state []byte, name string, r *http.Request) (*Credential, error) {
	sd, err := parseState(state)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if err := account.ValidateText("name", "A passkey's name", name); err != nil {
		return nil, err
	}
	if len(name) > MaxName {
		return nil, &autherr.Error{Kind: autherr.Invalid, Message: fmt.Sprintf("A passkey's name is at most %d characters long.", MaxName),
			Fields: map[string]string{"name": "Too long."}, Err: errors.New("passkey: name too long")}
	}
	wu, err := s.loadUser(ctx, u.ID, u.Username)
	if err != nil {
		return nil, err
	}
	wc, err := s.wa.FinishRegistration(wu, sd, r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	data, err := json.Marshal(wc)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	now := s.cfg.Now().Truncate(time.Millisecond)
	c := &Credential{ID: wc.ID, UserID: u.ID, Name: name, CreatedAt: now, SignCount: wc.Authenticator.SignCount, Data: data}
	switch err := s.cfg.Store.AddCredential(ctx, c); {
	case errors.Is(err, account.ErrConflict):
		return nil, fmt.Errorf("%w: the credential is registered already", ErrInvalid)
	case err != nil:
		return nil, storeErr("add credential", err)
	}
	s.cfg.Audit.Record(ctx, audit.Event{Name: audit.PasskeyAdd, UserID: u.ID})
	return c, nil
}

// BeginLogin starts an assertion: for userID's passkeys (as a second
// factor), or, with userID "", for any discoverable passkey (sign-in
// alone, user verification required).
func (s *Service) BeginLogin(ctx context.Context, userID string) (*Ceremony, error) {
	if userID == "" {
		opts, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return nil, fmt.Errorf("passkey: begin login: %w", err)
		}
		return ceremony(opts, sd)
	}
	wu, err := s.loadUser(ctx, userID, "")
	if err != nil {
		return nil, err
	}
	if len(wu.creds) == 0 {
		return nil, fmt.Errorf("%w: the user has no passkey", ErrInvalid)
	}
	opts, sd, err := s.wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return ceremony(opts, sd)
}

// FinishLogin checks the browser's assertion (r's body) for the ceremony
// whose state is state, records the use (sign counter, last used), and
// returns the ID of the user it proves. With userID "" (a discoverable
// sign-in) the user is whoever the passkey belongs to.
func (s *Service) FinishLogin(ctx context.Context, userID string, state []byte, r *http.Request) (string, error) {
	sd, err := parseState(state)
	if err != nil {
		return "", err
	}
	var wc *webauthn.Credential
	var owner *user
	var lookupErr error // a store failure inside the library's callback
	if userID == "" {
		wc, err = s.wa.FinishDiscoverableLogin(func(rawID, handle []byte) (webauthn.User, error) {
			c, err := s.cfg.Store.CredentialByID(ctx, rawID)
			if err != nil {
				if !errors.Is(err, account.ErrNotFound) {
					lookupErr = err
				}
				return nil, err
			}
			if c.UserID != string(handle) {
				return nil, errors.New("passkey: the user handle does not own the credential")
			}
			owner, err = s.loadUser(ctx, c.UserID, "")
			return owner, err
		}, sd, r)
	} else {
		if owner, err = s.loadUser(ctx, userID, ""); err != nil {
			return "", err
		}
		wc, err = s.wa.FinishLogin(owner, sd, r)
	}
	if err != nil {
		if errors.Is(err, ErrStoreUnavailable) {
			return "", err
		}
		if lookupErr != nil {
			return "", storeErr("find credential", lookupErr)
		}
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var stored *Credential
	for _, c := range owner.creds {
		if bytes.Equal(c.ID, wc.ID) {
			stored = c
		}
	}
	if stored == nil {
		return "", ErrInvalid
	}
	if wc.Authenticator.CloneWarning {
		s.cfg.Audit.Record(ctx, audit.Event{Name: audit.PasskeyClone, UserID: owner.id, Reason: "sign_counter"})
		return "", fmt.Errorf("%w: the sign counter went backwards", ErrInvalid)
	}
	data, err := json.Marshal(wc)
	if err != nil {
		return "", fmt.Errorf("passkey: %w", err)
	}
	switch err := s.cfg.Store.UseCredential(ctx, wc.ID, stored.SignCount, wc.Authenticator.SignCount, data, s.cfg.Now().Truncate(time.Millisecond)); {
	case errors.Is(err, account.ErrConflict), errors.Is(err, account.ErrNotFound):
		return "", fmt.Errorf("%w: used concurrently or removed", ErrInvalid)
	case err != nil:
		return "", storeErr("use credential", err)
	}
	return owner.id, nil
}

// List returns the user's passkeys, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]*Credential, error) {
	cs, err := s.cfg.Store.CredentialsByUser(ctx, userID)
	if err != nil {
		return nil, storeErr("list credentials", err)
	}
	return cs, nil
}

// Remove deletes the user's passkey id; account.ErrNotFound when the user
// has none with that id.
func (s *Service) Remove(ctx context.Context, userID string, id []byte) error {
	err := s.cfg.Store.DeleteCredential(ctx, userID, id)
	if errors.Is(err, account.ErrNotFound) {
		return err
	}
	if err != nil {
		return storeErr("delete credential", err)
	}
	s.cfg.Audit.Record(ctx, audit.Event{Name: audit.PasskeyRemove, UserID: userID})
	return nil
}

// EnrolledAt returns when the user registered their oldest passkey, or
// the zero time when they have none.
func (s *Service) EnrolledAt(ctx context.Context, userID string) (time.Time, error) {
	cs, err := s.List(ctx, userID)
	if err != nil || len(cs) == 0 {
		return time.Time{}, err
	}
	return cs[0].CreatedAt, nil
}
