package recovery

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
)

// jobTimeout bounds the background handling of one reset request.
const jobTimeout = time.Minute

// RequestReset asks for a password reset link to be sent to email on
// behalf of the client at ip, and returns at once: whether an account uses
// the address, whether the limits allow another email, and the mail itself
// are all settled in the background, so the answer and its timing are the
// same for every address. The only error is a *account.FieldError (field
// "email") for a string that is not an email address.
//
// In the background: the request counts once against Limits.PerIP for ip
// and Limits.PerAddress for the address, and over either sends nothing.
// Then every enabled account at the address gets a link of its own, when
// the Users implement UsersByEmail (at most MaxUsersByEmail accounts);
// otherwise only the account UserByEmail returns does. An address no
// account uses, or a disabled account, gets nothing. Each outcome is an
// audit.ResetRequest event, one per account found (Reason "throttled",
// "unknown_address", "disabled", or none when a link goes out).
func (s *Service) RequestReset(ctx context.Context, email, ip string) error {
	email = strings.TrimSpace(email)
	if err := account.ValidateEmail(email); err != nil {
		return err
	}
	// The job keeps the request's values (its request ID for the log),
	// not its cancellation: the answer goes out before the job runs.
	jctx := context.WithoutCancel(ctx)
	s.enqueue(ctx, func(qctx context.Context) {
		ctx, cancel := context.WithTimeout(jctx, jobTimeout)
		defer cancel()
		defer context.AfterFunc(qctx, cancel)() // Close gave up waiting
		s.handleReset(ctx, email, ip)
	})
	return nil
}

// enqueue hands job to the background worker, or drops it with a log
// line when the backlog is full or the Service closed.
func (s *Service) enqueue(ctx context.Context, job func(context.Context)) {
	if err := s.jobs.Put(job); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "recovery: reset request dropped", "err", err, "backlog", s.cfg.Backlog)
	}
}

func (s *Service) handleReset(ctx context.Context, email, ip string) {
	okIP, _ := s.allow(ctx, "reset-ip:"+ip, s.cfg.Limits.PerIP)
	okAddr, _ := s.allow(ctx, "reset-address:"+strings.ToLower(email), s.cfg.Limits.PerAddress)
	if !okIP || !okAddr {
		s.record(ctx, audit.Event{Name: audit.ResetRequest, IP: ip, Reason: "throttled"})
		return
	}
	users, err := s.usersByEmail(ctx, email)
	switch {
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "recovery: cannot look up the address of a reset request; nothing sent", "err", err)
		return
	case len(users) == 0:
		s.record(ctx, audit.Event{Name: audit.ResetRequest, IP: ip, Reason: "unknown_address"})
		return
	}
	for _, u := range users {
		if u.Disabled {
			s.record(ctx, audit.Event{Name: audit.ResetRequest, UserID: u.ID, IP: ip, Reason: "disabled"})
			continue
		}
		s.record(ctx, audit.Event{Name: audit.ResetRequest, UserID: u.ID, IP: ip})
		if err := s.sendReset(ctx, u, ip); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "recovery: reset link not sent", "user_id", u.ID, "err", err)
		}
	}
}

// usersByEmail returns the accounts a reset request for email concerns,
// oldest first: all of them, at most MaxUsersByEmail, when the Users
// implement UsersByEmail, or else the one UserByEmail returns. None is an
// empty slice and a nil error.
func (s *Service) usersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	if all, ok := s.cfg.Users.(UsersByEmail); ok {
		users, err := all.UsersByEmail(ctx, email)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		// An app's implementation may not keep the bound.
		return users[:min(len(users), MaxUsersByEmail)], nil
	}
	u, err := s.cfg.Users.UserByEmail(ctx, email)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []*account.User{u}, nil
}

// SendReset sends a reset link to the user id at once, unlimited, as an
// operator does for a user who asks for help (actor names them in the
// audit event). It fails for an unknown or disabled account.
func (s *Service) SendReset(ctx context.Context, id, actor string) error {
	u, err := s.cfg.Users.UserByID(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return err
		}
		return failed("load user", err)
	}
	if u.Disabled {
		return errors.New("recovery: the account is disabled; enable it first")
	}
	s.record(ctx, audit.Event{Name: audit.ResetRequest, UserID: u.ID, Actor: actor})
	return s.sendReset(ctx, u, "")
}

func (s *Service) sendReset(ctx context.Context, u *account.User, ip string) error {
	secret, err := s.issue(ctx, Reset, u.ID, u.Email, s.cfg.ResetFor)
	if err != nil {
		return err
	}
	return s.send(ctx, "reset", u.Email, u, s.cfg.BaseURL+s.cfg.ResetPath+secret, human(s.cfg.ResetFor), "",
		audit.Event{Name: audit.ResetSent, UserID: u.ID, IP: ip})
}

// issue stores a new link of purpose for the user and address, valid for
// ttl, and returns its secret.
func (s *Service) issue(ctx context.Context, p Purpose, userID, email string, ttl time.Duration) (string, error) {
	secret, hash := newSecret()
	now := s.now()
	if err := s.cfg.Tokens.CreateEmailToken(ctx, &Token{Hash: hash, Purpose: p, UserID: userID, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", failed("create link", err)
	}
	return secret, nil
}

// CheckReset reports whether the reset link secret would work now, without
// using it up, and returns its user (for the form). A link that does not
// work is ErrInvalidToken.
func (s *Service) CheckReset(ctx context.Context, secret string) (*account.User, error) {
	_, u, err := s.checkReset(ctx, secret)
	return u, err
}

// checkReset finds the link and its user. For a link that exists but no
// longer works, it records audit.ResetExpired.
func (s *Service) checkReset(ctx context.Context, secret string) (*Token, *account.User, error) {
	hash, ok := digest(secret)
	if !ok {
		return nil, nil, ErrInvalidToken
	}
	tok, err := s.cfg.Tokens.EmailToken(ctx, hash, Reset)
	if isNotFound(err) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, failed("find link", err)
	}
	u, err := s.cfg.Users.UserByID(ctx, tok.UserID)
	if isNotFound(err) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, failed("load user", err)
	}
	reason := ""
	switch {
	case tok.Expired(s.cfg.Now()):
		reason = "expired"
	case u.PasswordChangedAt.After(tok.CreatedAt):
		reason = "password_changed"
	case u.Disabled:
		reason = "disabled"
	}
	if reason != "" {
		s.record(ctx, audit.Event{Name: audit.ResetExpired, UserID: u.ID, Reason: reason})
		return nil, nil, ErrInvalidToken
	}
	return tok, u, nil
}

// ResetPassword uses the reset link secret to set newPassword, for the
// client at ip. The link is used up, with every other reset link of the
// user, and SetPassword ends all of the user's sessions, remember-me and
// API tokens; the user is not logged in. It returns the user. A link that
// does not work is ErrInvalidToken; a password the Policy refuses is a *account.FieldError
// (field "password") and leaves the link working.
func (s *Service) ResetPassword(ctx context.Context, secret, newPassword, ip string) (*account.User, error) {
	tok, u, err := s.checkReset(ctx, secret)
	if err != nil {
		return nil, err
	}
	if s.cfg.Policy != nil {
		if err := s.cfg.Policy.Check(newPassword, u.Username); err != nil {
			return nil, &account.FieldError{Field: "password", Message: err.Error()}
		}
	}
	// Taking the link decides a race between two submissions of it.
	if _, err := s.cfg.Tokens.TakeEmailToken(ctx, tok.Hash, Reset); err != nil {
		if isNotFound(err) {
			return nil, ErrInvalidToken
		}
		return nil, failed("use link", err)
	}
	if err := s.cfg.SetPassword(ctx, u.ID, newPassword); err != nil {
		// The password is unchanged (login.Manager.SetPassword ends the
		// sessions first, and fails before the change when it cannot):
		// give the link back. Were it changed, the link died with it.
		if perr := s.cfg.Tokens.CreateEmailToken(context.WithoutCancel(ctx), tok); perr != nil {
			s.cfg.Logger.ErrorContext(ctx, "recovery: cannot restore a reset link after a failure", "err", perr)
		}
		return nil, err
	}
	if _, err := s.cfg.Tokens.DeleteEmailTokens(ctx, u.ID, Reset); err != nil {
		// They died with the password change anyway (PasswordChangedAt).
		s.cfg.Logger.WarnContext(ctx, "recovery: cannot delete the other reset links", "err", err)
	}
	s.record(ctx, audit.Event{Name: audit.ResetUsed, UserID: u.ID, IP: ip})
	return u, nil
}

// SendVerification sends a link that proves u's address again, as the
// account page's "send the link again" does. Each user may ask for
// Limits.PerUser links (verification and change) per Limits.Window;
// beyond, the error is of kind autherr.Throttled with a message to show.
func (s *Service) SendVerification(ctx context.Context, u *account.User, ip string) error {
	if ok, retry := s.allow(ctx, "user:"+u.ID, s.cfg.Limits.PerUser); !ok {
		return tooMany(retry)
	}
	return s.sendVerification(ctx, u, ip)
}

// SendFirstVerification sends the verification link of a new account, as
// registration does. It does not count against Limits.PerUser: a sign-up
// form has a limit of its own (throttle.Config.RegisterPerIP).
func (s *Service) SendFirstVerification(ctx context.Context, u *account.User, ip string) error {
	return s.sendVerification(ctx, u, ip)
}

func (s *Service) sendVerification(ctx context.Context, u *account.User, ip string) error {
	secret, err := s.issue(ctx, Verify, u.ID, u.Email, s.cfg.VerifyFor)
	if err != nil {
		return err
	}
	return s.send(ctx, "verify", u.Email, u, s.cfg.BaseURL+s.cfg.VerifyPath+secret, human(s.cfg.VerifyFor), u.Email,
		audit.Event{Name: audit.VerifySent, UserID: u.ID, IP: ip})
}

// RequestEmailChange starts changing u's address to newEmail: a link goes
// to newEmail, and a notice to the old address. The address changes only
// when the link is followed (Verify), and not at all once the password
// has changed since, or after a newer request, whose link replaces this
// one. The caller has checked the user's current password. A bad address is a *account.FieldError (field
// "email"); the limit is SendVerification's.
func (s *Service) RequestEmailChange(ctx context.Context, u *account.User, newEmail, ip string) error {
	if s.cfg.SetEmail == nil {
		return ErrNotSupported
	}
	newEmail = strings.TrimSpace(newEmail)
	if err := account.ValidateEmail(newEmail); err != nil {
		return err
	}
	if strings.EqualFold(newEmail, u.Email) {
		return &account.FieldError{Field: "email", Message: "That is already your address."}
	}
	if ok, retry := s.allow(ctx, "user:"+u.ID, s.cfg.Limits.PerUser); !ok {
		return tooMany(retry)
	}
	// The newest request replaces any earlier one: only its link works.
	if _, err := s.cfg.Tokens.DeleteEmailTokens(ctx, u.ID, Change); err != nil {
		return failed("delete earlier change links", err)
	}
	secret, err := s.issue(ctx, Change, u.ID, newEmail, s.cfg.VerifyFor)
	if err != nil {
		return err
	}
	s.record(ctx, audit.Event{Name: audit.EmailChangeReq, UserID: u.ID, IP: ip})
	if err := s.send(ctx, "change", newEmail, u, s.cfg.BaseURL+s.cfg.VerifyPath+secret, human(s.cfg.VerifyFor), newEmail,
		audit.Event{Name: audit.VerifySent, UserID: u.ID, IP: ip, Reason: "change"}); err != nil {
		return err
	}
	if u.Email != "" {
		if err := s.send(ctx, "notice", u.Email, u, "", "", newEmail,
			audit.Event{Name: audit.VerifySent, UserID: u.ID, IP: ip, Reason: "change_notice"}); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "recovery: notice of an email change not sent", "user_id", u.ID, "err", err)
		}
	}
	return nil
}

// Verify uses a verification or change link: the user's address is
// recorded as verified, and for a change link it becomes the new address
// (every outstanding reset, verification and change link of the user then
// dies, since they went to the old address). It returns the user as now
// stored. A link that does not work, or a verification link for an
// address the user no longer has, is ErrInvalidToken.
func (s *Service) Verify(ctx context.Context, secret, ip string) (*account.User, error) {
	hash, ok := digest(secret)
	if !ok {
		return nil, ErrInvalidToken
	}
	tok, err := s.cfg.Tokens.TakeEmailToken(ctx, hash, Verify)
	if isNotFound(err) {
		tok, err = s.cfg.Tokens.TakeEmailToken(ctx, hash, Change)
	}
	if isNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, failed("use link", err)
	}
	if tok.Expired(s.cfg.Now()) {
		s.record(ctx, audit.Event{Name: audit.VerifyExpired, UserID: tok.UserID, IP: ip, Reason: string(tok.Purpose)})
		return nil, ErrInvalidToken
	}
	u, err := s.cfg.Users.UserByID(ctx, tok.UserID)
	if isNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, failed("load user", err)
	}
	if u.Disabled {
		// A disabled account changes nothing by a link, as it resets
		// no password by one.
		s.record(ctx, audit.Event{Name: audit.VerifyExpired, UserID: u.ID, IP: ip, Reason: "disabled"})
		return nil, ErrInvalidToken
	}
	now := s.now()
	switch tok.Purpose {
	case Verify:
		if !strings.EqualFold(tok.Email, u.Email) {
			s.record(ctx, audit.Event{Name: audit.VerifyExpired, UserID: u.ID, IP: ip, Reason: "address_changed"})
			return nil, ErrInvalidToken
		}
		if err := s.cfg.Tokens.SetVerifiedEmail(ctx, u.ID, u.Email, now); err != nil {
			return nil, failed("record verified address", err)
		}
		s.record(ctx, audit.Event{Name: audit.EmailVerified, UserID: u.ID, IP: ip})
	case Change:
		if s.cfg.SetEmail == nil {
			return nil, ErrNotSupported
		}
		if u.PasswordChangedAt.After(tok.CreatedAt) {
			// Asked for before the password last changed, as a reset
			// link: perhaps by someone who knew the old password, whom
			// the owner locked out on seeing the notice.
			s.record(ctx, audit.Event{Name: audit.VerifyExpired, UserID: u.ID, IP: ip, Reason: "password_changed"})
			return nil, ErrInvalidToken
		}
		if err := s.cfg.SetEmail.SetEmail(ctx, u.ID, tok.Email); err != nil {
			if isNotFound(err) {
				return nil, ErrInvalidToken
			}
			return nil, failed("set address", err)
		}
		u.Email = tok.Email
		if err := s.cfg.Tokens.SetVerifiedEmail(ctx, u.ID, u.Email, now); err != nil {
			return nil, failed("record verified address", err)
		}
		for _, p := range []Purpose{Reset, Verify, Change} {
			if _, err := s.cfg.Tokens.DeleteEmailTokens(ctx, u.ID, p); err != nil {
				s.cfg.Logger.WarnContext(ctx, "recovery: cannot delete the links to the old address", "err", err)
			}
		}
		s.record(ctx, audit.Event{Name: audit.EmailChange, UserID: u.ID, IP: ip})
	}
	return u, nil
}

// Verified reports whether u's current address is verified.
func (s *Service) Verified(ctx context.Context, u *account.User) (bool, error) {
	email, _, err := s.cfg.Tokens.VerifiedEmail(ctx, u.ID)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, failed("verified address", err)
	}
	return email != "" && strings.EqualFold(email, u.Email), nil
}
