package login_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

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
