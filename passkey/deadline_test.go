package passkey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey"
)

// silentStore is a store whose network has gone silent: every call waits
// until its context ends.
type silentStore struct{ *memstore.PasskeyStore }

func (silentStore) CredentialsByUser(ctx context.Context, userID string) ([]*passkey.Credential, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A store that stops answering fails the call after StoreTimeout, as
// unavailable (503), instead of hanging the request.
func TestStoreTimeout(t *testing.T) {
	svc, err := passkey.New(passkey.Config{Store: silentStore{memstore.NewPasskeyStore()}, BaseURL: "https://login.example.com",
		StoreTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := svc.List(context.Background(), "1"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, passkey.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) || autherr.KindOf(err) != autherr.Unavailable {
			t.Errorf("List on a silent store = %v, want ErrStoreUnavailable from the deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("List on a silent store hung")
	}
}
