package login

import (
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
)

// TestStateHow checks the login time a session holds, decoded on first
// need: a valid one makes a password login (BySession) with that time;
// anything else a remember-me restore, never fresh. Concurrent askers
// (run with -race) all get the same answer. Without a login time, the
// method follows from the user and the token.
func TestStateHow(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 38, 54, 693448065, time.UTC)
	for _, tt := range []struct {
		name   string
		raw    string
		method Method
		authAt time.Time
	}{
		{"valid", `"2026-11-29T10:38:54.693448065Z"`, BySession, at},
		{"other zone", `"2026-11-29T11:38:54.693448065+01:00"`, BySession, at},
		{"unquoted", `2026-11-29T10:38:54.693448065Z`, ByRemember, time.Time{}},
		{"not a time", `"yesterday"`, ByRemember, time.Time{}},
		{"null", `null`, ByRemember, time.Time{}},
		{"zero time", `"0001-01-01T00:00:00Z"`, ByRemember, time.Time{}},
		{"empty", ``, ByRemember, time.Time{}},
	} {
		st := &state{user: &account.User{ID: "u1"}, authRaw: []byte(tt.raw)}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				m, authAt := st.how()
				if m != tt.method || !authAt.Equal(tt.authAt) {
					t.Errorf("%s: how() = %v, %v; want %v, %v", tt.name, m, authAt, tt.method, tt.authAt)
				}
			})
		}
		wg.Wait()
	}
	// Without a login time, what resolve set tells.
	u := &account.User{ID: "u1"}
	for _, tt := range []struct {
		name string
		st   *state
		want Method
	}{
		{"nobody", &state{}, Anonymous},
		{"user alone", &state{user: u}, ByRemember},
		{"user and token", &state{user: u, token: &account.APIToken{ID: "t1"}}, ByBearer},
	} {
		if m, authAt := tt.st.how(); m != tt.want || !authAt.IsZero() {
			t.Errorf("%s: how() = %v, %v; want %v, zero", tt.name, m, authAt, tt.want)
		}
		if m := tt.st.kind(); m != tt.want {
			t.Errorf("%s: kind() = %v, want %v", tt.name, m, tt.want)
		}
	}
}
