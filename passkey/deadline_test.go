package passkey_test

import (
	"context"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/storetest"
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
	storetest.FailsWithin(t, 5*time.Second, passkey.ErrStoreUnavailable, func() error { _, err := svc.List(context.Background(), "1"); return err })
}
