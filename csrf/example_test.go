package csrf_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/hallpass/hallpass/csrf"
)

// A session keeps one secret; every page embeds a fresh mask of it.
func Example() {
	secret := csrf.NewSecret() // stored in the session

	a, b := csrf.Mask(secret), csrf.Mask(secret)
	fmt.Println(a == b)
	fmt.Println(csrf.Valid(secret, a), csrf.Valid(secret, b))
	fmt.Println(csrf.Valid(csrf.NewSecret(), a))
	// Output:
	// false
	// true true
	// false
}

// The login form of an anonymous visitor is protected by a signed
// double-submit cookie: Token sets the cookie, Check verifies the pair.
func ExampleProtector_Check() {
	p, err := csrf.New(csrf.Config{Keys: [][]byte{bytes.Repeat([]byte("k"), 32)}})
	if err != nil {
		panic(err)
	}

	// GET /login renders the form.
	w := httptest.NewRecorder()
	token := p.Token(w, httptest.NewRequest("GET", "https://example.com/login", nil), nil)
	cookie := w.Result().Cookies()[0]

	// POST /login submits it.
	post := func(token string) *http.Request {
		body := url.Values{csrf.FieldName: {token}, "username": {"ann"}}.Encode()
		r := httptest.NewRequest("POST", "https://example.com/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(cookie)
		return r
	}
	fmt.Println(p.Check(post(token), nil))

	err = p.Check(post("forged"), nil)
	fmt.Println(errors.Is(err, csrf.ErrInvalidToken))
	fmt.Println(csrf.Message(err))
	// Output:
	// <nil>
	// true
	// The form has expired or was submitted from another site. Please reload the page and try again.
}

func ExampleProtector_Handler() {
	secret := csrf.NewSecret()
	p, err := csrf.New(csrf.Config{
		Keys: [][]byte{bytes.Repeat([]byte("k"), 32)},
		// In hallpass the login manager reads this from the session.
		Secret: func(*http.Request) []byte { return secret },
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /settings", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "saved")
	})
	h := p.Handler(mux)

	for _, token := range []string{csrf.Mask(secret), ""} {
		r := httptest.NewRequest("POST", "https://example.com/settings", nil)
		r.Header.Set(csrf.HeaderName, token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 200 saved
	// 403 The form has expired or was submitted from another site. Please reload the page and try again.
}
