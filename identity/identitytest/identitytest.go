// Package identitytest is the conformance suite for identity.Store: a
// store's test calls Run with a function that opens an empty store.
//
//	func TestIdentityStore(t *testing.T) {
//		identitytest.Run(t, func(t *testing.T) identity.Store { return mystore.NewIdentityStore() })
//	}
package identitytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/identity"
)

// base is a time with millisecond precision, which every store keeps.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func link(iss, sub, user string, at time.Time) *identity.Identity {
	return &identity.Identity{Issuer: iss, Subject: sub, Provider: "p-" + iss[len(iss)-1:], UserID: user,
		Email: sub + "@example.com", CreatedAt: at, LastUsedAt: at}
}

// Run checks every promise of identity.Store on stores from newStore,
// one fresh store per subtest.
func Run(t *testing.T, newStore func(t *testing.T) identity.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s identity.Store)
	}{
		{"LinkAndFind", testLinkAndFind},
		{"UnknownIsNotFound", testUnknown},
		{"LinkedTwiceIsErrLinked", testLinkedTwice},
		{"IssuerAndSubjectAreExact", testExact},
		{"ByUserOldestFirst", testByUser},
		{"Touch", testTouch},
		{"UnlinkOnlyOwn", testUnlink},
		{"UnlinkUser", testUnlinkUser},
		{"ConcurrentLinkOnce", testConcurrent},
		{"CanceledContext", testCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func mustLink(t *testing.T, s identity.Store, id *identity.Identity) {
	t.Helper()
	if err := s.LinkIdentity(context.Background(), id); err != nil {
		t.Fatalf("LinkIdentity(%s, %s) = %v", id.Issuer, id.Subject, err)
	}
}

func same(got, want *identity.Identity) error {
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.Provider != want.Provider ||
		got.UserID != want.UserID || got.Email != want.Email ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.LastUsedAt.Equal(want.LastUsedAt) {
		return fmt.Errorf("got %+v, want %+v", got, want)
	}
	return nil
}

func testLinkAndFind(t *testing.T, s identity.Store) {
	ctx := context.Background()
	want := link("https://a", "s1", "u1", base)
	mustLink(t, s, want)
	got, err := s.Identity(ctx, "https://a", "s1")
	if err != nil {
		t.Fatalf("Identity = %v", err)
	}
	if err := same(got, want); err != nil {
		t.Error(err)
	}
}

func testUnknown(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if _, err := s.Identity(ctx, "https://a", "nobody"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Identity(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.TouchIdentity(ctx, "https://a", "nobody", base); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("TouchIdentity(unknown) = %v, want ErrNotFound", err)
	}
	list, err := s.IdentitiesByUser(ctx, "u-none")
	if err != nil || len(list) != 0 {
		t.Errorf("IdentitiesByUser(no links) = %v, %v; want none, nil", list, err)
	}
}

func testLinkedTwice(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://a", "s1", "u1", base))
	for _, user := range []string{"u1", "u2"} {
		if err := s.LinkIdentity(ctx, link("https://a", "s1", user, base.Add(time.Hour))); !errors.Is(err, identity.ErrLinked) {
			t.Errorf("LinkIdentity(linked identity, to %s) = %v, want ErrLinked", user, err)
		}
	}
	got, err := s.Identity(ctx, "https://a", "s1")
	if err != nil || got.UserID != "u1" {
		t.Errorf("after a refused link: Identity = %+v, %v; want still u1's", got, err)
	}
}

func testExact(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://a", "Sub", "u1", base))
	for _, k := range [][2]string{{"https://a", "sub"}, {"https://A", "Sub"}, {"https://b", "Sub"}} {
		if _, err := s.Identity(ctx, k[0], k[1]); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("Identity(%q, %q) = %v, want ErrNotFound", k[0], k[1], err)
		}
	}
	// The same subject at another issuer is another identity.
	mustLink(t, s, link("https://b", "Sub", "u2", base))
}

func testByUser(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://b", "s2", "u1", base.Add(time.Minute)))
	mustLink(t, s, link("https://a", "s1", "u1", base))
	mustLink(t, s, link("https://a", "s3", "u2", base))
	list, err := s.IdentitiesByUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Subject != "s1" || list[1].Subject != "s2" {
		t.Fatalf("IdentitiesByUser(u1) = %d links, want s1 then s2", len(list))
	}
	if err := same(list[1], link("https://b", "s2", "u1", base.Add(time.Minute))); err != nil {
		t.Error(err)
	}
}

func testTouch(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://a", "s1", "u1", base))
	at := base.Add(36 * time.Hour)
	if err := s.TouchIdentity(ctx, "https://a", "s1", at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Identity(ctx, "https://a", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastUsedAt.Equal(at) || !got.CreatedAt.Equal(base) {
		t.Errorf("after Touch: created %v, last used %v; want %v, %v", got.CreatedAt, got.LastUsedAt, base, at)
	}
}

func testUnlink(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://a", "s1", "u1", base))
	if err := s.UnlinkIdentity(ctx, "u2", "https://a", "s1"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("UnlinkIdentity(another user's link) = %v, want ErrNotFound", err)
	}
	if _, err := s.Identity(ctx, "https://a", "s1"); err != nil {
		t.Errorf("another user's unlink removed the link: %v", err)
	}
	if err := s.UnlinkIdentity(ctx, "u1", "https://a", "s1"); err != nil {
		t.Fatalf("UnlinkIdentity(own) = %v", err)
	}
	if _, err := s.Identity(ctx, "https://a", "s1"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("after unlink: Identity = %v, want ErrNotFound", err)
	}
	if err := s.UnlinkIdentity(ctx, "u1", "https://a", "s1"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("UnlinkIdentity twice = %v, want ErrNotFound", err)
	}
	// Unlinked, the identity can be linked again, to anyone.
	mustLink(t, s, link("https://a", "s1", "u2", base))
}

func testUnlinkUser(t *testing.T, s identity.Store) {
	ctx := context.Background()
	mustLink(t, s, link("https://a", "s1", "u1", base))
	mustLink(t, s, link("https://b", "s2", "u1", base))
	mustLink(t, s, link("https://a", "s3", "u2", base))
	n, err := s.UnlinkUser(ctx, "u1")
	if err != nil || n != 2 {
		t.Fatalf("UnlinkUser = %d, %v; want 2, nil", n, err)
	}
	if list, _ := s.IdentitiesByUser(ctx, "u1"); len(list) != 0 {
		t.Errorf("after UnlinkUser: %d links left", len(list))
	}
	if list, _ := s.IdentitiesByUser(ctx, "u2"); len(list) != 1 {
		t.Errorf("UnlinkUser(u1) touched u2's links: %d left, want 1", len(list))
	}
}

func testConcurrent(t *testing.T, s identity.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.LinkIdentity(ctx, link("https://a", "race", fmt.Sprint("u", i), base)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, identity.ErrLinked):
			t.Errorf("concurrent LinkIdentity = %v, want nil or ErrLinked", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent links of one identity succeeded, want exactly 1", ok)
	}
}

func testCanceled(t *testing.T, s identity.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Identity(ctx, "https://a", "s1"); err == nil || errors.Is(err, identity.ErrNotFound) {
		t.Errorf("Identity(canceled context) = %v, want a failure other than ErrNotFound", err)
	}
}
