package login_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// The Flask-Login names in Go: login_user is Manager.Login, logout_user is
// Manager.Logout, @login_required is Manager.RequireLogin, and current_user
// is login.CurrentUser.
func Example() {
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, _ := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	users := memstore.NewAccountStore()
	lm, _ := login.New(login.Config{Sessions: sessions, Users: users, Passwords: &password.Hasher{}})
	lm.Register(context.Background(), "ada", "ada@example.com", "correct horse battery")

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, err := lm.Authenticate(r, r.FormValue("username"), r.FormValue("password"))
		if err != nil {
			http.Error(w, "Invalid username or password.", http.StatusUnauthorized)
			return
		}
		lm.Login(w, r, user, false) // login_user(user)
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
	mux.Handle("GET /dashboard", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Welcome %s!", login.CurrentUser(r.Context()).Username) // current_user
	})))
	app := sessions.Middleware(lm.Middleware(mux))

	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))

	rec = httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/login?username=ada&password=correct+horse+battery", nil)
	app.ServeHTTP(rec, req)
	req = httptest.NewRequest("GET", "/dashboard", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 303 /login?next=%2Fdashboard
	// 200 Welcome ada!
}

// appUser is a row of an app's own users table.
type appUser struct {
	ID, Login, PasswordHash, DisplayName string
	Banned                               bool
}

// myUsers is the account.Source of an app that keeps its own users (here
// a map; in an app, two queries on its users table).
type myUsers map[string]*appUser

func (m myUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	for _, u := range m {
		if u.ID == id {
			return &account.User{ID: u.ID, Username: u.Login, Disabled: u.Banned, Extra: u}, nil
		}
	}
	return nil, account.ErrNotFound
}

func (m myUsers) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	u, ok := m[name]
	if !ok {
		return nil, account.ErrNotFound
	}
	return &account.User{ID: u.ID, Username: u.Login, PasswordHash: u.PasswordHash, Disabled: u.Banned, Extra: u}, nil
}

// Your own users, Flask-Login's user_loader: give the Manager an
// account.Source over your own users table. Sessions and remember-me
// tokens stay in hallpass's stores, keyed by your user IDs; your fields
// come back in User.Extra, and a user you ban is logged out on their next
// request.
func Example_ownUsers() {
	ctx := context.Background()
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, _ := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	hasher := &password.Hasher{}
	hash, _ := hasher.Hash(ctx, "correct horse battery")
	users := myUsers{"ada": {ID: "u-7", Login: "ada", PasswordHash: hash, DisplayName: "Ada Lovelace"}}
	lm, _ := login.New(login.Config{Sessions: sessions, Users: users, Passwords: hasher,
		Remember: memstore.NewAccountStore()}) // remember-me tokens, keyed by "u-7"

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, err := lm.Authenticate(r, r.FormValue("username"), r.FormValue("password"))
		if err != nil {
			http.Error(w, "Invalid username or password.", http.StatusUnauthorized)
			return
		}
		lm.Login(w, r, user, true)
	})
	mux.Handle("GET /", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := login.CurrentUser(r.Context()).Extra.(*appUser)
		fmt.Fprintf(w, "Hello, %s!", me.DisplayName)
	})))
	app := sessions.Middleware(lm.Middleware(mux))

	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/login?username=ada&password=correct+horse+battery", nil))
	cookies := rec.Result().Cookies()
	get := func() {
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); loc != "" {
			fmt.Println(rec.Code, "to", loc)
			return
		}
		fmt.Println(rec.Code, rec.Body.String())
	}
	get()
	users["ada"].Banned = true // in your own table
	get()
	// Output:
	// 200 Hello, Ada Lovelace!
	// 303 to /login
}
