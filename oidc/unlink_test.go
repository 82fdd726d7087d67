package oidc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/oidc"
)

// Disconnecting the last identity of an account without a password is
// refused, unless the account has another way in (a passkey); the
// operator's unlink (keepOne false) always goes through.
func TestUnlinkKeepsAWayIn(t *testing.T) {
	ctx := context.Background()
	yes := func(context.Context, string) (bool, error) { return true, nil }
	no := func(context.Context, string) (bool, error) { return false, nil }
	down := errors.New("store down")
	failing := func(context.Context, string) (bool, error) { return false, down }
	tests := []struct {
		name     string
		password string
		keepOne  bool
		otherWay func(context.Context, string) (bool, error)
		want     error
	}{
		{"no password, nothing else", "", true, nil, oidc.ErrLastMethod},
		{"no password, no passkey", "", true, no, oidc.ErrLastMethod},
		{"no password, a passkey", "", true, yes, nil},
		{"a password", "$argon2id$hash", true, nil, nil},
		{"the other way cannot be read", "", true, failing, down},
		{"the operator", "", false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := memstore.NewAccountStore()
			ids := memstore.NewIdentityStore()
			u := &account.User{Username: "ada", Email: "ada@example.com", PasswordHash: tt.password}
			if err := users.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := ids.LinkIdentity(ctx, &identity.Identity{Issuer: "https://idp.example", Subject: "s", Provider: "corp",
				UserID: u.ID, CreatedAt: now, LastUsedAt: now}); err != nil {
				t.Fatal(err)
			}
			n, err := oidc.Unlink(ctx, ids, users, u, "corp", tt.keepOne, tt.otherWay)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unlink = %d, %v; want %v", n, err, tt.want)
			}
			left, _ := ids.IdentitiesByUser(ctx, u.ID)
			if wantLeft := map[bool]int{true: 1, false: 0}[tt.want != nil]; len(left) != wantLeft {
				t.Errorf("%d identities left, want %d", len(left), wantLeft)
			}
		})
	}
}
