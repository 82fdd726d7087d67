package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/login"
)

// serveFuzz runs one request, whose body held the fuzzer's body, through
// the whole handler and fails the test if the answer is not one of the
// statuses in allowed (a recovered panic answers 500).
func serveFuzz(t *testing.T, e *env, req *http.Request, body string, allowed ...int) *httptest.ResponseRecorder {
	t.Helper()
	// Each input starts with the throttle's windows expired, so every one
	// reaches the handler rather than a 429.
	e.clock.Advance(24 * time.Hour)
	w := httptest.NewRecorder()
	e.web.Handler().ServeHTTP(w, req)
	for _, code := range allowed {
		if w.Code == code {
			return w
		}
	}
	t.Fatalf("%s %s with body %q: status %d, want one of %v\n%s", req.Method, req.URL, body, w.Code, allowed, w.Body)
	return nil
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
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/login", strings.NewReader("csrf_token="+url.QueryEscape(token)+"&"+body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := serveFuzz(t, e, req, body, http.StatusSeeOther, http.StatusBadRequest, http.StatusUnauthorized,
			http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests)
		if w.Code == http.StatusSeeOther {
			if loc := w.Header().Get("Location"); loc != "/dashboard" && login.SafeNext(loc) != loc {
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
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := serveFuzz(t, e, req, body, http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized,
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
