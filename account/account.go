// Package account defines user accounts and the contracts of the stores
// that keep them: users, remember-me tokens and API tokens. These three live
// together because they are revoked together: a password change or a
// disabled account ends a user's remember-me and API tokens as well.
//
// The package accounttest checks any implementation against every promise
// written on these interfaces; memstore, sqlitestore and pgstore pass it.
package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallpass/hallpass/autherr"
)

// Errors returned by stores and validation. Check them with errors.Is.
var (
	// ErrNotFound reports a user or token that does not exist (kind
	// autherr.NotFound).
	ErrNotFound error = autherr.New(autherr.NotFound, "account: not found")
	// ErrUsernameTaken reports a username already in use (kind
	// autherr.Conflict, code "username_taken").
	ErrUsernameTaken error = &autherr.Error{Kind: autherr.Conflict, Code: "username_taken",
		Message: "That username is taken.", Err: errors.New("account: username is taken")}
	// ErrInvalid is wrapped by every validation error (kind
	// autherr.Invalid); see FieldError.
	ErrInvalid error = autherr.New(autherr.Invalid, "account: invalid")
	// ErrConflict reports a change that lost a race with another (kind
	// autherr.Conflict).
	ErrConflict error = autherr.New(autherr.Conflict, "account: changed concurrently")
	// ErrNotSupported reports an operation that the configured user
	// Source cannot do, such as registering a user through hallpass when
	// the app keeps its own user table (kind autherr.Unsupported). It
	// also matches errors.ErrUnsupported.
	ErrNotSupported error = &autherr.Error{Kind: autherr.Unsupported,
		Err: fmt.Errorf("account: not supported by this user source: %w", errors.ErrUnsupported)}
)

// User is an account.
type User struct {
	ID                string // assigned by the store at Create; opaque
	Username          string // unique, case-insensitively
	Email             string
	Roles             []string // sorted, without duplicates
	PasswordHash      string   // a PHC or legacy hash string (see package password)
	Disabled          bool
	CreatedAt         time.Time
	PasswordChangedAt time.Time

	// Extra carries an app's own data about the user (its own struct, a
	// row of its own users table) from the app's Source to its handlers:
	// login.CurrentUser returns the User a Source returned, Extra
	// included, whenever the login manager read the user on that request.
	// hallpass never looks inside Extra, never stores it (hallpass's
	// stores ignore it and return nil) and never writes it into a session
	// or a log, so it may hold anything, secrets and unserialisable values
	// included.
	Extra any
}

// HasRole reports whether u has role.
func (u *User) HasRole(role string) bool { return u != nil && slices.Contains(u.Roles, role) }

// FieldError reports one invalid field, with a message a person
// understands. It wraps ErrInvalid.
type FieldError struct {
	Field   string // "username", "email", "password", "roles"
	Message string
}

// Error returns the message, a sentence fit to show a person.
func (e *FieldError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) true, and gives the error its
// kind (autherr.Invalid) and message for autherr.MessageOf and FieldsOf.
func (e *FieldError) Unwrap() error {
	return &autherr.Error{Kind: autherr.Invalid, Message: e.Message, Fields: map[string]string{e.Field: e.Message}, Err: ErrInvalid}
}

// FieldErrors collects the problems of several fields, at most one per
// field. It wraps ErrInvalid.
type FieldErrors []*FieldError

// Add appends err when it is a *FieldError for a field not yet listed;
// nil is ignored. Any other error is kept as a problem of the one field
// it names through autherr.FieldsOf (a password.Policy refusal names
// "password"), or else of field "".
func (fe *FieldErrors) Add(err error) {
	if err == nil {
		return
	}
	var f *FieldError
	if !errors.As(err, &f) {
		f = &FieldError{Message: err.Error()}
		if fields := autherr.FieldsOf(err); len(fields) == 1 {
			for field, msg := range fields {
				f.Field, f.Message = field, msg
			}
		}
	}
	if fe.For(f.Field) == "" {
		*fe = append(*fe, f)
	}
}

// For returns the message for field, or "".
func (fe FieldErrors) For(field string) string {
	for _, f := range fe {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// Err returns fe as an error, or nil when it is empty.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// Error joins the messages of all fields.
func (fe FieldErrors) Error() string {
	msgs := make([]string, len(fe))
	for i, f := range fe {
		msgs[i] = f.Message
	}
	return strings.Join(msgs, " ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true, and gives the error its
// kind (autherr.Invalid), message and per-field messages for package
// autherr.
func (fe FieldErrors) Unwrap() error {
	fields := make(map[string]string, len(fe))
	for _, f := range fe {
		fields[f.Field] = f.Message
	}
	return &autherr.Error{Kind: autherr.Invalid, Message: fe.Error(), Fields: fields, Err: ErrInvalid}
}

// Limits on account fields.
const (
	MinUsername = 3
	MaxUsername = 64
	MaxEmail    = 254
	MaxRole     = 32
)

// ValidateUsername checks a username: 3 to 64 characters, each an ASCII
// letter or digit, '.', '_' or '-'.
func ValidateUsername(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case name == "":
		return &FieldError{"username", "Please choose a username."}
	case n < MinUsername || n > MaxUsername:
		return &FieldError{"username", fmt.Sprintf("A username is %d to %d characters long.", MinUsername, MaxUsername)}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return &FieldError{"username", "A username may contain only letters, digits, '.', '_' and '-'."}
		}
	}
	return nil
}

// ValidateEmail checks the shape of an email address: one address, no
// display name, a local part and a domain with a dot.
func ValidateEmail(email string) error {
	const msg = "Please enter a valid email address, like name@example.com."
	if email == "" {
		return &FieldError{"email", "Please enter your email address."}
	}
	if len(email) > MaxEmail || !utf8.ValidString(email) {
		return &FieldError{"email", msg}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return &FieldError{"email", msg}
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return &FieldError{"email", msg}
	}
	return nil
}

// ValidateText checks text a person gives to name something that hallpass
// stores and shows back to people, such as an API token or a passkey:
// it must be valid UTF-8 and hold no control character (C0 and C1
// controls and DEL; PostgreSQL cannot store NUL) nor a bidirectional
// override or isolate character (U+202A to U+202E, U+2066 to U+2069),
// which makes text display as other text. Otherwise it returns a
// *FieldError for field whose message begins with what, such as "A token
// name may not contain control characters.". Length is the caller's
// business.
func ValidateText(field, what, s string) error {
	if !utf8.ValidString(s) {
		return &FieldError{field, what + " contains characters that could not be read. Please type it again."}
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return &FieldError{field, what + " may not contain control characters."}
		case r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069':
			return &FieldError{field, what + " may not contain characters that change the direction of text."}
		}
	}
	return nil
}

// NormalizeRoles returns roles sorted, lowercased and without duplicates,
// or a FieldError for a role that is empty, too long or not made of
// letters, digits, '_' and '-'.
func NormalizeRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" || len(r) > MaxRole {
			return nil, &FieldError{"roles", fmt.Sprintf("A role name is 1 to %d characters long.", MaxRole)}
		}
		for _, c := range r {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return nil, &FieldError{"roles", fmt.Sprintf("Role %q may contain only letters, digits, '_' and '-'.", r)}
			}
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// DefaultListLimit is the page size of Store.ListUsers when
// ListOptions.Limit is zero (or negative).
const DefaultListLimit = 100

// ListOptions pages through users, ordered by ID. A store issues IDs in
// creation order, so that order is the order of creation; IDs are opaque,
// so it need not be the order of the ID strings ("10" comes after "9").
type ListOptions struct {
	After string // return users created after the one with this ID (one the store issued); "" from the start
	Limit int    // at most this many; 0 means DefaultListLimit (100)
}

// Source is where the login manager finds users: the one thing an app
// that keeps its own user table implements (Flask-Login's user_loader,
// plus the lookup a login form needs). Every Store is a Source.
//
// A Source returns users with the fields it has: ID (required, any
// non-empty string that names the user for good), Username, Roles,
// Disabled, PasswordChangedAt and Extra as the app keeps them. A user
// whose Disabled is set, or whom UserByID no longer finds, is logged out
// on their next request. A PasswordChangedAt later than a remember-me
// token's creation ends that token; an app that does not keep that time
// calls login.Manager.RevokeUser when a password changes.
//
// Methods honour ctx, return ErrNotFound (or an error wrapping it) for an
// unknown user, and any other error for a system failure, which the login
// manager answers with 503. A Source must be safe for concurrent use.
type Source interface {
	// UserByID returns the user with id, or ErrNotFound. The login
	// manager does not need PasswordHash from it.
	UserByID(ctx context.Context, id string) (*User, error)

	// UserByUsername returns the user whose login name is name, with its
	// PasswordHash (any format package password verifies), or
	// ErrNotFound. Whether names compare ignoring case is the Source's
	// choice; a Store ignores case.
	UserByUsername(ctx context.Context, name string) (*User, error)
}

// Rehasher is an optional Source capability: saving a stronger hash of a
// password after a successful login (see Store.RehashPassword). Without
// it, an old or weak hash simply stays as it is.
type Rehasher interface {
	// RehashPassword replaces the hash oldHash with newHash (a stronger
	// hash of the same password) without touching PasswordChangedAt. It
	// returns ErrConflict, changing nothing, when the stored hash is no
	// longer oldHash (the password changed meanwhile), and ErrNotFound for
	// an unknown id.
	RehashPassword(ctx context.Context, id, oldHash, newHash string) error
}

// PasswordChanger is an optional Store capability: a password change
// that takes effect only while the stored hash is still the one the
// user's current password was checked against, so that of concurrent
// changes made with the same current password exactly one wins (the
// others find it wrong, as it now is). hallpass's stores implement it;
// with a store that does not, login.Manager.ChangePassword falls back to
// SetPassword, where the last of such concurrent changes wins.
type PasswordChanger interface {
	// ChangePassword replaces the hash oldHash with newHash and sets
	// PasswordChangedAt to changedAt, in one step. It returns ErrConflict,
	// changing nothing, when the stored hash is no longer oldHash, and
	// ErrNotFound for an unknown id.
	ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) error
}

// Store keeps user accounts. Usernames are unique case-insensitively:
// "Ada" and "ada" cannot both exist, and UserByUsername finds either
// spelling. Stores fold the case of ASCII letters, the only letters
// ValidateUsername admits; a store keeps the spelling it was given.
//
// A store may keep times at millisecond precision, no coarser. All methods
// honour ctx: a cancelled or expired context makes the call return an error
// that wraps ctx.Err(). Errors other than the named sentinels are system
// failures. A Store must be safe for concurrent use.
//
// Stores do not validate: callers check fields with ValidateUsername,
// ValidateEmail and NormalizeRoles first.
type Store interface {
	// UserByID returns the user with id, or ErrNotFound; UserByUsername
	// returns the user whose username equals name ignoring case, or
	// ErrNotFound.
	Source
	// RehashPassword: see Rehasher.
	Rehasher

	// CreateUser stores u, assigning u.ID (and u.CreatedAt and
	// u.PasswordChangedAt when zero). It returns ErrUsernameTaken when the
	// username exists in any letter case. On success u's times are as
	// stored (a store may truncate them to milliseconds), so they compare
	// Equal to those that UserByID returns.
	CreateUser(ctx context.Context, u *User) error

	// ListUsers returns a page of users ordered by ID, which is creation
	// order (see ListOptions); past the last user, an empty slice.
	ListUsers(ctx context.Context, opt ListOptions) ([]*User, error)

	// SetPassword stores a new password hash and sets PasswordChangedAt
	// to changedAt. ErrNotFound for an unknown id.
	SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error

	// SetDisabled disables or enables the user. ErrNotFound for an
	// unknown id.
	SetDisabled(ctx context.Context, id string, disabled bool) error

	// SetRoles replaces the user's roles. ErrNotFound for an unknown id.
	SetRoles(ctx context.Context, id string, roles []string) error
}

// RememberToken is a remember-me token as stored: the selector finds it,
// and only a SHA-256 digest of the validator is kept.
type RememberToken struct {
	Selector      string
	ValidatorHash []byte // SHA-256 of the validator
	UserID        string
	CreatedAt     time.Time
	ExpiresAt     time.Time

	// PrevHash is the digest the last rotation replaced, and RotatedAt
	// when it happened. Two requests that present the same cookie at once
	// (tabs restored together) race to rotate it; the loser presents
	// PrevHash moments after the rotation, which is a race, not a theft
	// (package login logs the loser in too, with a session of its own).
	PrevHash  []byte
	RotatedAt time.Time
}

// RememberStore keeps remember-me tokens. A token is expired when its
// ExpiresAt is at or before the now a method is given. The ctx and error
// rules of Store apply.
type RememberStore interface {
	// CreateRemember stores t. t.UserID is any non-empty text that names
	// a user: one of the Store kept beside this one, or of an app's own
	// user table (a Source), which this store never checks; an empty
	// UserID is an error wrapping ErrInvalid.
	CreateRemember(ctx context.Context, t *RememberToken) error

	// RememberBySelector returns the unexpired token with selector, or
	// ErrNotFound (also for an expired one, judged against now).
	RememberBySelector(ctx context.Context, selector string, now time.Time) (*RememberToken, error)

	// RotateRemember replaces the token's validator digest oldHash with
	// newHash, atomically: PrevHash becomes oldHash, RotatedAt becomes
	// now, ExpiresAt becomes expiresAt. It returns ErrConflict, changing
	// nothing, when the stored digest is no longer oldHash (another
	// request rotated it first), and ErrNotFound when the token is gone
	// (deleted, or expired at now).
	RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error

	// DeleteRemember removes the token; a missing one is not an error.
	DeleteRemember(ctx context.Context, selector string) error

	// DeleteRememberByUser removes all of the user's tokens and returns
	// how many.
	DeleteRememberByUser(ctx context.Context, userID string) (int, error)
}

// APIToken is an API bearer token as stored: only a SHA-256 digest of the
// secret is kept.
type APIToken struct {
	ID         string // assigned by the store; shown in lists
	UserID     string
	Name       string
	Hash       []byte // SHA-256 of the secret
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	LastUsedAt time.Time // zero: never used
	// Scopes are what the token may do ("read", "write", "admin"; package
	// apitoken defines and checks them). A store keeps them as given, in
	// order; a token with none may do nothing.
	Scopes []string
}

// HasScope reports whether the token carries scope.
func (t *APIToken) HasScope(scope string) bool {
	return t != nil && slices.Contains(t.Scopes, scope)
}

// ExpiredTokenRetention is how long a store that deletes expired tokens
// in the background (sqlitestore, pgstore) keeps an expired API token,
// which ListTokens shows as expired, before deleting it. Expired
// remember-me tokens are never shown to anyone, so such a store deletes
// them at once.
const ExpiredTokenRetention = 30 * 24 * time.Hour

// TokenStore keeps API tokens. A token is expired when its ExpiresAt is
// not zero and at or before the now a method is given. The ctx and error
// rules of Store apply.
type TokenStore interface {
	// CreateToken stores t, assigning t.ID. t.UserID is any non-empty
	// text that names a user, as for RememberStore.CreateRemember; an
	// empty UserID is an error wrapping ErrInvalid.
	CreateToken(ctx context.Context, t *APIToken) error

	// TokenByHash returns the unexpired token whose digest is hash, or
	// ErrNotFound (also for an expired one, judged against now).
	TokenByHash(ctx context.Context, hash []byte, now time.Time) (*APIToken, error)

	// ListTokens returns the user's tokens, expired ones included (a
	// store may delete a token ExpiredTokenRetention after it expires),
	// newest (by CreatedAt) first; a user with none yields an empty slice.
	ListTokens(ctx context.Context, userID string) ([]*APIToken, error)

	// TouchToken records a use of the token at t: it sets LastUsedAt. A
	// missing token is not an error (it may have been deleted since it
	// was found).
	TouchToken(ctx context.Context, id string, t time.Time) error

	// DeleteToken removes the user's token id. It returns ErrNotFound when
	// the user has no such token (another user's token is not theirs).
	DeleteToken(ctx context.Context, userID, id string) error

	// DeleteTokensByUser removes all of the user's tokens and returns how
	// many.
	DeleteTokensByUser(ctx context.Context, userID string) (int, error)
}

// Importer is an optional Store capability: creating many users at once,
// for migrating accounts from another system.
type Importer interface {
	// ImportUsers stores users atomically, all or nothing. Each user is
	// treated as by CreateUser (ID assigned, zero CreatedAt and
	// PasswordChangedAt set, times as stored), and IDs follow the order
	// of users. On failure nothing is stored and users are left as they
	// were. When a user cannot be stored, the error wraps an *ImportError
	// naming the first such user; a username taken by an existing user or
	// by an earlier user of the batch, in any letter case, makes its Err
	// wrap ErrUsernameTaken.
	ImportUsers(ctx context.Context, users []*User) error
}

// Deleter is an optional Store capability: deleting a user for good, as an
// operator does for an account that must go (not merely be disabled).
type Deleter interface {
	// DeleteUser removes the user id, and with it every remember-me token
	// and API token of the user in the stores kept beside this one, so
	// that none of them finds the user again. The username becomes free
	// and the ID is never issued again. It returns ErrNotFound for an
	// unknown id. Sessions live in a session store, which the caller
	// clears (login.Manager.DeleteUser does).
	DeleteUser(ctx context.Context, id string) error
}

// ImportError reports the user of a batch that an Importer could not
// store. It wraps the cause, so errors.Is(err, ErrUsernameTaken) works.
type ImportError struct {
	Index int   // the position of the user in the batch
	Err   error // why it failed
}

// Error names the failing index and the cause.
func (e *ImportError) Error() string {
	return fmt.Sprintf("account: import user %d: %v", e.Index, e.Err)
}

// Unwrap returns e.Err.
func (e *ImportError) Unwrap() error { return e.Err }
