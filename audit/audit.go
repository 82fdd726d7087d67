// Package audit records security events (logins, logouts, lockouts,
// remember-me theft, password changes, token creation and revocation) as
// structured log/slog records, one per event.
//
// An event carries the user ID, the client IP and a reason, and never a
// password, a token or a session ID: where a session must be named, only a
// short non-reversible label of its ID is logged (session.ShortID).
package audit

import (
	"context"
	"log/slog"
)

// Event names. Each is the message of exactly one log record.
const (
	LoginSuccess   = "login.success"
	LoginFailure   = "login.failure"
	Logout         = "logout"
	Lockout        = "login.throttled"
	RememberTheft  = "remember.theft"
	RememberLogin  = "remember.login"
	PasswordChange = "password.change"
	PasswordRehash = "password.rehash"
	TokenCreate    = "token.create"
	TokenRevoke    = "token.revoke"
	SessionRevoke  = "session.revoke"
	UserDisable    = "user.disable"
	UserEnable     = "user.enable"
	RoleChange     = "user.roles"
	UserCreate     = "user.create" // by an administrator (the CLI's users add)
	UserImport     = "user.import" // Count users imported by an administrator
	UserDelete     = "user.delete"

	// Account recovery by email (package recovery). Reason says why a
	// request sent nothing ("unknown_address", "disabled", "throttled")
	// or how a link failed.
	ResetRequest   = "password.reset.request" // someone asked for a reset link
	ResetSent      = "password.reset.sent"    // the mail server took the link
	ResetUsed      = "password.reset.used"    // a link set a new password
	ResetExpired   = "password.reset.expired" // an expired or voided link was followed
	VerifySent     = "email.verify.sent"      // the mail server took a verification link
	EmailVerified  = "email.verified"         // a verification link was followed
	VerifyExpired  = "email.verify.expired"   // an expired verification link was followed
	EmailChangeReq = "email.change.request"   // a change of address was asked for
	EmailChange    = "email.change"           // the new address was proved and set
	MailFailed     = "mail.failed"            // a message was given up (see the mail log)

	// Sign-in with an OpenID Connect provider (package oidc); Provider
	// names the provider's configured ID.
	OIDCStart   = "oidc.start"   // a browser was sent to the provider
	OIDCSuccess = "oidc.success" // a linked identity signed in
	OIDCSignup  = "oidc.signup"  // a first sign-in created an account
	OIDCLink    = "oidc.link"    // a logged-in user connected an identity
	OIDCUnlink  = "oidc.unlink"  // an identity was disconnected
	OIDCFailure = "oidc.failure" // a callback was refused; Reason says why
	// Second factors (package twofa). Actor is set when an operator
	// reset a user's factor.
	SecondFactorEnable  = "2fa.enable"         // a user confirmed a TOTP secret
	SecondFactorDisable = "2fa.disable"        // a user, or an operator (Reason "reset"), removed it
	SecondFactorFailure = "2fa.failure"        // a wrong second-factor code at login
	RecoveryCodesNew    = "2fa.recovery_codes" // a new set of recovery codes voided the old one
	RecoveryCodeUsed    = "2fa.recovery_used"  // a recovery code completed a login

	// Passkeys (package passkey).
	PasskeyAdd    = "passkey.add"    // a user registered a passkey
	PasskeyRemove = "passkey.remove" // a user removed one
	PasskeyClone  = "passkey.clone"  // a sign counter went backwards: the assertion was refused
)

// Event is one security event.
type Event struct {
	Name     string // one of the constants above
	UserID   string // the account concerned; "" when unknown
	Username string // as typed at login (for failures of unknown users)
	IP       string
	Reason   string // why: "wrong_password", "unknown_user", "disabled", ...
	Session  string // session.ShortID of the session concerned, if any
	Actor    string // user ID of an administrator acting on UserID, if any
	Count    int    // how many sessions or tokens an event ended, if any
	Provider string // the OpenID Connect provider's ID, for oidc.* events
}

// Logger writes events. The zero value and a nil *Logger discard them.
type Logger struct {
	log *slog.Logger
}

// New returns a Logger writing to l with the attribute audit=true, so
// events can be routed apart from other logs.
func New(l *slog.Logger) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{log: l.With(slog.Bool("audit", true))}
}

// Record writes e. Failures are logged at warning level, the rest at info.
func (a *Logger) Record(ctx context.Context, e Event) {
	if a == nil || a.log == nil {
		return
	}
	level := slog.LevelInfo
	switch e.Name {
	case LoginFailure, Lockout, RememberTheft, MailFailed, OIDCFailure:
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 8)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("user_id", e.UserID)
	add("username", e.Username)
	add("ip", e.IP)
	add("reason", e.Reason)
	add("session", e.Session)
	add("actor", e.Actor)
	add("provider", e.Provider)
	if e.Count != 0 {
		attrs = append(attrs, slog.Int("count", e.Count))
	}
	a.log.LogAttrs(ctx, level, e.Name, attrs...)
}
