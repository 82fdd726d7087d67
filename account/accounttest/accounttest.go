// Package accounttest checks the stores of package account (users,
// remember-me tokens and API tokens) against every promise of their
// contracts, the way testing/fstest checks an fs.FS.
//
// A store's own test is a few lines:
//
//	func TestAccounts(t *testing.T) {
//		accounttest.Run(t, func(t *testing.T) accounttest.Stores {
//			s := mystore.NewAccountStore()
//			return accounttest.Stores{Users: s, Remember: s, Tokens: s}
//		})
//	}
//
// Run calls newStores once per subtest, and each call must return fresh,
// empty stores; the store's test registers whatever cleanup they need. The
// three stores of one call must share their data: Deleter must remove the
// tokens of the user it deletes. Remember-me and API tokens belong to
// users that the suite creates through Users, and also (ForeignUser
// subtests) to users that only an app's own user table knows: a token
// store keeps tokens for any non-empty user ID, as text.
//
// Remember or Tokens may be nil for an engine that does not keep them:
// their subtests are then skipped with a message that says so, so `go test
// -v` shows what the engine does not offer. The optional capability
// account.Importer and account.Deleter are tested when Users implements
// them, and skipped with a message otherwise.
//
// Timestamps are compared with a tolerance of one millisecond, so a store
// may keep times at millisecond precision, but no coarser. The token
// methods take the time as an argument, so the suite needs no fake clock;
// the times CreateUser assigns must come from the real clock.
//
// User IDs are opaque strings, compared only for equality; ListUsers must
// return users in creation order, which the suite checks against the order
// in which it created them.
//
// Run the suite with -race: the concurrency subtests are written so that
// the race detector sees a store's unsynchronised access.
package accounttest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
)

// Stores are the account stores of one engine, sharing one set of data.
// Users is required; Remember and Tokens may be nil when the engine does
// not keep those tokens.
type Stores struct {
	Users    account.Store
	Remember account.RememberStore
	Tokens   account.TokenStore
}

// precision is the coarsest timestamp precision a store may keep.
const precision = time.Millisecond

// Run checks the stores that newStores returns against the contracts of
// account.Store, account.RememberStore, account.TokenStore and, when Users
// implements them, account.Importer and account.Deleter, with one subtest per promise. See the
// package documentation for what newStores must do.
func Run(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Users/CreateAssigns", testCreateAssigns},
		{"Users/CreateKeepsTimes", testCreateKeepsTimes},
		{"Users/RoundTrip", testUserRoundTrip},
		{"Users/UsernameCase", testUsernameCase},
		{"Users/Unknown", testUnknownUser},
		{"Users/List", testListUsers},
		{"Users/ListDefaultLimit", testListDefaultLimit},
		{"Users/SetPassword", testSetPassword},
		{"Users/RehashPassword", testRehashPassword},
		{"Users/SetDisabled", testSetDisabled},
		{"Users/SetRoles", testSetRoles},
		{"Users/NotAliased", testUserNotAliased},
		{"Users/ConcurrentCreateSameName", testConcurrentCreateSameName},
		{"Users/ConcurrentCreate", testConcurrentCreate},
		{"Users/ConcurrentRehash", testConcurrentRehash},
		{"Users/CancelledContext", testUsersCancelled},
		{"PasswordChanger/ChangePassword", testChangePassword},
		{"PasswordChanger/Concurrent", testConcurrentChangePassword},
		{"Importer/Import", testImport},
		{"Importer/AllOrNothing", testImportAllOrNothing},
		{"Deleter/DeleteUser", testDeleteUser},
		{"Remember/RoundTrip", testRememberRoundTrip},
		{"Remember/Expiry", testRememberExpiry},
		{"Remember/Unknown", testRememberUnknown},
		{"Remember/Rotate", testRotate},
		{"Remember/RotateStale", testRotateStale},
		{"Remember/RotateGone", testRotateGone},
		{"Remember/ConcurrentRotate", testConcurrentRotate},
		{"Remember/Delete", testRememberDelete},
		{"Remember/DeleteByUser", testRememberDeleteByUser},
		{"Remember/NotAliased", testRememberNotAliased},
		{"Remember/CancelledContext", testRememberCancelled},
		{"Remember/ForeignUser", testRememberForeignUser},
		{"Tokens/CreateAssignsID", testTokenCreateAssignsID},
		{"Tokens/RoundTrip", testTokenRoundTrip},
		{"Tokens/Scopes", testTokenScopes},
		{"Tokens/Expiry", testTokenExpiry},
		{"Tokens/NeverExpires", testTokenNeverExpires},
		{"Tokens/Unknown", testTokenUnknown},
		{"Tokens/List", testListTokens},
		{"Tokens/Touch", testTouchToken},
		{"Tokens/Delete", testDeleteToken},
		{"Tokens/DeleteByUser", testDeleteTokensByUser},
		{"Tokens/NotAliased", testTokenNotAliased},
		{"Tokens/Concurrent", testTokensConcurrent},
		{"Tokens/CancelledContext", testTokensCancelled},
		{"Tokens/ForeignUser", testTokensForeignUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStores(t)
			if s.Users == nil {
				t.Fatal("newStores returned no Users store")
			}
			h := &harness{t: t, ctx: t.Context(), Stores: s,
				now: time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond)}
			switch {
			case strings.HasPrefix(tt.name, "Remember/") && s.Remember == nil:
				t.Skip("Stores.Remember is nil: the engine does not keep remember-me tokens")
			case strings.HasPrefix(tt.name, "Tokens/") && s.Tokens == nil:
				t.Skip("Stores.Tokens is nil: the engine does not keep API tokens")
			case strings.HasPrefix(tt.name, "PasswordChanger/"):
				if _, ok := s.Users.(account.PasswordChanger); !ok {
					t.Skipf("store %T does not implement account.PasswordChanger (ChangePassword)", s.Users)
				}
			case strings.HasPrefix(tt.name, "Importer/"):
				if _, ok := s.Users.(account.Importer); !ok {
					t.Skipf("store %T does not implement account.Importer (ImportUsers)", s.Users)
				}
			case strings.HasPrefix(tt.name, "Deleter/"):
				if _, ok := s.Users.(account.Deleter); !ok {
					t.Skipf("store %T does not implement account.Deleter (DeleteUser)", s.Users)
				}
			}
			tt.fn(t, h)
		})
	}
}

// harness bundles what every subtest uses, with helpers that fail the test
// themselves.
type harness struct {
	Stores
	t   *testing.T
	ctx context.Context
	// now is the base of the times the suite passes to the stores: the
	// real time, with a sub-millisecond part so that round trips check
	// millisecond precision.
	now time.Time
}

// with returns a copy of h for the subtest t, so that its helpers fail t.
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t, c.ctx = t, t.Context()
	return &c
}

// digest returns the SHA-256 digest of s, as the token stores keep them.
func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// user returns a user named name with every field set, not yet stored.
func (h *harness) user(name string) *account.User {
	return &account.User{
		Username:          name,
		Email:             strings.ToLower(name) + "@example.com",
		Roles:             []string{"admin", "staff"},
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + name,
		CreatedAt:         h.now,
		PasswordChangedAt: h.now.Add(time.Minute),
	}
}

func (h *harness) create(u *account.User) *account.User {
	h.t.Helper()
	if err := h.Users.CreateUser(h.ctx, u); err != nil {
		h.t.Fatalf("CreateUser(%q) = %v, want nil", u.Username, err)
	}
	if u.ID == "" {
		h.t.Fatalf("CreateUser(%q) left ID empty", u.Username)
	}
	return u
}

// clone returns a deep copy of u, to remember what was stored.
func clone(u *account.User) *account.User {
	c := *u
	c.Roles = slices.Clone(u.Roles)
	return &c
}

func (h *harness) mustUser(id string) *account.User {
	h.t.Helper()
	u, err := h.Users.UserByID(h.ctx, id)
	if err != nil {
		h.t.Fatalf("UserByID(%q) = %v, want a user", id, err)
	}
	if u == nil {
		h.t.Fatalf("UserByID(%q) = nil, nil; want a user", id)
	}
	return u
}

func (h *harness) listAll() []*account.User {
	h.t.Helper()
	var all []*account.User
	after := ""
	for {
		page, err := h.Users.ListUsers(h.ctx, account.ListOptions{After: after, Limit: 100})
		if err != nil {
			h.t.Fatalf("ListUsers(After %q) = %v, want nil error", after, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

// checkUser reports every field of got that differs from want. Times may
// differ by less than precision; a nil and an empty Roles are equal.
func checkUser(t *testing.T, what string, got, want *account.User) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want user %q", what, want.Username)
		return
	}
	if got.ID != want.ID {
		t.Errorf("%s.ID = %q, want %q", what, got.ID, want.ID)
	}
	if got.Username != want.Username {
		t.Errorf("%s.Username = %q, want %q", what, got.Username, want.Username)
	}
	if got.Email != want.Email {
		t.Errorf("%s.Email = %q, want %q", what, got.Email, want.Email)
	}
	if !slices.Equal(got.Roles, want.Roles) {
		t.Errorf("%s.Roles = %q, want %q", what, got.Roles, want.Roles)
	}
	if got.PasswordHash != want.PasswordHash {
		t.Errorf("%s.PasswordHash = %q, want %q", what, got.PasswordHash, want.PasswordHash)
	}
	if got.Disabled != want.Disabled {
		t.Errorf("%s.Disabled = %v, want %v", what, got.Disabled, want.Disabled)
	}
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".PasswordChangedAt", got.PasswordChangedAt, want.PasswordChangedAt)
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.IsZero() != want.IsZero() {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	if d := got.Sub(want); d <= -precision || d >= precision {
		t.Errorf("%s = %v, want %v (within %v)", what, got, want, precision)
	}
}

// oddIDs returns strings that are not IDs a store issued, some of them
// close to id.
func oddIDs(id string) []string {
	return []string{"", "0", "-1", "not-an-id", "1e3", "%", "_", strings.Repeat("9", 40),
		"0" + id, "+" + id, " " + id, id + " ", id + "\x00", id + "'"}
}

func testCreateAssigns(t *testing.T, h *harness) {
	u := h.user("Ada")
	u.CreatedAt, u.PasswordChangedAt = time.Time{}, time.Time{}
	before := time.Now()
	h.create(u)
	after := time.Now()
	for _, f := range []struct {
		name string
		got  time.Time
	}{{"CreatedAt", u.CreatedAt}, {"PasswordChangedAt", u.PasswordChangedAt}} {
		if f.got.Before(before.Add(-precision)) || f.got.After(after.Add(precision)) {
			t.Errorf("after CreateUser with a zero %s, u.%s = %v, want between %v and %v",
				f.name, f.name, f.got, before, after)
		}
	}
	got := h.mustUser(u.ID)
	checkUser(t, fmt.Sprintf("UserByID(%q)", u.ID), got, u)
	if !got.CreatedAt.Equal(u.CreatedAt) || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
		t.Errorf("UserByID(%q) times = %v, %v; want exactly the assigned %v, %v",
			u.ID, got.CreatedAt, got.PasswordChangedAt, u.CreatedAt, u.PasswordChangedAt)
	}

	// Each user gets an ID of its own.
	b := h.create(h.user("Bob"))
	if b.ID == u.ID {
		t.Errorf("CreateUser gave %q and %q the same ID %q", u.Username, b.Username, b.ID)
	}
}

func testCreateKeepsTimes(t *testing.T, h *harness) {
	tests := []struct {
		name              string
		created, pwChange time.Time
	}{
		{"both", h.now, h.now.Add(time.Hour)},
		{"old", time.Date(2001, 2, 3, 4, 5, 6, 789123456, time.UTC), time.Date(2011, 2, 3, 4, 5, 6, 7, time.UTC)},
		{"other zone", time.Date(2020, 6, 1, 12, 0, 0, 500000, time.FixedZone("X", -7*3600)), h.now},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			u := h.user(fmt.Sprintf("user-%d", i))
			u.CreatedAt, u.PasswordChangedAt = tt.created, tt.pwChange
			want := clone(u)
			h.create(u)
			want.ID = u.ID
			checkUser(t, "after CreateUser, u", u, want)
			got := h.mustUser(u.ID)
			checkUser(t, fmt.Sprintf("UserByID(%q)", u.ID), got, want)
			if !got.CreatedAt.Equal(u.CreatedAt) || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
				t.Errorf("UserByID(%q) times = %v, %v; want exactly u's as CreateUser left them, %v, %v",
					u.ID, got.CreatedAt, got.PasswordChangedAt, u.CreatedAt, u.PasswordChangedAt)
			}
		})
	}
}

func testUserRoundTrip(t *testing.T, h *harness) {
	tests := []struct {
		name string
		edit func(u *account.User)
	}{
		{"full", func(u *account.User) {}},
		{"disabled", func(u *account.User) { u.Disabled = true }},
		{"nil roles", func(u *account.User) { u.Roles = nil }},
		{"empty roles", func(u *account.User) { u.Roles = []string{} }},
		{"one role", func(u *account.User) { u.Roles = []string{"x"} }},
		{"many roles", func(u *account.User) {
			u.Roles = []string{"a", "b-c", "d_e", strings.Repeat("r", account.MaxRole)}
		}},
		{"no email", func(u *account.User) { u.Email = "" }},
		{"long fields", func(u *account.User) {
			u.Username = strings.Repeat("L", account.MaxUsername)
			u.Email = strings.Repeat("e", account.MaxEmail-len("@example.com")) + "@example.com"
		}},
		{"odd hash", func(u *account.User) { u.PasswordHash = `pbkdf2_sha256$260000$s,a;l't"$h=/+` }},
		{"bcrypt hash", func(u *account.User) {
			u.PasswordHash = "$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
		}},
		{"no hash", func(u *account.User) { u.PasswordHash = "" }},
		{"dotted name", func(u *account.User) { u.Username = "a.b_c-D" }},
	}
	var all []*account.User
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			u := h.user(fmt.Sprintf("user%d", i))
			tt.edit(u)
			want := clone(u)
			h.create(u)
			want.ID = u.ID
			all = append(all, want)

			checkUser(t, fmt.Sprintf("UserByID(%q)", u.ID), h.mustUser(u.ID), want)
			for _, name := range []string{u.Username, strings.ToUpper(u.Username), strings.ToLower(u.Username)} {
				got, err := h.Users.UserByUsername(h.ctx, name)
				if err != nil {
					t.Errorf("UserByUsername(%q) = %v, want user %q", name, err, u.Username)
					continue
				}
				checkUser(t, fmt.Sprintf("UserByUsername(%q)", name), got, want)
			}
		})
	}
	list := h.listAll()
	if len(list) != len(all) {
		t.Fatalf("ListUsers returned %d users, want %d", len(list), len(all))
	}
	for i, want := range all {
		checkUser(t, fmt.Sprintf("ListUsers()[%d]", i), list[i], want)
	}
}

func testUsernameCase(t *testing.T, h *harness) {
	ada := h.create(h.user("Ada"))
	for _, name := range []string{"Ada", "ada", "ADA", "aDA"} {
		u := h.user(name)
		if err := h.Users.CreateUser(h.ctx, u); !errors.Is(err, account.ErrUsernameTaken) {
			t.Errorf("CreateUser(%q) after %q = %v, want ErrUsernameTaken", name, ada.Username, err)
		}
	}
	if list := h.listAll(); len(list) != 1 {
		t.Errorf("after failed CreateUsers, ListUsers returned %d users, want 1", len(list))
	}
	for _, name := range []string{"Ada", "ada", "ADA", "aDa"} {
		got, err := h.Users.UserByUsername(h.ctx, name)
		if err != nil {
			t.Errorf("UserByUsername(%q) = %v, want %q", name, err, "Ada")
			continue
		}
		if got.ID != ada.ID || got.Username != "Ada" {
			t.Errorf("UserByUsername(%q) = {ID %q, Username %q}, want {%q, %q} (the original spelling)",
				name, got.ID, got.Username, ada.ID, "Ada")
		}
	}
	// Names that share a prefix, or differ in a non-letter, are distinct.
	for _, name := range []string{"Adam", "Ad", "Ada2", "Ada.", "A-da", "ada_"} {
		h.create(h.user(name))
	}
	if got, err := h.Users.UserByUsername(h.ctx, "ADAM"); err != nil || got.Username != "Adam" {
		t.Errorf(`UserByUsername("ADAM") = %v, %v; want "Adam"`, got, err)
	}
}

func testUnknownUser(t *testing.T, h *harness) {
	for _, id := range []string{"", "1", "0", "not-an-id"} {
		if u, err := h.Users.UserByID(h.ctx, id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UserByID(%q) in an empty store = %v, %v; want ErrNotFound", id, u, err)
		}
	}
	if u, err := h.Users.UserByUsername(h.ctx, "ada"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf(`UserByUsername("ada") in an empty store = %v, %v; want ErrNotFound`, u, err)
	}
	ada := h.create(h.user("Ada"))
	for _, id := range oddIDs(ada.ID) {
		if u, err := h.Users.UserByID(h.ctx, id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UserByID(%q) = %v, %v; want ErrNotFound", id, u, err)
		}
	}
	for _, name := range []string{"", "Ad", "Adaa", "Ada ", " Ada", "Ad_", "Ad%", "A%", "%", "_da", "Ada\x00", "Àda"} {
		if u, err := h.Users.UserByUsername(h.ctx, name); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UserByUsername(%q) = %v, %v; want ErrNotFound", name, u, err)
		}
	}
}

func testListUsers(t *testing.T, h *harness) {
	list, err := h.Users.ListUsers(h.ctx, account.ListOptions{})
	if err != nil || len(list) != 0 {
		t.Fatalf("ListUsers in an empty store = %v, %v; want an empty slice", list, err)
	}
	// Seven users, named so that no order of names or of ID strings is
	// creation order by accident.
	var want []*account.User
	for _, name := range []string{"mike", "alpha", "zulu", "Bravo", "yankee", "Charlie", "x-ray"} {
		want = append(want, clone(h.create(h.user(name))))
	}
	ids := func(us []*account.User) []string {
		var s []string
		for _, u := range us {
			s = append(s, u.ID)
		}
		return s
	}

	list, err = h.Users.ListUsers(h.ctx, account.ListOptions{})
	if err != nil {
		t.Fatalf("ListUsers() = %v", err)
	}
	if !slices.Equal(ids(list), ids(want)) {
		t.Fatalf("ListUsers() IDs = %q, want %q (creation order)", ids(list), ids(want))
	}
	for i := range list {
		checkUser(t, fmt.Sprintf("ListUsers()[%d]", i), list[i], want[i])
	}

	// Pages of three.
	var pages [][]string
	after := ""
	for range len(want) + 1 {
		page, err := h.Users.ListUsers(h.ctx, account.ListOptions{After: after, Limit: 3})
		if err != nil {
			t.Fatalf("ListUsers(After %q, Limit 3) = %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, ids(page))
		after = page[len(page)-1].ID
	}
	wantPages := [][]string{ids(want[0:3]), ids(want[3:6]), ids(want[6:])}
	if fmt.Sprint(pages) != fmt.Sprint(wantPages) {
		t.Errorf("ListUsers pages of 3 = %q, want %q", pages, wantPages)
	}

	tests := []struct {
		opt  account.ListOptions
		want []*account.User
	}{
		{account.ListOptions{Limit: 1}, want[:1]},
		{account.ListOptions{After: want[3].ID, Limit: 1}, want[4:5]},
		{account.ListOptions{After: want[3].ID}, want[4:]},
		{account.ListOptions{After: want[0].ID, Limit: 100}, want[1:]},
		{account.ListOptions{After: want[5].ID, Limit: 2}, want[6:]},
		{account.ListOptions{After: want[6].ID}, nil},
	}
	for _, tt := range tests {
		got, err := h.Users.ListUsers(h.ctx, tt.opt)
		if err != nil {
			t.Errorf("ListUsers(%+v) = %v", tt.opt, err)
			continue
		}
		if !slices.Equal(ids(got), ids(tt.want)) {
			t.Errorf("ListUsers(%+v) IDs = %q, want %q", tt.opt, ids(got), ids(tt.want))
		}
	}
}

func testListDefaultLimit(t *testing.T, h *harness) {
	const n = 101
	var ids []string
	for i := range n {
		ids = append(ids, h.create(h.user(fmt.Sprintf("user-%03d", i))).ID)
	}
	list, err := h.Users.ListUsers(h.ctx, account.ListOptions{})
	if err != nil || len(list) != 100 {
		t.Fatalf("ListUsers(Limit 0) with %d users = %d users, %v; want 100", n, len(list), err)
	}
	if list[0].ID != ids[0] || list[99].ID != ids[99] {
		t.Errorf("ListUsers(Limit 0) = users %q to %q, want %q to %q", list[0].ID, list[99].ID, ids[0], ids[99])
	}
	rest, err := h.Users.ListUsers(h.ctx, account.ListOptions{After: list[99].ID})
	if err != nil || len(rest) != 1 || rest[0].ID != ids[100] {
		t.Errorf("ListUsers(After the 100th) = %d users, %v; want only %q", len(rest), err, ids[100])
	}
}

func testSetPassword(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	other := h.create(h.user("Bob"))
	want, wantOther := clone(u), clone(other)

	changed := h.now.Add(24 * time.Hour)
	if err := h.Users.SetPassword(h.ctx, u.ID, "$argon2id$new", changed); err != nil {
		t.Fatalf("SetPassword(%q) = %v, want nil", u.ID, err)
	}
	want.PasswordHash, want.PasswordChangedAt = "$argon2id$new", changed
	checkUser(t, "after SetPassword, UserByID", h.mustUser(u.ID), want)
	checkUser(t, "after SetPassword of another user, UserByID", h.mustUser(other.ID), wantOther)

	for _, id := range oddIDs(u.ID) {
		if err := h.Users.SetPassword(h.ctx, id, "x", changed); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetPassword(%q) = %v, want ErrNotFound", id, err)
		}
	}
	checkUser(t, "after SetPassword of unknown IDs, UserByID", h.mustUser(u.ID), want)
}

func testRehashPassword(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	want := clone(u)

	if err := h.Users.RehashPassword(h.ctx, u.ID, u.PasswordHash, "$argon2id$stronger"); err != nil {
		t.Fatalf("RehashPassword(%q) with the stored hash = %v, want nil", u.ID, err)
	}
	want.PasswordHash = "$argon2id$stronger"
	checkUser(t, "after RehashPassword, UserByID", h.mustUser(u.ID), want) // PasswordChangedAt unchanged

	for _, old := range []string{u.PasswordHash, "", "$argon2id$STRONGER", "$argon2id$stronge", "wrong"} {
		if err := h.Users.RehashPassword(h.ctx, u.ID, old, "$argon2id$other"); !errors.Is(err, account.ErrConflict) {
			t.Errorf("RehashPassword(%q, old %q) when the stored hash is %q = %v, want ErrConflict", u.ID, old, want.PasswordHash, err)
		}
	}
	checkUser(t, "after conflicting RehashPasswords, UserByID", h.mustUser(u.ID), want)

	// A password change between the login and the rehash wins.
	changed := h.now.Add(time.Hour)
	if err := h.Users.SetPassword(h.ctx, u.ID, "$argon2id$changed", changed); err != nil {
		t.Fatal(err)
	}
	if err := h.Users.RehashPassword(h.ctx, u.ID, "$argon2id$stronger", "$argon2id$rehashed"); !errors.Is(err, account.ErrConflict) {
		t.Errorf("RehashPassword after SetPassword = %v, want ErrConflict", err)
	}
	want.PasswordHash, want.PasswordChangedAt = "$argon2id$changed", changed
	checkUser(t, "after RehashPassword lost to SetPassword, UserByID", h.mustUser(u.ID), want)

	for _, id := range oddIDs(u.ID) {
		if err := h.Users.RehashPassword(h.ctx, id, want.PasswordHash, "x"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("RehashPassword(%q) = %v, want ErrNotFound", id, err)
		}
	}
	checkUser(t, "after RehashPassword of unknown IDs, UserByID", h.mustUser(u.ID), want)
}

func testSetDisabled(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	other := h.create(h.user("Bob"))
	want := clone(u)
	for _, d := range []bool{true, true, false, false, true} {
		if err := h.Users.SetDisabled(h.ctx, u.ID, d); err != nil {
			t.Fatalf("SetDisabled(%q, %v) = %v, want nil", u.ID, d, err)
		}
		want.Disabled = d
		checkUser(t, fmt.Sprintf("after SetDisabled(%v), UserByID", d), h.mustUser(u.ID), want)
	}
	if got := h.mustUser(other.ID); got.Disabled {
		t.Errorf("SetDisabled(%q) disabled %q too", u.ID, other.ID)
	}
	for _, id := range oddIDs(u.ID) {
		if err := h.Users.SetDisabled(h.ctx, id, false); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetDisabled(%q) = %v, want ErrNotFound", id, err)
		}
	}
	checkUser(t, "after SetDisabled of unknown IDs, UserByID", h.mustUser(u.ID), want)
}

func testSetRoles(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	other := h.create(h.user("Bob"))
	want, wantOther := clone(u), clone(other)
	for _, roles := range [][]string{{"editor"}, {"a", "b", "c"}, nil, {}, {"admin", "staff"}, {"admin", "staff"}} {
		if err := h.Users.SetRoles(h.ctx, u.ID, roles); err != nil {
			t.Fatalf("SetRoles(%q, %q) = %v, want nil", u.ID, roles, err)
		}
		want.Roles = roles
		checkUser(t, fmt.Sprintf("after SetRoles(%q), UserByID", roles), h.mustUser(u.ID), want)
	}
	checkUser(t, "after SetRoles of another user, UserByID", h.mustUser(other.ID), wantOther)
	for _, id := range oddIDs(u.ID) {
		if err := h.Users.SetRoles(h.ctx, id, []string{"x"}); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetRoles(%q) = %v, want ErrNotFound", id, err)
		}
	}
	checkUser(t, "after SetRoles of unknown IDs, UserByID", h.mustUser(u.ID), want)
}

func testUserNotAliased(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	want := clone(u)

	// Changing the User given to CreateUser, or one a method returned,
	// changes nothing in the store.
	u.Roles[0], u.Username, u.Disabled = "root", "Eve", true
	checkUser(t, "after changing the created User, UserByID", h.mustUser(want.ID), want)

	got := h.mustUser(want.ID)
	got.Roles[0], got.PasswordHash = "root", "x"
	byName, err := h.Users.UserByUsername(h.ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	byName.Roles[1] = "root"
	list := h.listAll()
	list[0].Roles[0], list[0].Email = "root", "eve@example.com"
	checkUser(t, "after changing returned Users, UserByID", h.mustUser(want.ID), want)

	roles := []string{"a", "b"}
	if err := h.Users.SetRoles(h.ctx, want.ID, roles); err != nil {
		t.Fatal(err)
	}
	roles[0] = "root"
	want.Roles = []string{"a", "b"}
	checkUser(t, "after changing the slice given to SetRoles, UserByID", h.mustUser(want.ID), want)
}

// race runs fn(i) for i in [0, n) in n goroutines that start together,
// and returns the errors in the order of i.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWins checks that exactly one of errs is nil and that all others
// wrap lose, and returns the index of the winner (or -1).
func checkOneWins(t *testing.T, what string, errs []error, lose error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: calls %d and %d both succeeded, want exactly one", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lose):
			t.Errorf("%s: call %d = %v, want nil or %v", what, i, err, lose)
		}
	}
	if winner < 0 {
		t.Errorf("%s: no call succeeded, want exactly one", what)
	}
	return winner
}

func testConcurrentCreateSameName(t *testing.T, h *harness) {
	const n = 20
	spellings := []string{"Racer", "racer", "RACER", "rAcEr"}
	users := make([]*account.User, n)
	for i := range users {
		users[i] = h.user(spellings[i%len(spellings)])
	}
	errs := race(n, func(i int) error { return h.Users.CreateUser(h.ctx, users[i]) })
	w := checkOneWins(t, fmt.Sprintf("%d concurrent CreateUser of one name", n), errs, account.ErrUsernameTaken)
	list := h.listAll()
	if len(list) != 1 {
		t.Fatalf("after %d concurrent CreateUser of one name, ListUsers returned %d users, want 1", n, len(list))
	}
	if w >= 0 && (list[0].ID != users[w].ID || list[0].Username != users[w].Username) {
		t.Errorf("stored user = {%q, %q}, want the winner's {%q, %q}", list[0].ID, list[0].Username, users[w].ID, users[w].Username)
	}
}

func testConcurrentCreate(t *testing.T, h *harness) {
	const workers, perWorker = 8, 10
	ids := make([][]string, workers)
	errs := race(workers, func(w int) error {
		for j := range perWorker {
			u := h.user(fmt.Sprintf("w%d-u%d", w, j))
			if err := h.Users.CreateUser(h.ctx, u); err != nil {
				return fmt.Errorf("CreateUser(%q) = %v, want nil", u.Username, err)
			}
			ids[w] = append(ids[w], u.ID)
			got, err := h.Users.UserByUsername(h.ctx, strings.ToUpper(u.Username))
			if err != nil || got.ID != u.ID {
				return fmt.Errorf("UserByUsername(%q) just after CreateUser = %v, %v; want ID %q", strings.ToUpper(u.Username), got, err, u.ID)
			}
			// Another worker's user may or may not exist yet.
			other := fmt.Sprintf("w%d-u%d", (w+1)%workers, j)
			if _, err := h.Users.UserByUsername(h.ctx, other); err != nil && !errors.Is(err, account.ErrNotFound) {
				return fmt.Errorf("UserByUsername(%q) = %v, want a user or ErrNotFound", other, err)
			}
			if _, err := h.Users.ListUsers(h.ctx, account.ListOptions{Limit: 5}); err != nil {
				return fmt.Errorf("ListUsers = %v", err)
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	list := h.listAll()
	seen := map[string]bool{}
	for _, u := range list {
		if seen[u.ID] {
			t.Errorf("ListUsers lists ID %q twice", u.ID)
		}
		seen[u.ID] = true
	}
	for w := range ids {
		for _, id := range ids[w] {
			if !seen[id] {
				t.Errorf("ListUsers lacks %q", id)
			}
		}
	}
	if len(list) != workers*perWorker {
		t.Errorf("ListUsers returned %d users, want %d", len(list), workers*perWorker)
	}
}

func testConcurrentRehash(t *testing.T, h *harness) {
	const n = 20
	u := h.create(h.user("Ada"))
	want := clone(u)
	errs := race(n, func(i int) error {
		return h.Users.RehashPassword(h.ctx, u.ID, u.PasswordHash, fmt.Sprintf("$argon2id$rehash-%d", i))
	})
	if w := checkOneWins(t, fmt.Sprintf("%d concurrent RehashPassword from one hash", n), errs, account.ErrConflict); w >= 0 {
		want.PasswordHash = fmt.Sprintf("$argon2id$rehash-%d", w)
		checkUser(t, "after concurrent RehashPassword, UserByID", h.mustUser(u.ID), want)
	}
}

// contexts returns a cancelled context and one past its deadline, with
// the errors they must make a store return.
func (h *harness) contexts() []struct {
	name string
	ctx  context.Context
	want error
} {
	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(h.ctx, time.Unix(0, 0))
	h.t.Cleanup(cancel2)
	return []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	}
}

// checker returns a function that reports a call whose error does not
// wrap want.
func checker(t *testing.T, name string, want error) func(call string, err error) {
	return func(call string, err error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s with a %s context = %v, want an error wrapping %v", call, name, err, want)
		}
	}
}

func testUsersCancelled(t *testing.T, h *harness) {
	u := h.create(h.user("Ada"))
	want := clone(u)
	for _, c := range h.contexts() {
		t.Run(c.name, func(t *testing.T) {
			check := checker(t, c.name, c.want)
			check(`CreateUser("Bob")`, h.Users.CreateUser(c.ctx, h.user("Bob")))
			_, err := h.Users.UserByID(c.ctx, u.ID)
			check("UserByID", err)
			_, err = h.Users.UserByID(c.ctx, "not-an-id")
			check(`UserByID("not-an-id")`, err)
			_, err = h.Users.UserByUsername(c.ctx, "Ada")
			check("UserByUsername", err)
			_, err = h.Users.ListUsers(c.ctx, account.ListOptions{})
			check("ListUsers", err)
			check("SetPassword", h.Users.SetPassword(c.ctx, u.ID, "x", h.now.Add(time.Hour)))
			check("RehashPassword", h.Users.RehashPassword(c.ctx, u.ID, u.PasswordHash, "x"))
			check("SetDisabled", h.Users.SetDisabled(c.ctx, u.ID, true))
			check("SetRoles", h.Users.SetRoles(c.ctx, u.ID, []string{"x"}))
			check(`SetRoles("not-an-id")`, h.Users.SetRoles(c.ctx, "not-an-id", []string{"x"}))
			if im, ok := h.Users.(account.Importer); ok {
				check("ImportUsers", im.ImportUsers(c.ctx, []*account.User{h.user("Carol")}))
				check("ImportUsers(nil)", im.ImportUsers(c.ctx, nil))
			}
		})
	}
	// Nothing changed.
	checkUser(t, "UserByID", h.mustUser(u.ID), want)
	for _, name := range []string{"Bob", "Carol"} {
		if _, err := h.Users.UserByUsername(h.ctx, name); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UserByUsername(%q) after calls with a done context = %v, want ErrNotFound", name, err)
		}
	}
}

func (h *harness) importer() account.Importer { return h.Users.(account.Importer) }

func (h *harness) changer() account.PasswordChanger { return h.Users.(account.PasswordChanger) }

// ChangePassword swaps the hash and the time of the change together,
// only from the stored hash.
func testChangePassword(t *testing.T, h *harness) {
	c := h.changer()
	u := h.create(h.user("Ada"))
	want := clone(u)

	changed := h.now.Add(time.Hour)
	if err := c.ChangePassword(h.ctx, u.ID, u.PasswordHash, "$argon2id$new", changed); err != nil {
		t.Fatalf("ChangePassword(%q) from the stored hash = %v, want nil", u.ID, err)
	}
	want.PasswordHash, want.PasswordChangedAt = "$argon2id$new", changed.Truncate(precision)
	checkUser(t, "after ChangePassword, UserByID", h.mustUser(u.ID), want)

	for _, old := range []string{u.PasswordHash, "", "$argon2id$NEW", "$argon2id$ne", "wrong"} {
		if err := c.ChangePassword(h.ctx, u.ID, old, "$argon2id$other", changed.Add(time.Hour)); !errors.Is(err, account.ErrConflict) {
			t.Errorf("ChangePassword(%q, old %q) when the stored hash is %q = %v, want ErrConflict", u.ID, old, want.PasswordHash, err)
		}
	}
	checkUser(t, "after conflicting ChangePasswords, UserByID", h.mustUser(u.ID), want)

	for _, id := range oddIDs(u.ID) {
		if err := c.ChangePassword(h.ctx, id, want.PasswordHash, "x", changed); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("ChangePassword(%q) = %v, want ErrNotFound", id, err)
		}
	}
	checkUser(t, "after ChangePassword of unknown IDs, UserByID", h.mustUser(u.ID), want)
}

// Of concurrent ChangePasswords from one hash, exactly one wins.
func testConcurrentChangePassword(t *testing.T, h *harness) {
	const n = 20
	c := h.changer()
	u := h.create(h.user("Ada"))
	want := clone(u)
	changed := h.now.Add(time.Hour)
	errs := race(n, func(i int) error {
		return c.ChangePassword(h.ctx, u.ID, u.PasswordHash, fmt.Sprintf("$argon2id$change-%d", i), changed)
	})
	if w := checkOneWins(t, fmt.Sprintf("%d concurrent ChangePassword from one hash", n), errs, account.ErrConflict); w >= 0 {
		want.PasswordHash, want.PasswordChangedAt = fmt.Sprintf("$argon2id$change-%d", w), changed.Truncate(precision)
		checkUser(t, "after concurrent ChangePassword, UserByID", h.mustUser(u.ID), want)
	}
}

func testImport(t *testing.T, h *harness) {
	im := h.importer()
	if err := im.ImportUsers(h.ctx, nil); err != nil {
		t.Errorf("ImportUsers(nil) = %v, want nil", err)
	}
	first := h.create(h.user("first"))

	batch := []*account.User{h.user("Ada"), h.user("bob"), h.user("Carol"), h.user("dave")}
	batch[1].CreatedAt, batch[1].PasswordChangedAt = time.Time{}, time.Time{}
	batch[2].Disabled, batch[2].Roles = true, nil
	want := make([]*account.User, len(batch))
	for i, u := range batch {
		want[i] = clone(u)
	}
	before := time.Now()
	if err := im.ImportUsers(h.ctx, batch); err != nil {
		t.Fatalf("ImportUsers = %v, want nil", err)
	}
	after := time.Now()
	if b := batch[1]; b.CreatedAt.Before(before.Add(-precision)) || b.CreatedAt.After(after.Add(precision)) ||
		b.PasswordChangedAt.Before(before.Add(-precision)) || b.PasswordChangedAt.After(after.Add(precision)) {
		t.Errorf("ImportUsers of a user with zero times set them to %v, %v; want between %v and %v",
			b.CreatedAt, b.PasswordChangedAt, before, after)
	}
	want[1].CreatedAt, want[1].PasswordChangedAt = batch[1].CreatedAt, batch[1].PasswordChangedAt

	ids := map[string]bool{first.ID: true}
	for i, u := range batch {
		if u.ID == "" || ids[u.ID] {
			t.Errorf("ImportUsers gave batch[%d] ID %q, want a new one", i, u.ID)
		}
		ids[u.ID] = true
		want[i].ID = u.ID
		got := h.mustUser(u.ID)
		checkUser(t, fmt.Sprintf("UserByID(%q)", u.ID), got, want[i])
		if !got.CreatedAt.Equal(u.CreatedAt) || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
			t.Errorf("UserByID(%q) times = %v, %v; want exactly u's as ImportUsers left them, %v, %v",
				u.ID, got.CreatedAt, got.PasswordChangedAt, u.CreatedAt, u.PasswordChangedAt)
		}
	}
	// Imported users come after existing ones, in batch order, and their
	// names are taken.
	list := h.listAll()
	if len(list) != 1+len(batch) {
		t.Fatalf("ListUsers after ImportUsers returned %d users, want %d", len(list), 1+len(batch))
	}
	for i, u := range list[1:] {
		checkUser(t, fmt.Sprintf("ListUsers()[%d]", i+1), u, want[i])
	}
	if err := h.Users.CreateUser(h.ctx, h.user("CAROL")); !errors.Is(err, account.ErrUsernameTaken) {
		t.Errorf(`CreateUser("CAROL") after importing "Carol" = %v, want ErrUsernameTaken`, err)
	}
}

func testImportAllOrNothing(t *testing.T, h *harness) {
	im := h.importer()
	existing := h.create(h.user("Ada"))
	tests := []struct {
		name  string
		names []string
		index int
	}{
		{"existing user", []string{"bob", "carol", "ADA", "dave"}, 2},
		{"existing user first", []string{"ada", "bob"}, 0},
		{"within batch", []string{"bob", "Carol", "dave", "CAROL", "erin"}, 3},
		{"within batch last", []string{"bob", "carol", "Bob"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			var batch []*account.User
			for _, name := range tt.names {
				batch = append(batch, h.user(name))
			}
			err := im.ImportUsers(h.ctx, batch)
			if !errors.Is(err, account.ErrUsernameTaken) {
				t.Errorf("ImportUsers(%q) = %v, want an error wrapping ErrUsernameTaken", tt.names, err)
			}
			var ie *account.ImportError
			if !errors.As(err, &ie) {
				t.Errorf("ImportUsers(%q) = %v, want an error wrapping *account.ImportError", tt.names, err)
			} else if ie.Index != tt.index {
				t.Errorf("ImportUsers(%q) failed at index %d, want %d", tt.names, ie.Index, tt.index)
			}
			for i, u := range batch {
				if u.ID != "" {
					t.Errorf("after a failed ImportUsers, batch[%d].ID = %q, want it left empty", i, u.ID)
				}
			}
			list := h.listAll()
			if len(list) != 1 || list[0].ID != existing.ID {
				t.Errorf("after a failed ImportUsers, ListUsers returned %d users, want only %q", len(list), existing.Username)
			}
		})
	}
	// The names of the failed batches are still free.
	if err := im.ImportUsers(h.ctx, []*account.User{h.user("bob"), h.user("carol")}); err != nil {
		t.Errorf("ImportUsers after failed ones = %v, want nil", err)
	}
}

// testDeleteUser checks that a deleted user, their remember-me tokens and
// API tokens are gone, that the username is free again, that the ID is
// not issued again, and that other users keep theirs.
func testDeleteUser(t *testing.T, h *harness) {
	d := h.Users.(account.Deleter)
	u := h.create(h.user("Ada"))
	other := h.create(h.user("Bob"))
	var sels []string
	var hashes [][]byte
	if h.Remember != nil {
		sels = append(sels, h.createRemember(h.rememberToken(u.ID)).Selector)
		keep := h.createRemember(h.rememberToken(other.ID))
		defer h.mustRemember(keep.Selector, h.now)
	}
	if h.Tokens != nil {
		hashes = append(hashes, h.createToken(h.apiToken(u.ID, "ci")).Hash)
		keep := h.createToken(h.apiToken(other.ID, "ci"))
		defer h.mustToken(keep.Hash, h.now)
	}

	if err := d.DeleteUser(h.ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser(%q) = %v, want nil", u.ID, err)
	}
	if got, err := h.Users.UserByID(h.ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("after DeleteUser, UserByID(%q) = %v, %v; want ErrNotFound", u.ID, got, err)
	}
	if got, err := h.Users.UserByUsername(h.ctx, "ada"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("after DeleteUser, UserByUsername(%q) = %v, %v; want ErrNotFound", "ada", got, err)
	}
	for _, sel := range sels {
		h.mustNotRemember(sel, h.now)
	}
	for _, hash := range hashes {
		if tok, err := h.Tokens.TokenByHash(h.ctx, hash, h.now); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("after DeleteUser, TokenByHash of the user's token = %v, %v; want ErrNotFound", tok, err)
		}
	}
	if h.Tokens != nil {
		if list, err := h.Tokens.ListTokens(h.ctx, u.ID); err != nil || len(list) != 0 {
			t.Errorf("after DeleteUser, ListTokens(%q) = %d tokens, %v; want none", u.ID, len(list), err)
		}
	}
	list := h.listAll()
	if len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("after DeleteUser, ListUsers = %d users, want only %q", len(list), other.Username)
	}
	checkUser(t, "after DeleteUser of another user, UserByID", h.mustUser(other.ID), other)
	if page, err := h.Users.ListUsers(h.ctx, account.ListOptions{After: u.ID}); err != nil || len(page) != 1 || page[0].ID != other.ID {
		t.Errorf("ListUsers(After the deleted %q) = %d users, %v; want %q, the next one", u.ID, len(page), err, other.Username)
	}

	if err := d.DeleteUser(h.ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteUser(%q) again = %v, want ErrNotFound", u.ID, err)
	}
	for _, id := range oddIDs(u.ID) {
		if err := d.DeleteUser(h.ctx, id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeleteUser(%q) = %v, want ErrNotFound", id, err)
		}
	}
	again := h.create(h.user("ADA"))
	if again.ID == u.ID {
		t.Errorf("CreateUser after DeleteUser reused the ID %q", u.ID)
	}
}

// owner creates a user to own tokens and returns its ID.
func (h *harness) owner(name string) string {
	h.t.Helper()
	return h.create(h.user(name)).ID
}

// rememberToken returns a remember-me token of userID created at h.now
// that expires in 30 days.
func (h *harness) rememberToken(userID string) *account.RememberToken {
	return &account.RememberToken{
		Selector:      rand.Text(),
		ValidatorHash: digest(rand.Text()),
		UserID:        userID,
		CreatedAt:     h.now,
		ExpiresAt:     h.now.Add(30 * 24 * time.Hour),
	}
}

func cloneRemember(t *account.RememberToken) *account.RememberToken {
	c := *t
	c.ValidatorHash = slices.Clone(t.ValidatorHash)
	c.PrevHash = slices.Clone(t.PrevHash)
	return &c
}

func (h *harness) createRemember(t *account.RememberToken) *account.RememberToken {
	h.t.Helper()
	if err := h.Remember.CreateRemember(h.ctx, t); err != nil {
		h.t.Fatalf("CreateRemember(%q) = %v, want nil", t.Selector, err)
	}
	return cloneRemember(t)
}

func (h *harness) mustRemember(selector string, now time.Time) *account.RememberToken {
	h.t.Helper()
	t, err := h.Remember.RememberBySelector(h.ctx, selector, now)
	if err != nil || t == nil {
		h.t.Fatalf("RememberBySelector(%q, %v) = %v, %v; want a token", selector, now, t, err)
	}
	return t
}

func (h *harness) mustNotRemember(selector string, now time.Time) {
	h.t.Helper()
	if t, err := h.Remember.RememberBySelector(h.ctx, selector, now); !errors.Is(err, account.ErrNotFound) {
		h.t.Errorf("RememberBySelector(%.80q, %v) = %v, %v; want ErrNotFound", selector, now, t, err)
	}
}

func checkRemember(t *testing.T, what string, got, want *account.RememberToken) {
	t.Helper()
	if got.Selector != want.Selector {
		t.Errorf("%s.Selector = %q, want %q", what, got.Selector, want.Selector)
	}
	if got.UserID != want.UserID {
		t.Errorf("%s.UserID = %q, want %q", what, got.UserID, want.UserID)
	}
	if !slices.Equal(got.ValidatorHash, want.ValidatorHash) {
		t.Errorf("%s.ValidatorHash = %x, want %x", what, got.ValidatorHash, want.ValidatorHash)
	}
	if !slices.Equal(got.PrevHash, want.PrevHash) {
		t.Errorf("%s.PrevHash = %x, want %x", what, got.PrevHash, want.PrevHash)
	}
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, what+".RotatedAt", got.RotatedAt, want.RotatedAt)
}

func testRememberRoundTrip(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tests := []struct {
		name string
		edit func(r *account.RememberToken)
	}{
		{"new", func(r *account.RememberToken) {}},
		{"rotated before", func(r *account.RememberToken) {
			r.PrevHash, r.RotatedAt = digest("previous"), h.now.Add(-time.Minute)
		}},
		{"odd bytes", func(r *account.RememberToken) {
			r.ValidatorHash = []byte{0, 0, 0xff, 0, '\'', '"', 0x80}
			r.PrevHash = []byte{0}
		}},
		{"odd selector", func(r *account.RememberToken) { r.Selector = `sel'"%_;` + rand.Text() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			r := h.rememberToken(uid)
			tt.edit(r)
			want := h.createRemember(r)
			checkRemember(t, fmt.Sprintf("RememberBySelector(%q)", r.Selector), h.mustRemember(r.Selector, h.now), want)
		})
	}
	// Selectors are case-sensitive: they are random, not names.
	r := h.rememberToken(uid)
	r.Selector = "AbCdEf" + r.Selector
	h.createRemember(r)
	h.mustNotRemember(strings.ToLower(r.Selector), h.now)
	h.mustNotRemember(strings.ToUpper(r.Selector), h.now)
}

func testRememberExpiry(t *testing.T, h *harness) {
	r := h.rememberToken(h.owner("Ada"))
	want := h.createRemember(r)
	checkRemember(t, "RememberBySelector a second before expiry", h.mustRemember(r.Selector, r.ExpiresAt.Add(-time.Second)), want)
	checkRemember(t, "RememberBySelector before creation", h.mustRemember(r.Selector, r.CreatedAt.Add(-time.Hour)), want)
	h.mustNotRemember(r.Selector, r.ExpiresAt)
	h.mustNotRemember(r.Selector, r.ExpiresAt.Add(time.Second))
	h.mustNotRemember(r.Selector, r.ExpiresAt.Add(1000*time.Hour))
}

func testRememberUnknown(t *testing.T, h *harness) {
	r := h.createRemember(h.rememberToken(h.owner("Ada")))
	for _, sel := range []string{"", " ", "%", "_", rand.Text(), r.Selector + " ", r.Selector[1:], r.Selector + "\x00", strings.Repeat("s", 10000)} {
		h.mustNotRemember(sel, h.now)
	}
}

func testRotate(t *testing.T, h *harness) {
	r := h.rememberToken(h.owner("Ada"))
	want := h.createRemember(r)
	other := h.createRemember(h.rememberToken(want.UserID))

	// Rotations may extend or shorten the token's life.
	for i, exp := range []time.Duration{40 * 24 * time.Hour, time.Hour} {
		now := h.now.Add(time.Duration(i+1) * time.Minute)
		newHash := digest(fmt.Sprint("new", i))
		if err := h.Remember.RotateRemember(h.ctx, r.Selector, want.ValidatorHash, newHash, now, now.Add(exp)); err != nil {
			t.Fatalf("RotateRemember #%d with the stored digest = %v, want nil", i+1, err)
		}
		want.PrevHash, want.ValidatorHash = want.ValidatorHash, newHash
		want.RotatedAt, want.ExpiresAt = now, now.Add(exp)
		checkRemember(t, fmt.Sprintf("after RotateRemember #%d, RememberBySelector", i+1), h.mustRemember(r.Selector, now), want)
	}
	checkRemember(t, "after rotating another token, RememberBySelector", h.mustRemember(other.Selector, h.now), other)
	h.mustNotRemember(r.Selector, want.ExpiresAt)
}

func testRotateStale(t *testing.T, h *harness) {
	r := h.rememberToken(h.owner("Ada"))
	want := h.createRemember(r)
	now := h.now.Add(time.Minute)
	if err := h.Remember.RotateRemember(h.ctx, r.Selector, r.ValidatorHash, digest("new"), now, now.Add(time.Hour)); err != nil {
		t.Fatalf("RotateRemember = %v", err)
	}
	want.PrevHash, want.ValidatorHash, want.RotatedAt, want.ExpiresAt = want.ValidatorHash, digest("new"), now, now.Add(time.Hour)

	later := now.Add(time.Minute)
	for _, old := range [][]byte{r.ValidatorHash, nil, {}, digest("other"), digest("new")[:31]} {
		err := h.Remember.RotateRemember(h.ctx, r.Selector, old, digest("newer"), later, later.Add(24*time.Hour))
		if !errors.Is(err, account.ErrConflict) {
			t.Errorf("RotateRemember from a stale digest %x = %v, want ErrConflict", old, err)
		}
	}
	checkRemember(t, "after stale RotateRemembers, RememberBySelector", h.mustRemember(r.Selector, later), want)
}

func testRotateGone(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	rotate := func(r *account.RememberToken, now time.Time) error {
		return h.Remember.RotateRemember(h.ctx, r.Selector, r.ValidatorHash, digest("new"), now, now.Add(time.Hour))
	}

	never := h.rememberToken(uid)
	if err := rotate(never, h.now); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("RotateRemember of a token never created = %v, want ErrNotFound", err)
	}
	h.mustNotRemember(never.Selector, h.now) // and not created

	deleted := h.createRemember(h.rememberToken(uid))
	if err := h.Remember.DeleteRemember(h.ctx, deleted.Selector); err != nil {
		t.Fatal(err)
	}
	if err := rotate(deleted, h.now); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("RotateRemember of a deleted token = %v, want ErrNotFound", err)
	}
	h.mustNotRemember(deleted.Selector, h.now)

	expired := h.createRemember(h.rememberToken(uid))
	if err := rotate(expired, expired.ExpiresAt); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("RotateRemember of a token at its expiry = %v, want ErrNotFound", err)
	}
	if err := rotate(expired, expired.ExpiresAt.Add(time.Hour)); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("RotateRemember of an expired token = %v, want ErrNotFound", err)
	}
	// Nothing changed: seen from before its expiry, it is as created.
	checkRemember(t, "after RotateRemember of the expired token, RememberBySelector", h.mustRemember(expired.Selector, h.now), expired)
}

func testConcurrentRotate(t *testing.T, h *harness) {
	const n = 20
	r := h.rememberToken(h.owner("Ada"))
	want := h.createRemember(r)
	now := h.now.Add(time.Minute)
	errs := race(n, func(i int) error {
		return h.Remember.RotateRemember(h.ctx, r.Selector, r.ValidatorHash, digest(fmt.Sprint(i)), now, now.Add(time.Hour))
	})
	if w := checkOneWins(t, fmt.Sprintf("%d concurrent RotateRemember from one digest", n), errs, account.ErrConflict); w >= 0 {
		want.PrevHash, want.ValidatorHash = want.ValidatorHash, digest(fmt.Sprint(w))
		want.RotatedAt, want.ExpiresAt = now, now.Add(time.Hour)
		checkRemember(t, "after concurrent RotateRemember, RememberBySelector", h.mustRemember(r.Selector, now), want)
	}
}

func testRememberDelete(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	a := h.createRemember(h.rememberToken(uid))
	b := h.createRemember(h.rememberToken(uid))
	if err := h.Remember.DeleteRemember(h.ctx, a.Selector); err != nil {
		t.Fatalf("DeleteRemember = %v, want nil", err)
	}
	h.mustNotRemember(a.Selector, h.now)
	checkRemember(t, "RememberBySelector of the other token", h.mustRemember(b.Selector, h.now), b)
	for _, sel := range []string{a.Selector, rand.Text(), ""} {
		if err := h.Remember.DeleteRemember(h.ctx, sel); err != nil {
			t.Errorf("DeleteRemember(%q) of a missing token = %v, want nil", sel, err)
		}
	}
	// An expired token can be deleted too; seen from before its expiry,
	// it is gone.
	c := h.rememberToken(uid)
	c.ExpiresAt = h.now.Add(time.Second)
	h.createRemember(c)
	if err := h.Remember.DeleteRemember(h.ctx, c.Selector); err != nil {
		t.Errorf("DeleteRemember of an expired token = %v, want nil", err)
	}
	h.mustNotRemember(c.Selector, h.now)
}

func testRememberDeleteByUser(t *testing.T, h *harness) {
	alice, bob := h.owner("alice"), h.owner("bob")
	var aliceTokens, bobTokens []*account.RememberToken
	for range 3 {
		aliceTokens = append(aliceTokens, h.createRemember(h.rememberToken(alice)))
	}
	for range 2 {
		bobTokens = append(bobTokens, h.createRemember(h.rememberToken(bob)))
	}
	if n, err := h.Remember.DeleteRememberByUser(h.ctx, alice); err != nil || n != len(aliceTokens) {
		t.Errorf("DeleteRememberByUser(alice) = %d, %v; want %d, nil", n, err, len(aliceTokens))
	}
	for _, r := range aliceTokens {
		h.mustNotRemember(r.Selector, h.now)
	}
	for _, r := range bobTokens {
		checkRemember(t, "RememberBySelector of bob's token", h.mustRemember(r.Selector, h.now), r)
	}
	for _, uid := range []string{alice, "", "not-an-id", "0" + bob, strings.Repeat("9", 40)} {
		if n, err := h.Remember.DeleteRememberByUser(h.ctx, uid); err != nil || n != 0 {
			t.Errorf("DeleteRememberByUser(%q) = %d, %v; want 0, nil", uid, n, err)
		}
	}
	for _, r := range bobTokens {
		h.mustRemember(r.Selector, h.now)
	}
}

func testRememberNotAliased(t *testing.T, h *harness) {
	r := h.rememberToken(h.owner("Ada"))
	want := h.createRemember(r)
	r.ValidatorHash[0] ^= 0xff
	r.ExpiresAt = h.now
	got := h.mustRemember(r.Selector, h.now)
	checkRemember(t, "after changing the created token, RememberBySelector", got, want)
	got.ValidatorHash[0] ^= 0xff
	checkRemember(t, "after changing a returned token, RememberBySelector", h.mustRemember(r.Selector, h.now), want)

	newHash := digest("new")
	now := h.now.Add(time.Minute)
	if err := h.Remember.RotateRemember(h.ctx, r.Selector, slices.Clone(want.ValidatorHash), newHash, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want.PrevHash, want.ValidatorHash = want.ValidatorHash, slices.Clone(newHash)
	want.RotatedAt, want.ExpiresAt = now, now.Add(time.Hour)
	newHash[0] ^= 0xff
	got = h.mustRemember(r.Selector, now)
	checkRemember(t, "after changing the digest given to RotateRemember, RememberBySelector", got, want)
	got.PrevHash[0] ^= 0xff
	checkRemember(t, "after changing a returned PrevHash, RememberBySelector", h.mustRemember(r.Selector, now), want)
}

func testRememberCancelled(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	r := h.rememberToken(uid)
	want := h.createRemember(r)
	fresh := h.rememberToken(uid)
	for _, c := range h.contexts() {
		t.Run(c.name, func(t *testing.T) {
			check := checker(t, c.name, c.want)
			check("CreateRemember", h.Remember.CreateRemember(c.ctx, fresh))
			_, err := h.Remember.RememberBySelector(c.ctx, r.Selector, h.now)
			check("RememberBySelector", err)
			check("RotateRemember", h.Remember.RotateRemember(c.ctx, r.Selector, r.ValidatorHash, digest("x"), h.now, h.now.Add(time.Hour)))
			check("DeleteRemember", h.Remember.DeleteRemember(c.ctx, r.Selector))
			_, err = h.Remember.DeleteRememberByUser(c.ctx, uid)
			check("DeleteRememberByUser", err)
			_, err = h.Remember.DeleteRememberByUser(c.ctx, "not-an-id")
			check(`DeleteRememberByUser("not-an-id")`, err)
		})
	}
	checkRemember(t, "RememberBySelector", h.mustRemember(r.Selector, h.now), want)
	h.mustNotRemember(fresh.Selector, h.now)
}

// apiToken returns an API token of userID named name, created at h.now,
// that expires in 90 days.
func (h *harness) apiToken(userID, name string) *account.APIToken {
	return &account.APIToken{
		UserID:    userID,
		Name:      name,
		Hash:      digest(rand.Text()),
		CreatedAt: h.now,
		ExpiresAt: h.now.Add(90 * 24 * time.Hour),
		Scopes:    []string{"read"},
	}
}

func cloneToken(t *account.APIToken) *account.APIToken {
	c := *t
	c.Hash = slices.Clone(t.Hash)
	c.Scopes = slices.Clone(t.Scopes)
	return &c
}

func (h *harness) createToken(t *account.APIToken) *account.APIToken {
	h.t.Helper()
	if err := h.Tokens.CreateToken(h.ctx, t); err != nil {
		h.t.Fatalf("CreateToken(%q) = %v, want nil", t.Name, err)
	}
	if t.ID == "" {
		h.t.Fatalf("CreateToken(%q) left ID empty", t.Name)
	}
	return cloneToken(t)
}

func (h *harness) mustToken(hash []byte, now time.Time) *account.APIToken {
	h.t.Helper()
	t, err := h.Tokens.TokenByHash(h.ctx, hash, now)
	if err != nil || t == nil {
		h.t.Fatalf("TokenByHash(%x, %v) = %v, %v; want a token", hash, now, t, err)
	}
	return t
}

func (h *harness) mustNotToken(hash []byte, now time.Time) {
	h.t.Helper()
	if t, err := h.Tokens.TokenByHash(h.ctx, hash, now); !errors.Is(err, account.ErrNotFound) {
		h.t.Errorf("TokenByHash(%x, %v) = %v, %v; want ErrNotFound", hash, now, t, err)
	}
}

func (h *harness) listTokens(userID string) []*account.APIToken {
	h.t.Helper()
	l, err := h.Tokens.ListTokens(h.ctx, userID)
	if err != nil {
		h.t.Fatalf("ListTokens(%q) = %v, want nil error", userID, err)
	}
	return l
}

func checkToken(t *testing.T, what string, got, want *account.APIToken) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s.ID = %q, want %q", what, got.ID, want.ID)
	}
	if got.UserID != want.UserID {
		t.Errorf("%s.UserID = %q, want %q", what, got.UserID, want.UserID)
	}
	if got.Name != want.Name {
		t.Errorf("%s.Name = %q, want %q", what, got.Name, want.Name)
	}
	if !slices.Equal(got.Hash, want.Hash) {
		t.Errorf("%s.Hash = %x, want %x", what, got.Hash, want.Hash)
	}
	checkTime(t, what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+".ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, what+".LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("%s.Scopes = %q, want %q", what, got.Scopes, want.Scopes)
	}
}

func tokenIDs(ts []*account.APIToken) []string {
	var s []string
	for _, t := range ts {
		s = append(s, t.ID)
	}
	return s
}

func testTokenCreateAssignsID(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	a := h.createToken(h.apiToken(uid, "a"))
	b := h.createToken(h.apiToken(uid, "b"))
	if a.ID == b.ID {
		t.Errorf("CreateToken gave two tokens the same ID %q", a.ID)
	}
	checkToken(t, "TokenByHash(a)", h.mustToken(a.Hash, h.now), a)
	checkToken(t, "TokenByHash(b)", h.mustToken(b.Hash, h.now), b)
}

func testTokenRoundTrip(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tests := []struct {
		name string
		edit func(tok *account.APIToken)
	}{
		{"plain", func(tok *account.APIToken) {}},
		{"never expires", func(tok *account.APIToken) { tok.ExpiresAt = time.Time{} }},
		{"used", func(tok *account.APIToken) { tok.LastUsedAt = h.now.Add(time.Second) }},
		{"no name", func(tok *account.APIToken) { tok.Name = "" }},
		{"odd name", func(tok *account.APIToken) { tok.Name = `déploiement 'prod'; "ci" 🚀` }},
		{"odd hash", func(tok *account.APIToken) { tok.Hash = []byte{0, 0, '\'', 0xff, 0} }},
		{"all scopes", func(tok *account.APIToken) { tok.Scopes = []string{"read", "write", "admin"} }},
		{"no scopes", func(tok *account.APIToken) { tok.Scopes = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t)
			tok := h.apiToken(uid, tt.name)
			tt.edit(tok)
			want := h.createToken(tok)
			checkToken(t, "TokenByHash", h.mustToken(tok.Hash, h.now), want)
		})
	}
}

// Scopes are kept as given, in order, by TokenByHash and ListTokens alike,
// and tokens of one user keep their own.
func testTokenScopes(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	var want []*account.APIToken
	for i, scopes := range [][]string{{"read"}, {"write", "admin"}, {"admin", "read", "write"}, nil} {
		tok := h.apiToken(uid, fmt.Sprint("t", i))
		tok.CreatedAt = h.now.Add(time.Duration(i) * time.Second)
		tok.Scopes = scopes
		want = append(want, h.createToken(tok))
	}
	for _, w := range want {
		got := h.mustToken(w.Hash, h.now)
		checkToken(t, fmt.Sprintf("TokenByHash(%s)", w.Name), got, w)
		for _, scope := range []string{"read", "write", "admin"} {
			if got.HasScope(scope) != slices.Contains(w.Scopes, scope) {
				t.Errorf("TokenByHash(%s).HasScope(%q) = %v, want %v", w.Name, scope, got.HasScope(scope), !got.HasScope(scope))
			}
		}
	}
	l := h.listTokens(uid)
	if len(l) != len(want) {
		t.Fatalf("ListTokens = %d tokens, want %d", len(l), len(want))
	}
	for i, got := range l {
		w := want[len(want)-1-i] // newest first
		checkToken(t, fmt.Sprintf("ListTokens[%d]", i), got, w)
	}
}

func testTokenExpiry(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tok := h.apiToken(uid, "short")
	tok.ExpiresAt = h.now.Add(time.Hour)
	want := h.createToken(tok)
	checkToken(t, "TokenByHash a second before expiry", h.mustToken(tok.Hash, tok.ExpiresAt.Add(-time.Second)), want)
	h.mustNotToken(tok.Hash, tok.ExpiresAt)
	h.mustNotToken(tok.Hash, tok.ExpiresAt.Add(time.Hour))
	// Listed all the same, until deleted.
	if l := h.listTokens(uid); len(l) != 1 || l[0].ID != want.ID {
		t.Errorf("ListTokens after expiry = %q, want [%q]", tokenIDs(l), want.ID)
	}
}

func testTokenNeverExpires(t *testing.T, h *harness) {
	tok := h.apiToken(h.owner("Ada"), "forever")
	tok.ExpiresAt = time.Time{}
	want := h.createToken(tok)
	for _, now := range []time.Time{h.now, h.now.AddDate(100, 0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		got := h.mustToken(tok.Hash, now)
		checkToken(t, fmt.Sprintf("TokenByHash at %v", now), got, want)
	}
}

func testTokenUnknown(t *testing.T, h *harness) {
	tok := h.createToken(h.apiToken(h.owner("Ada"), "a"))
	flipped := slices.Clone(tok.Hash)
	flipped[len(flipped)-1] ^= 1
	for _, hash := range [][]byte{nil, {}, digest("other"), flipped, tok.Hash[:16], append(slices.Clone(tok.Hash), 0)} {
		h.mustNotToken(hash, h.now)
	}
}

func testListTokens(t *testing.T, h *harness) {
	alice, bob := h.owner("alice"), h.owner("bob")
	if l := h.listTokens(alice); len(l) != 0 {
		t.Errorf("ListTokens of a user without tokens = %q, want none", tokenIDs(l))
	}
	// Created out of order, so that newest-first is by CreatedAt.
	var want []*account.APIToken
	for _, d := range []time.Duration{time.Minute, 0, 3 * time.Minute, 2 * time.Minute} {
		tok := h.apiToken(alice, fmt.Sprint("at +", d))
		tok.CreatedAt = h.now.Add(d)
		switch d {
		case time.Minute:
			tok.ExpiresAt = tok.CreatedAt.Add(time.Second) // long expired
		case 0:
			tok.ExpiresAt = time.Time{}
		}
		want = append(want, h.createToken(tok))
	}
	h.createToken(h.apiToken(bob, "bob's"))
	slices.SortFunc(want, func(a, b *account.APIToken) int { return b.CreatedAt.Compare(a.CreatedAt) })

	got := h.listTokens(alice)
	if !slices.Equal(tokenIDs(got), tokenIDs(want)) {
		t.Fatalf("ListTokens(alice) = %q, want %q (newest first, expired ones included)", tokenIDs(got), tokenIDs(want))
	}
	for i := range got {
		checkToken(t, fmt.Sprintf("ListTokens(alice)[%d]", i), got[i], want[i])
	}
	if l := h.listTokens(bob); len(l) != 1 || l[0].UserID != bob {
		t.Errorf("ListTokens(bob) = %q, want bob's one token", tokenIDs(l))
	}
	for _, uid := range []string{"", "not-an-id", "0" + alice, alice + " "} {
		if l := h.listTokens(uid); len(l) != 0 {
			t.Errorf("ListTokens(%q) = %q, want none", uid, tokenIDs(l))
		}
	}
}

func testTouchToken(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tok := h.apiToken(uid, "a")
	want := h.createToken(tok)
	other := h.createToken(h.apiToken(uid, "b"))
	for _, d := range []time.Duration{time.Minute, time.Hour} {
		at := h.now.Add(d)
		if err := h.Tokens.TouchToken(h.ctx, tok.ID, at); err != nil {
			t.Fatalf("TouchToken(%q) = %v, want nil", tok.ID, err)
		}
		want.LastUsedAt = at
		checkToken(t, "after TouchToken, TokenByHash", h.mustToken(tok.Hash, h.now), want)
	}
	checkToken(t, "after touching another token, TokenByHash", h.mustToken(other.Hash, h.now), other)
	if l := h.listTokens(uid); len(l) != 2 {
		t.Errorf("ListTokens = %q, want 2 tokens", tokenIDs(l))
	}

	// A token deleted between TokenByHash and TouchToken is no error.
	gone := h.createToken(h.apiToken(uid, "gone"))
	if err := h.Tokens.DeleteToken(h.ctx, uid, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(oddIDs(tok.ID), gone.ID) {
		if err := h.Tokens.TouchToken(h.ctx, id, h.now); err != nil {
			t.Errorf("TouchToken(%q) of a missing token = %v, want nil", id, err)
		}
	}
	h.mustNotToken(gone.Hash, h.now)
	checkToken(t, "after TouchToken of missing tokens, TokenByHash", h.mustToken(tok.Hash, h.now), want)
}

func testDeleteToken(t *testing.T, h *harness) {
	alice, bob := h.owner("alice"), h.owner("bob")
	a1 := h.createToken(h.apiToken(alice, "a1"))
	a2 := h.createToken(h.apiToken(alice, "a2"))
	b1 := h.createToken(h.apiToken(bob, "b1"))

	if err := h.Tokens.DeleteToken(h.ctx, alice, a1.ID); err != nil {
		t.Fatalf("DeleteToken(alice, a1) = %v, want nil", err)
	}
	h.mustNotToken(a1.Hash, h.now)
	if l := h.listTokens(alice); !slices.Equal(tokenIDs(l), []string{a2.ID}) {
		t.Errorf("after DeleteToken, ListTokens(alice) = %q, want [%q]", tokenIDs(l), a2.ID)
	}
	if err := h.Tokens.DeleteToken(h.ctx, alice, a1.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("second DeleteToken(alice, a1) = %v, want ErrNotFound", err)
	}

	// Another user's token is not alice's to delete.
	if err := h.Tokens.DeleteToken(h.ctx, alice, b1.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteToken(alice, bob's token) = %v, want ErrNotFound", err)
	}
	checkToken(t, "TokenByHash of bob's token", h.mustToken(b1.Hash, h.now), b1)
	for _, uid := range []string{"", "not-an-id", "0" + bob} {
		if err := h.Tokens.DeleteToken(h.ctx, uid, b1.ID); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeleteToken(%q, bob's token) = %v, want ErrNotFound", uid, err)
		}
	}
	for _, id := range oddIDs(a2.ID) {
		if err := h.Tokens.DeleteToken(h.ctx, alice, id); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("DeleteToken(alice, %q) = %v, want ErrNotFound", id, err)
		}
	}
	h.mustToken(a2.Hash, h.now)
	h.mustToken(b1.Hash, h.now)
}

func testDeleteTokensByUser(t *testing.T, h *harness) {
	alice, bob := h.owner("alice"), h.owner("bob")
	var aliceTokens []*account.APIToken
	for i := range 3 {
		tok := h.apiToken(alice, fmt.Sprint(i))
		if i == 0 {
			tok.ExpiresAt = h.now.Add(time.Second) // expired ones count too
		}
		aliceTokens = append(aliceTokens, h.createToken(tok))
	}
	b := h.createToken(h.apiToken(bob, "b"))
	later := h.now.Add(time.Minute)
	if n, err := h.Tokens.DeleteTokensByUser(h.ctx, alice); err != nil || n != len(aliceTokens) {
		t.Errorf("DeleteTokensByUser(alice) = %d, %v; want %d, nil", n, err, len(aliceTokens))
	}
	for _, tok := range aliceTokens {
		h.mustNotToken(tok.Hash, h.now)
	}
	if l := h.listTokens(alice); len(l) != 0 {
		t.Errorf("after DeleteTokensByUser, ListTokens(alice) = %q, want none", tokenIDs(l))
	}
	checkToken(t, "TokenByHash of bob's token", h.mustToken(b.Hash, later), b)
	for _, uid := range []string{alice, "", "not-an-id", "0" + bob} {
		if n, err := h.Tokens.DeleteTokensByUser(h.ctx, uid); err != nil || n != 0 {
			t.Errorf("DeleteTokensByUser(%q) = %d, %v; want 0, nil", uid, n, err)
		}
	}
	h.mustToken(b.Hash, later)
}

func testTokenNotAliased(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tok := h.apiToken(uid, "a")
	want := h.createToken(tok)
	tok.Hash[0] ^= 0xff
	tok.Name, tok.UserID = "changed", "other"
	tok.Scopes[0] = "admin"
	got := h.mustToken(want.Hash, h.now)
	checkToken(t, "after changing the created token, TokenByHash", got, want)
	got.Hash[0] ^= 0xff
	got.Name = "changed"
	got.Scopes[0] = "admin"
	l := h.listTokens(uid)
	l[0].Hash[1] ^= 0xff
	l[0].Name = "changed"
	l[0].Scopes[0] = "admin"
	checkToken(t, "after changing returned tokens, TokenByHash", h.mustToken(want.Hash, h.now), want)
	checkToken(t, "after changing returned tokens, ListTokens[0]", h.listTokens(uid)[0], want)
}

func testTokensConcurrent(t *testing.T, h *harness) {
	const n = 8
	uid := h.owner("Ada")
	errs := race(n, func(i int) error {
		tok := h.apiToken(uid, fmt.Sprint(i))
		if err := h.Tokens.CreateToken(h.ctx, tok); err != nil {
			return fmt.Errorf("CreateToken = %v", err)
		}
		for j := range 5 {
			got, err := h.Tokens.TokenByHash(h.ctx, tok.Hash, h.now)
			if err != nil || got.ID != tok.ID {
				return fmt.Errorf("TokenByHash of token %q = %v, %v", tok.ID, got, err)
			}
			if err := h.Tokens.TouchToken(h.ctx, tok.ID, h.now.Add(time.Duration(j)*time.Second)); err != nil {
				return fmt.Errorf("TouchToken(%q) = %v", tok.ID, err)
			}
			if _, err := h.Tokens.ListTokens(h.ctx, uid); err != nil {
				return fmt.Errorf("ListTokens = %v", err)
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	l := h.listTokens(uid)
	if len(l) != n {
		t.Errorf("after %d concurrent CreateToken, ListTokens = %d tokens, want %d", n, len(l), n)
	}
	for _, tok := range l {
		checkTime(t, fmt.Sprintf("token %q LastUsedAt", tok.ID), tok.LastUsedAt, h.now.Add(4*time.Second))
	}
	if n2, err := h.Tokens.DeleteTokensByUser(h.ctx, uid); err != nil || n2 != n {
		t.Errorf("DeleteTokensByUser = %d, %v; want %d, nil", n2, err, n)
	}
}

func testTokensCancelled(t *testing.T, h *harness) {
	uid := h.owner("Ada")
	tok := h.apiToken(uid, "a")
	want := h.createToken(tok)
	fresh := h.apiToken(uid, "fresh")
	for _, c := range h.contexts() {
		t.Run(c.name, func(t *testing.T) {
			check := checker(t, c.name, c.want)
			check("CreateToken", h.Tokens.CreateToken(c.ctx, fresh))
			_, err := h.Tokens.TokenByHash(c.ctx, tok.Hash, h.now)
			check("TokenByHash", err)
			_, err = h.Tokens.ListTokens(c.ctx, uid)
			check("ListTokens", err)
			_, err = h.Tokens.ListTokens(c.ctx, "not-an-id")
			check(`ListTokens("not-an-id")`, err)
			check("TouchToken", h.Tokens.TouchToken(c.ctx, tok.ID, h.now.Add(time.Hour)))
			check(`TouchToken("not-an-id")`, h.Tokens.TouchToken(c.ctx, "not-an-id", h.now.Add(time.Hour)))
			check("DeleteToken", h.Tokens.DeleteToken(c.ctx, uid, tok.ID))
			check(`DeleteToken("not-an-id")`, h.Tokens.DeleteToken(c.ctx, uid, "not-an-id"))
			_, err = h.Tokens.DeleteTokensByUser(c.ctx, uid)
			check("DeleteTokensByUser", err)
		})
	}
	checkToken(t, "TokenByHash", h.mustToken(tok.Hash, h.now), want)
	h.mustNotToken(fresh.Hash, h.now)
}

// foreignUserIDs are IDs of users that an app's own user table keeps and
// Users has never seen: a UUID, an email address, a number beyond any
// sequence, text with quotes.
var foreignUserIDs = []string{
	"7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10",
	"ada@example.com",
	"99999999999999999999",
	`o'brien "x" %_`,
}

// Remember-me tokens are kept for any non-empty user ID, whoever keeps
// the user, and found, rotated and revoked by it; an empty one is
// ErrInvalid.
func testRememberForeignUser(t *testing.T, h *harness) {
	for _, uid := range foreignUserIDs {
		want := h.createRemember(h.rememberToken(uid))
		other := h.createRemember(h.rememberToken(uid))
		checkRemember(t, "RememberBySelector", h.mustRemember(want.Selector, h.now), want)
		newHash := digest("rotated " + uid)
		if err := h.Remember.RotateRemember(h.ctx, want.Selector, want.ValidatorHash, newHash, h.now, h.now.Add(time.Hour)); err != nil {
			t.Errorf("RotateRemember of user %q's token = %v", uid, err)
		}
		if n, err := h.Remember.DeleteRememberByUser(h.ctx, uid); err != nil || n != 2 {
			t.Errorf("DeleteRememberByUser(%q) = %d, %v; want 2, nil", uid, n, err)
		}
		h.mustNotRemember(want.Selector, h.now)
		h.mustNotRemember(other.Selector, h.now)
	}
	if err := h.Remember.CreateRemember(h.ctx, h.rememberToken("")); !errors.Is(err, account.ErrInvalid) {
		t.Errorf("CreateRemember with UserID \"\" = %v, want ErrInvalid", err)
	}
}

// API tokens are kept for any non-empty user ID, whoever keeps the user,
// and listed, deleted and revoked by it; an empty one is ErrInvalid.
func testTokensForeignUser(t *testing.T, h *harness) {
	for _, uid := range foreignUserIDs {
		a := h.createToken(h.apiToken(uid, "ci"))
		b := h.createToken(h.apiToken(uid, "deploy"))
		if got := h.mustToken(a.Hash, h.now); got.UserID != uid || got.ID != a.ID {
			t.Errorf("TokenByHash of user %q's token = %+v, want %+v", uid, got, a)
		}
		if list, err := h.Tokens.ListTokens(h.ctx, uid); err != nil || len(list) != 2 {
			t.Errorf("ListTokens(%q) = %d tokens, %v; want 2", uid, len(list), err)
		}
		if err := h.Tokens.DeleteToken(h.ctx, uid, a.ID); err != nil {
			t.Errorf("DeleteToken(%q, %q) = %v", uid, a.ID, err)
		}
		if n, err := h.Tokens.DeleteTokensByUser(h.ctx, uid); err != nil || n != 1 {
			t.Errorf("DeleteTokensByUser(%q) = %d, %v; want 1, nil", uid, n, err)
		}
		h.mustNotToken(a.Hash, h.now)
		h.mustNotToken(b.Hash, h.now)
	}
	if err := h.Tokens.CreateToken(h.ctx, h.apiToken("", "ci")); !errors.Is(err, account.ErrInvalid) {
		t.Errorf("CreateToken with UserID \"\" = %v, want ErrInvalid", err)
	}
}
