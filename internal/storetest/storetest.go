// Package storetest holds checks that span several stores of one engine
// (sqlitestore, pgstore), which no single conformance suite can make.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/twofa"
)

// Stores are the stores of one database.
type Stores struct {
	Accounts interface {
		account.Store
		account.Deleter
	}
	TwoFA      twofa.Store
	Passkeys   passkey.Store
	Identities identity.Store
	Recovery   recovery.Store
}

// DeleteUserLeavesNothing checks that deleting an account removes what
// every other store keeps for the user (second factor and recovery codes,
// passkeys, linked identities, emailed links, the verified address), and
// leaves another user's alone: a row left behind would outlive its
// account.
func DeleteUserLeavesNothing(t *testing.T, s Stores) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	var ids []string
	for _, name := range []string{"gone", "kept"} {
		u := &account.User{Username: name, Email: name + "@example.com", PasswordHash: "x"}
		if err := s.Accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		id := u.ID
		ids = append(ids, id)
		steps := []error{
			s.TwoFA.CreateSecondFactor(ctx, &twofa.Factor{UserID: id, Secret: []byte("sealed"), EnabledAt: now, RecoveryCodes: [][]byte{bytes.Repeat([]byte(name[:1]), 32)}}),
			s.Passkeys.AddCredential(ctx, &passkey.Credential{ID: []byte("cred-" + name), UserID: id, Name: "Phone", CreatedAt: now, Data: []byte("{}")}),
			s.Identities.LinkIdentity(ctx, &identity.Identity{Issuer: "https://idp.example", Subject: name, Provider: "idp", UserID: id, CreatedAt: now, LastUsedAt: now}),
			s.Recovery.CreateEmailToken(ctx, &recovery.Token{Hash: bytes.Repeat([]byte(name[:1]), 32), Purpose: recovery.Reset, UserID: id, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}),
			s.Recovery.SetVerifiedEmail(ctx, id, u.Email, now),
		}
		if err := errors.Join(steps...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Accounts.DeleteUser(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		gone := i == 0
		var left []string
		if _, err := s.TwoFA.SecondFactor(ctx, id); err == nil {
			left = append(left, "second factor")
		}
		if cs, err := s.Passkeys.CredentialsByUser(ctx, id); err != nil {
			t.Fatal(err)
		} else if len(cs) > 0 {
			left = append(left, "passkeys")
		}
		if ls, err := s.Identities.IdentitiesByUser(ctx, id); err != nil {
			t.Fatal(err)
		} else if len(ls) > 0 {
			left = append(left, "identities")
		}
		name := []string{"g", "k"}[i]
		if _, err := s.Recovery.EmailToken(ctx, bytes.Repeat([]byte(name), 32), recovery.Reset); err == nil {
			left = append(left, "reset link")
		}
		if email, _, err := s.Recovery.VerifiedEmail(ctx, id); err == nil && email != "" {
			left = append(left, "verified address")
		}
		switch {
		case gone && len(left) > 0:
			t.Errorf("after DeleteUser, the store still keeps the user's %v", left)
		case !gone && len(left) != 5:
			t.Errorf("deleting another user removed this one's rows: left %v, want all 5", left)
		}
	}
}

// FailsWithin checks that call, made against a store that never answers,
// gives up within limit with an error of kind autherr.Unavailable that
// wraps sentinel and context.DeadlineExceeded: a 503, not a hung request.
func FailsWithin(t *testing.T, limit time.Duration, sentinel error, call func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		if !errors.Is(err, sentinel) || !errors.Is(err, context.DeadlineExceeded) || autherr.KindOf(err) != autherr.Unavailable {
			t.Errorf("a call to a silent store = %v, want %v from the deadline", err, sentinel)
		}
	case <-time.After(limit):
		t.Fatalf("a call to a silent store hung for %v", limit)
	}
}
