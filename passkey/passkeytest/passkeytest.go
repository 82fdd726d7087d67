// Package passkeytest checks a passkey.Store against every promise of its
// contract. A store's own test is a few lines:
//
//	func TestPasskeyStore(t *testing.T) {
//		passkeytest.Run(t, func(t *testing.T) passkey.Store { return mystore.NewPasskeyStore() })
//	}
//
// Each call of newStore must return a fresh, empty store. Times are
// compared at millisecond precision. Run it with -race.
package passkeytest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/passkey"
)

// Run checks the stores newStore returns, one subtest per promise.
func Run(t *testing.T, newStore func(t *testing.T) passkey.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s passkey.Store)
	}{
		{"AddAndFind", testAddAndFind},
		{"DuplicateID", testDuplicate},
		{"ByUserOldestFirst", testByUser},
		{"Use", testUse},
		{"UseConcurrent", testUseConcurrent},
		{"Delete", testDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var base = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func cred(id, user string, created time.Time) *passkey.Credential {
	return &passkey.Credential{ID: []byte(id), UserID: user, Name: "key " + id, CreatedAt: created, SignCount: 1, Data: []byte(`{"id":"` + id + `"}`)}
}

func mustAdd(t *testing.T, s passkey.Store, c *passkey.Credential) {
	t.Helper()
	if err := s.AddCredential(context.Background(), c); err != nil {
		t.Fatalf("AddCredential(%q) = %v", c.ID, err)
	}
}

func same(a, b *passkey.Credential) bool {
	return bytes.Equal(a.ID, b.ID) && a.UserID == b.UserID && a.Name == b.Name && a.CreatedAt.Equal(b.CreatedAt) &&
		a.LastUsedAt.Equal(b.LastUsedAt) && a.SignCount == b.SignCount && bytes.Equal(a.Data, b.Data)
}

func testAddAndFind(t *testing.T, s passkey.Store) {
	ctx := context.Background()
	want := cred("k1", "u1", base)
	mustAdd(t, s, want)
	got, err := s.CredentialByID(ctx, []byte("k1"))
	if err != nil || !same(got, want) {
		t.Errorf("CredentialByID = %+v, %v, want %+v", got, err, want)
	}
	if _, err := s.CredentialByID(ctx, []byte("nope")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("CredentialByID(unknown) = %v, want ErrNotFound", err)
	}
}

func testDuplicate(t *testing.T, s passkey.Store) {
	mustAdd(t, s, cred("k1", "u1", base))
	if err := s.AddCredential(context.Background(), cred("k1", "u2", base)); !errors.Is(err, account.ErrConflict) {
		t.Errorf("AddCredential(same ID, another user) = %v, want ErrConflict", err)
	}
}

func testByUser(t *testing.T, s passkey.Store) {
	ctx := context.Background()
	mustAdd(t, s, cred("k2", "u1", base.Add(time.Hour)))
	mustAdd(t, s, cred("k1", "u1", base))
	mustAdd(t, s, cred("k3", "u2", base))
	got, err := s.CredentialsByUser(ctx, "u1")
	if err != nil || len(got) != 2 || string(got[0].ID) != "k1" || string(got[1].ID) != "k2" {
		t.Errorf("CredentialsByUser(u1) = %d credentials, %v, want k1 then k2", len(got), err)
	}
	if got, err := s.CredentialsByUser(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("CredentialsByUser(nobody) = %v, %v, want none", got, err)
	}
}

func testUse(t *testing.T, s passkey.Store) {
	ctx := context.Background()
	mustAdd(t, s, cred("k1", "u1", base))
	at := base.Add(time.Minute)
	if err := s.UseCredential(ctx, []byte("k1"), 1, 5, []byte(`{"n":5}`), at); err != nil {
		t.Fatalf("UseCredential = %v", err)
	}
	got, _ := s.CredentialByID(ctx, []byte("k1"))
	if got.SignCount != 5 || !got.LastUsedAt.Equal(at) || string(got.Data) != `{"n":5}` {
		t.Errorf("after a use: %+v", got)
	}
	if err := s.UseCredential(ctx, []byte("k1"), 1, 6, nil, at); !errors.Is(err, account.ErrConflict) {
		t.Errorf("UseCredential with a stale count = %v, want ErrConflict", err)
	}
	if err := s.UseCredential(ctx, []byte("nope"), 0, 1, nil, at); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UseCredential(unknown) = %v, want ErrNotFound", err)
	}
}

func testUseConcurrent(t *testing.T, s passkey.Store) {
	mustAdd(t, s, cred("k1", "u1", base))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s.UseCredential(context.Background(), []byte("k1"), 1, 2, []byte(`{}`), base) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent uses from one count succeeded, want 1", ok.Load())
	}
}

func testDelete(t *testing.T, s passkey.Store) {
	ctx := context.Background()
	mustAdd(t, s, cred("k1", "u1", base))
	if err := s.DeleteCredential(ctx, "u2", []byte("k1")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteCredential by another user = %v, want ErrNotFound", err)
	}
	if err := s.DeleteCredential(ctx, "u1", []byte("k1")); err != nil {
		t.Fatalf("DeleteCredential = %v", err)
	}
	if _, err := s.CredentialByID(ctx, []byte("k1")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("CredentialByID after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteCredential(ctx, "u1", []byte("k1")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteCredential twice = %v, want ErrNotFound", err)
	}
}
