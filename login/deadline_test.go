package login_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
)

// hangingUsers never answers a lookup by name: it waits until the call's
// context ends, as a database behind a network that went silent does.
type hangingUsers struct{ *memstore.AccountStore }

func (hangingUsers) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

// A login whose account lookup does not answer within StoreTimeout fails
// as a store outage (503) instead of hanging the request.
func TestStoreTimeout(t *testing.T) {
	sessions := memSessions(t)
	lm, err := login.New(login.Config{
		Sessions:     sessions,
		Users:        hangingUsers{memstore.NewAccountStore()},
		Passwords:    &password.Hasher{Params: cheap},
		StoreTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := lm.Authenticate(httptest.NewRequest("POST", "/login", nil), "ada", "correct horse battery")
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, login.ErrStoreUnavailable) || autherr.KindOf(err) != autherr.Unavailable || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Authenticate with a hanging store = %v, want login.ErrStoreUnavailable (kind unavailable) wrapping context.DeadlineExceeded", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Authenticate with a hanging store still running after 30s; want it to fail after StoreTimeout")
	}
	if _, err := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{}, StoreTimeout: -time.Second}); err == nil {
		t.Error("login.New with a negative StoreTimeout = nil error, want an error")
	}
}
