package identity_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/memstore"
)

// A link names one person at one provider (issuer + subject) and the user
// it signs in; the same identity cannot be linked twice.
func Example() {
	ctx := context.Background()
	var links identity.Store = memstore.NewIdentityStore()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	links.LinkIdentity(ctx, &identity.Identity{Issuer: "https://accounts.google.com", Subject: "1081",
		Provider: "google", UserID: "42", Email: "ada@gmail.example", CreatedAt: now, LastUsedAt: now})

	l, _ := links.Identity(ctx, "https://accounts.google.com", "1081")
	fmt.Println("signs in user", l.UserID)

	err := links.LinkIdentity(ctx, &identity.Identity{Issuer: "https://accounts.google.com", Subject: "1081", UserID: "7"})
	fmt.Println(errors.Is(err, identity.ErrLinked))

	_, err = links.Identity(ctx, "https://accounts.google.com", "9999")
	fmt.Println(errors.Is(err, identity.ErrNotFound))
	// Output:
	// signs in user 42
	// true
	// true
}
