package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
)

// The Flask session, in Go: put values in one request, read them in the
// next. Only the cookie's token travels; the values stay on the server.
func Example() {
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, err := session.New(session.Config{
		Store: store,
		Keys:  [][]byte{[]byte("a secret key of at least 32 bytes!")},
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Put("cart", []string{"apple", "pear"})
		s.AddFlash("success", "Added to your cart.")
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		var cart []string
		s.Get("cart", &cart)
		for _, f := range s.Flashes() {
			fmt.Fprintln(w, f.Message)
		}
		fmt.Fprintln(w, strings.Join(cart, ", "))
	})
	app := sessions.Middleware(mux)

	// First request: the session is created and its cookie set.
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/cart", nil))
	cookie := rec.Result().Cookies()[0]

	// Second request, with the cookie: the values are back.
	req := httptest.NewRequest("GET", "/cart", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	fmt.Print(rec.Body.String())
	// Output:
	// Added to your cart.
	// apple, pear
}

// Renew on login: the user gets a new token, and a token an attacker may
// have planted or seen before the login is dead.
func ExampleSession_SetUser() {
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, _ := session.New(session.Config{
		Store: store,
		Keys:  [][]byte{[]byte("a secret key of at least 32 bytes!")},
	})
	app := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		before := s.ID()
		if err := s.SetUser("42"); err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		fmt.Println("user:", s.UserID())
		fmt.Println("new ID:", s.ID() != before)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	// Output:
	// user: 42
	// new ID: true
}
