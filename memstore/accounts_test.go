package memstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/memstore"
)

func TestAccountStore(t *testing.T) {
	accounttest.Run(t, func(t *testing.T) accounttest.Stores {
		s := memstore.NewAccountStore()
		return accounttest.Stores{Users: s, Remember: s, Tokens: s}
	})
}

func TestAccountStoreListUsersBadAfter(t *testing.T) {
	s := memstore.NewAccountStore()
	for _, after := range []string{"abc", "01", "-1", "0"} {
		if _, err := s.ListUsers(t.Context(), account.ListOptions{After: after}); !errors.Is(err, account.ErrInvalid) {
			t.Errorf("ListUsers(After %q) = %v, want ErrInvalid", after, err)
		}
	}
}

func TestAccountStoreForgetsExpiredRemember(t *testing.T) {
	ctx := t.Context()
	s := memstore.NewAccountStore()
	now := time.Now()
	create := func(sel, user string, created time.Time) {
		t.Helper()
		rt := &account.RememberToken{Selector: sel, ValidatorHash: []byte(sel), UserID: user, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
		if err := s.CreateRemember(ctx, rt); err != nil {
			t.Fatalf("CreateRemember(%q) = %v", sel, err)
		}
	}
	create("old", "1", now)
	create("other", "2", now)
	create("new", "1", now.Add(time.Hour)) // "old" expired by then
	// Seen from before their expiry, only the expired token of the same
	// user is gone.
	for sel, want := range map[string]bool{"old": false, "other": true, "new": true} {
		_, err := s.RememberBySelector(ctx, sel, now)
		if got := err == nil; got != want {
			t.Errorf("RememberBySelector(%q) = %v; want found = %v", sel, err, want)
		}
	}
	if n, err := s.DeleteRememberByUser(ctx, "1"); err != nil || n != 1 {
		t.Errorf(`DeleteRememberByUser("1") = %d, %v; want 1, nil`, n, err)
	}
}
