// Package identity links accounts to identities at OpenID Connect
// providers: the pair (issuer, subject) that a provider's ID token names,
// to the ID of a user of hallpass's own account store or of an app's own
// user table. Package oidc signs people in through these links; the
// stores live beside the other stores (memstore, sqlitestore, pgstore).
package identity

import (
	"context"
	"errors"
	"time"

	"github.com/hallpass/hallpass/autherr"
)

// Errors returned by stores. Check them with errors.Is.
var (
	// ErrNotFound reports an identity that is not linked (to the user
	// named, where one is). Kind autherr.NotFound.
	ErrNotFound error = autherr.New(autherr.NotFound, "identity: not linked")
	// ErrLinked reports an identity that is linked to a user already,
	// the same one or another. Kind autherr.Conflict, code
	// "identity_linked".
	ErrLinked error = &autherr.Error{Kind: autherr.Conflict, Code: "identity_linked",
		Message: "That account at the provider is already connected to an account here.",
		Err:     errors.New("identity: already linked")}
)

// Identity is one link between a user and an account at a provider.
type Identity struct {
	Issuer   string // the provider's issuer URL, as in the ID token's iss
	Subject  string // the ID token's sub: the provider's ID for the person
	Provider string // the ID the provider is configured under, like "google"
	UserID   string // the linked user
	// Email is the address the provider gave when the link was made,
	// for display only: it proves nothing about the account here.
	Email      string
	CreatedAt  time.Time
	LastUsedAt time.Time // the last sign-in through the link; CreatedAt at first
}

// Store keeps the links. Issuer and subject are compared exactly (they
// are case-sensitive by the OpenID Connect specification). Errors other
// than ErrNotFound and ErrLinked report a store that failed.
type Store interface {
	// LinkIdentity stores a copy of id. It returns ErrLinked, and stores
	// nothing, when (id.Issuer, id.Subject) is linked already, to any
	// user: two concurrent calls for one identity link it once.
	LinkIdentity(ctx context.Context, id *Identity) error

	// Identity returns the link of (issuer, subject), or ErrNotFound.
	Identity(ctx context.Context, issuer, subject string) (*Identity, error)

	// IdentitiesByUser returns the user's links, oldest first; none is
	// an empty result with a nil error.
	IdentitiesByUser(ctx context.Context, userID string) ([]*Identity, error)

	// TouchIdentity sets the LastUsedAt of the link of (issuer, subject)
	// to at, or returns ErrNotFound.
	TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error

	// UnlinkIdentity removes the link of (issuer, subject) when it
	// belongs to userID, and returns ErrNotFound otherwise (another
	// user's link is left alone).
	UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error

	// UnlinkUser removes all the user's links (when the account is
	// deleted) and returns how many there were.
	UnlinkUser(ctx context.Context, userID string) (int, error)
}
