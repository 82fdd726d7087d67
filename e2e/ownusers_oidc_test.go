package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/password"
)

// member is a row of an app's own users table.
type member struct {
	ID, Email, Name, Hash string
}

// members is the app's users table, as an account.Source without
// CreateUser: hallpass never creates users in it.
type members struct {
	mu   sync.Mutex
	rows map[string]*member
}

func (m *members) user(row *member) *account.User {
	return &account.User{ID: row.ID, Username: row.Email, Email: row.Email, PasswordHash: row.Hash, Extra: row}
}

func (m *members) UserByID(ctx context.Context, id string) (*account.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if row, ok := m.rows[id]; ok {
		return m.user(row), nil
	}
	return nil, account.ErrNotFound
}

func (m *members) UserByUsername(ctx context.Context, email string) (*account.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, row := range m.rows {
		if strings.EqualFold(row.Email, email) {
			return m.user(row), nil
		}
	}
	return nil, account.ErrNotFound
}

// An app with its own users mounts the sign-in on the library: a member
// logs in with her password, connects her identity at the provider, and
// from then on signs in with it alone; an identity no member connected is
// refused (the app's table cannot be written by hallpass): 403.
func TestE2EOIDCOwnUsers(t *testing.T) {
	ctx := context.Background()
	hash, err := (&password.Hasher{}).Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	users := &members{rows: map[string]*member{"m1": {ID: "m1", Email: "ada@app.example", Name: "Ada Lovelace", Hash: hash}}}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	op := startOP(t, base+"/login/oidc/testop/callback")
	sessions := memstore.NewSessionStore(memstore.SessionOptions{})
	t.Cleanup(func() { sessions.Close() })
	auth, err := hallpass.New(hallpass.Config{Keys: [][]byte{[]byte(testKeys)}, Sessions: sessions, Users: users, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	sso, err := oidc.New(oidc.Config{
		Providers:  []oidc.Provider{{ID: "testop", Label: "Test OP", Issuer: op.URL, ClientID: opClientID, ClientSecret: opClientSecret}},
		BaseURL:    base,
		Login:      auth.LoginManager(),
		Identities: memstore.NewIdentityStore(),
		AfterLogin: "/notes",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sso.Close)
	sso.WaitDiscovery(ctx)

	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post"><input type="hidden" name="csrf_token" value="%s"></form>`, auth.LoginManager().CSRFToken(w, r))
	}
	mux.HandleFunc("GET /login", page)
	mux.HandleFunc("GET /account", page)
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := auth.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
		if err == nil {
			err = auth.Login(w, r, u, false)
		}
		if err != nil {
			auth.Error(w, r, err)
			return
		}
		http.Redirect(w, r, "/notes", http.StatusSeeOther)
	})
	mux.Handle("GET /notes", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Notes of %s", auth.CurrentUser(r).Extra.(*member).Name)
	})))
	sso.Register(mux)
	srv := httptest.NewUnstartedServer(auth.Handler(mux))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	app := &oidcServer{server: &server{URL: base}, op: op}

	// Ada logs in with her password and connects alice@provider.
	b := newBrowser(t)
	resp, body := passwordLogin(t, app, b, "ada@app.example", "correct horse battery")
	wantStatus(t, "ada's password login", resp, body, http.StatusSeeOther)
	resp, body = b.get(b.atProvider(b.start(app, "", true), "alice").String())
	wantStatus(t, "connect", resp, body, http.StatusSeeOther)

	// Another browser signs in with the provider alone.
	b2 := newBrowser(t)
	resp, body = b2.signIn(app, "alice", "")
	wantStatus(t, "sign-in through the connected identity", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/notes" {
		t.Errorf("sign-in redirected to %q, want /notes", loc)
	}
	if resp, body := b2.get(base + "/notes"); resp.StatusCode != http.StatusOK || body != "Notes of Ada Lovelace" {
		t.Errorf("/notes after the sign-in: %d %q, want the app's own member", resp.StatusCode, body)
	}

	// An identity no member connected cannot make an account here.
	b3 := newBrowser(t)
	resp, body = b3.signIn(app, "bob", "")
	wantStatus(t, "first sign-in when the app's Source cannot create users", resp, body, http.StatusForbidden)
	if resp, _ := b3.get(base + "/notes"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/notes after the refused sign-in: %d, want 303 to the login page", resp.StatusCode)
	}
	if len(users.rows) != 1 {
		t.Errorf("the app's table has %d rows, want 1", len(users.rows))
	}
}
