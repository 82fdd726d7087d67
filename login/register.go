package login

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
)

// Register creates an account with the given password after checking the
// username, email and password policy. Bad fields yield account.FieldErrors
// (one message per field, wrapping account.ErrInvalid); a taken username
// account.ErrUsernameTaken. Both are found before the password is hashed.
// A Config.Users without CreateUser (an app's own Source) makes it return
// an error wrapping account.ErrNotSupported.
// Register is not limited: it is for administrators and tools; a
// self-service form uses SignUp.
func (m *Manager) Register(ctx context.Context, username, email, password string, roles ...string) (*account.User, error) {
	return m.register(ctx, nil, username, email, password, roles)
}

// SignUp registers an account for the person sending r, as a
// self-service registration form does: the account has no roles, and,
// once the form is valid and before the password is hashed, the attempt
// counts against the client address's registration limit
// (Config.Throttle; throttle.Config.RegisterPerIP, by default 10 an hour),
// over which it returns the throttle's error (throttle.ErrThrottled).
// Otherwise it answers as Register does.
func (m *Manager) SignUp(r *http.Request, username, email, password string) (*account.User, error) {
	limit := func() error {
		t := m.cfg.Throttle
		if t == nil {
			return nil
		}
		return m.counted(r.Context(), t.AllowRegistration(r.Context(), m.ip(r)))
	}
	return m.register(r.Context(), limit, username, email, password, nil)
}

// register creates an account; limit, if not nil, is asked once the form
// is valid.
func (m *Manager) register(ctx context.Context, limit func() error, username, email, password string, roles []string) (*account.User, error) {
	if _, ok := m.users.s.(userCreator); !ok {
		return nil, fmt.Errorf("login: register: %w", unsupported(m.users.s, "CreateUser"))
	}
	var errs account.FieldErrors
	errs.Add(account.ValidateUsername(username))
	errs.Add(account.ValidateEmail(email))
	errs.Add(m.checkPolicy(password, username))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	roles, err := account.NormalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	if limit != nil {
		if err := limit(); err != nil {
			return nil, err
		}
	}
	// A taken username is refused before the costly hash; CreateUser
	// still decides a race between two registrations of one name.
	switch u, err := m.userByName(ctx, username); {
	case err != nil:
		return nil, err
	case u != nil:
		return nil, account.ErrUsernameTaken
	}
	h, err := m.cfg.Passwords.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := m.now().Truncate(time.Millisecond) // stores keep milliseconds
	u := &account.User{Username: username, Email: email, Roles: roles, PasswordHash: h, CreatedAt: now, PasswordChangedAt: now}
	if err := m.users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

func (m *Manager) checkPolicy(password, username string) error {
	if m.cfg.Policy == nil {
		return nil
	}
	if err := m.cfg.Policy.Check(password, username); err != nil {
		return &account.FieldError{Field: "password", Message: err.Error()}
	}
	return nil
}
