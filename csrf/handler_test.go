package csrf

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("ok"))
})

func TestHandler(t *testing.T) {
	secret := NewSecret()
	p := mustNew(t, Config{
		// The test's "session": requests with this cookie have secret.
		Secret: func(r *http.Request) []byte {
			if _, err := r.Cookie("session"); err == nil {
				return secret
			}
			return nil
		},
	})
	session := &http.Cookie{Name: "session", Value: "s1"}
	preCookie, preToken := preSession(t, p)

	tests := []struct {
		name     string
		method   string
		header   map[string]string
		cookies  []*http.Cookie
		wantCode int
		wantType string
		wantBody string
	}{
		{"GET passes", "GET", nil, nil, 200, "", "ok"},
		{"session POST with token", "POST", map[string]string{HeaderName: Mask(secret)}, []*http.Cookie{session}, 200, "", "ok"},
		{"pre-session POST", "POST", map[string]string{HeaderName: preToken}, []*http.Cookie{preCookie}, 200, "", "ok"},
		{"POST without token", "POST", nil, []*http.Cookie{session}, 403, "text/plain", "The form has expired"},
		{"cross-site POST", "POST", map[string]string{HeaderName: Mask(secret), "Sec-Fetch-Site": "cross-site"}, []*http.Cookie{session}, 403, "text/plain", "another site"},
		{"JSON client", "POST", map[string]string{"Content-Type": "application/json", "Accept": "application/json"}, []*http.Cookie{session}, 403, "application/json", `"error":"csrf_failed"`},
		{"Accept JSON only", "POST", map[string]string{"Accept": "application/json"}, []*http.Cookie{session}, 403, "application/json", `"message":"The form has expired`},
		{"browser Accept", "POST", map[string]string{"Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}, []*http.Cookie{session}, 403, "text/plain", "The form has expired"},
		{"bearer API", "POST", map[string]string{"Authorization": "Bearer t0k3n"}, nil, 200, "", "ok"},
	}
	h := p.Handler(okHandler)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://example.com/x", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			for _, c := range tt.cookies {
				r.AddCookie(c)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Errorf("status = %d, want %d", w.Code, tt.wantCode)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			if body := w.Body.String(); !strings.Contains(body, tt.wantBody) || strings.Contains(body, "csrf:") {
				t.Errorf("body = %q, want it to contain %q and no error text", body, tt.wantBody)
			}
		})
	}
}

func TestHandlerJSONBody(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/json")
	WriteError(w, r, ErrInvalidToken)
	var got struct{ Error, Message string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body, err)
	}
	if got.Error != "csrf_failed" || got.Message != Message(ErrInvalidToken) {
		t.Errorf("body = %+v, want error csrf_failed and Message(ErrInvalidToken)", got)
	}
}

func TestHandlerCustomErrorHandler(t *testing.T) {
	var gotErr error
	p := mustNew(t, Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		gotErr = err
		w.WriteHeader(http.StatusTeapot)
	}})
	called := false
	h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != http.StatusTeapot || !errors.Is(gotErr, ErrMissingToken) {
		t.Errorf("ErrorHandler got status %d, err %v; want 418, ErrMissingToken", w.Code, gotErr)
	}
	if called {
		t.Error("next handler ran for a rejected request")
	}
}

func TestHandlerSkipsSecretForSafeMethods(t *testing.T) {
	p := mustNew(t, Config{Secret: func(*http.Request) []byte {
		t.Error("Secret called for a GET request")
		return nil
	}})
	p.Handler(okHandler).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestBearerWithoutCookies(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"bearer", http.Header{"Authorization": {"Bearer abc"}}, true},
		{"BEARER", http.Header{"Authorization": {"BEARER abc"}}, true},
		{"bearer and cookie", http.Header{"Authorization": {"Bearer abc"}, "Cookie": {"session=x"}}, false},
		{"bearer and empty cookie header", http.Header{"Authorization": {"Bearer abc"}, "Cookie": {""}}, false},
		{"empty token", http.Header{"Authorization": {"Bearer  "}}, false},
		{"no space", http.Header{"Authorization": {"Bearerabc"}}, false},
		{"basic", http.Header{"Authorization": {"Basic YTpi"}}, false},
		{"none", http.Header{}, false},
	}
	for _, tt := range tests {
		r := &http.Request{Header: tt.header}
		if got := BearerWithoutCookies(r); got != tt.want {
			t.Errorf("%s: BearerWithoutCookies = %v, want %v", tt.name, got, tt.want)
		}
	}
}
