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

// racingIdentities runs beforeUnlink once, just before the first
// UnlinkIdentity reaches the store: another request's change at that
// moment.
type racingIdentities struct {
	identity.Store
	beforeUnlink func()
}

func (s *racingIdentities) UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error {
	if f := s.beforeUnlink; f != nil {
		s.beforeUnlink = nil
		f()
	}
	return s.Store.UnlinkIdentity(ctx, userID, issuer, subject)
}

// An account without a password whose identities at two providers are
// disconnected at the same moment keeps one: both requests check before
// either removes, so the one whose removal left nothing links its
// identity back and answers ErrLastMethod.
func TestUnlinkRaceKeepsAWayIn(t *testing.T) {
	ctx := context.Background()
	users := memstore.NewAccountStore()
	ids := memstore.NewIdentityStore()
	u := &account.User{Username: "ada", Email: "ada@example.com"}
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, p := range []string{"corp", "git"} {
		if err := ids.LinkIdentity(ctx, &identity.Identity{Issuer: "https://" + p + ".example", Subject: "s", Provider: p,
			UserID: u.ID, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var otherN int
	var otherErr error
	racing := &racingIdentities{Store: ids, beforeUnlink: func() {
		otherN, otherErr = oidc.Unlink(ctx, ids, users, u, "git", true, nil)
	}}
	n, err := oidc.Unlink(ctx, racing, users, u, "corp", true, nil)
	left, lerr := ids.IdentitiesByUser(ctx, u.ID)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(left) == 0 {
		t.Fatalf("Unlink(corp) = %d, %v and Unlink(git) = %d, %v at once left no identity; want one kept", n, err, otherN, otherErr)
	}
	if !errors.Is(err, oidc.ErrLastMethod) && !errors.Is(otherErr, oidc.ErrLastMethod) {
		t.Errorf("Unlink(corp) = %d, %v and Unlink(git) = %d, %v; want one refused with ErrLastMethod", n, err, otherN, otherErr)
	}
	if len(left) != 1 || left[0].Provider != "corp" || !left[0].CreatedAt.Equal(now) {
		t.Errorf("left %d identities (%+v); want corp's, linked back as it was", len(left), left)
	}
	if err == nil && otherErr == nil {
		t.Error("both disconnects succeeded")
	}
}
