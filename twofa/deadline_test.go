package twofa_test

import (
	"context"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/storetest"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/twofa"
)

// silentStore is a store whose network has gone silent: every call waits
// until its context ends.
type silentStore struct{ *memstore.TwoFAStore }

func (silentStore) SecondFactor(ctx context.Context, userID string) (*twofa.Factor, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A store that stops answering fails the call after StoreTimeout, as
// unavailable (503), instead of hanging the request.
func TestStoreTimeout(t *testing.T) {
	svc, err := twofa.New(twofa.Config{Store: silentStore{memstore.NewTwoFAStore()}, Keys: [][]byte{make([]byte, 32)},
		StoreTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	storetest.FailsWithin(t, 5*time.Second, twofa.ErrStoreUnavailable, func() error { _, err := svc.Status(context.Background(), "1"); return err })
}
