package passkey

import (
	"context"
	"time"
)

// Credential is a registered passkey as a Store keeps it.
type Credential struct {
	ID         []byte // the credential ID the authenticator chose
	UserID     string
	Name       string // the user's name for it ("Phone", "YubiKey")
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used
	SignCount  uint32    // the authenticator's signature counter at last use
	// Data is the whole WebAuthn credential record (public key, flags,
	// transports), opaque to a Store.
	Data []byte
}

// Store keeps passkeys. User IDs are any non-empty text, so an app with
// its own user table can use it. Errors other than the ones named below
// are system failures (the store is down).
type Store interface {
	// AddCredential stores c; account.ErrConflict when a credential with
	// its ID exists (for any user).
	AddCredential(ctx context.Context, c *Credential) error

	// CredentialsByUser returns the user's credentials, oldest first; an
	// empty slice when there are none.
	CredentialsByUser(ctx context.Context, userID string) ([]*Credential, error)

	// CredentialByID returns the credential with id, or
	// account.ErrNotFound.
	CredentialByID(ctx context.Context, id []byte) (*Credential, error)

	// UseCredential records a use: the sign counter moves from oldCount
	// to newCount, Data and LastUsedAt are replaced, atomically. When the
	// stored counter is no longer oldCount (a concurrent use) it is
	// account.ErrConflict; an unknown id account.ErrNotFound.
	UseCredential(ctx context.Context, id []byte, oldCount, newCount uint32, data []byte, at time.Time) error

	// DeleteCredential removes the user's credential id;
	// account.ErrNotFound when the user has none with that id.
	DeleteCredential(ctx context.Context, userID string, id []byte) error
}
