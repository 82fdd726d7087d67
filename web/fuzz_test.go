package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/login"
)

// checkStatus fails the test unless w's status is one of allowed (a
// recovered panic answers 500, which never is).
func checkStatus(t *testing.T, what, body string, w *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	if !slices.Contains(allowed, w.Code) {
		t.Fatalf("%s with body %q: status %d, want one of %v\n%s", what, body, w.Code, allowed, w.Body)
	}
}

// FuzzLoginForm posts any urlencoded body (after a valid CSRF token) to
// the login form: the answer is a redirect to a path on this site, the
// form again with a message, or a 4xx; never a 500.
func FuzzLoginForm(f *testing.F) {
	e := newEnv(f)
	e.addUser("ada")
	b := e.browser()
	token := b.csrfToken()
	u, _ := url.Parse(e.srv.URL)
	cookies := b.jar.Cookies(u)
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login", strings.NewReader("csrf_token="+url.QueryEscape(token)+"&"+body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.clock.Advance(24 * time.Hour) // past the throttle's windows
		e.web.Handler().ServeHTTP(w, req)
		return w
	}
	// The harness gets past the CSRF check: inputs reach the handler.
	if w := post("username=ada&password=" + url.QueryEscape(goodPassword)); w.Code != http.StatusSeeOther {
		f.Fatalf("login with the right password: %d, want 303\n%s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := post(body)
		checkStatus(t, "POST /login", body, w, http.StatusSeeOther, http.StatusBadRequest, http.StatusUnauthorized,
			http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests)
		if w.Code == http.StatusSeeOther {
			if loc := w.Header().Get("Location"); loc == "" || login.SafeNext(loc) != loc {
				t.Fatalf("login with body %q redirects to %q, off the site", body, loc)
			}
		}
	})
}

// FuzzAPILogin posts any body as JSON to the API login: the answer is 200
// with the user, or a 4xx JSON error; never a 500.
func FuzzAPILogin(f *testing.F) {
	e := newEnv(f)
	e.addUser("ada")
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.clock.Advance(24 * time.Hour) // past the throttle's windows
		e.web.Handler().ServeHTTP(w, req)
		return w
	}
	if w := post(`{"username":"ada","password":"` + goodPassword + `"}`); w.Code != http.StatusOK {
		f.Fatalf("API login with the right password: %d, want 200\n%s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := post(body)
		checkStatus(t, "POST /api/session", body, w, http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized,
			http.StatusRequestEntityTooLarge, http.StatusTooManyRequests)
		var got struct {
			User  *struct{ Username string } `json:"user"`
			Error string                     `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q: answer %d is not JSON: %v\n%s", body, w.Code, err, w.Body)
		}
		if (w.Code == http.StatusOK) != (got.User != nil && got.User.Username == "ada") || (w.Code != http.StatusOK && got.Error == "") {
			t.Fatalf("body %q: answer %d %s, want 200 with the user or an error object", body, w.Code, w.Body)
		}
	})
}
