package csrf

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func BenchmarkMask(b *testing.B) {
	secret := NewSecret()
	for b.Loop() {
		Mask(secret)
	}
}

func BenchmarkMaskValid(b *testing.B) {
	secret := NewSecret()
	for b.Loop() {
		if !Valid(secret, Mask(secret)) {
			b.Fatal("Valid = false")
		}
	}
}

func BenchmarkMaskCheck(b *testing.B) {
	p := mustNew(b, Config{})
	secret := NewSecret()
	r := httptest.NewRequest("POST", "https://example.com/x", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for b.Loop() {
		r.Header.Set(HeaderName, Mask(secret))
		if err := p.Check(r, secret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPreSession(b *testing.B) {
	p := mustNew(b, Config{Keys: [][]byte{keyB, keyA}})
	cookie, token := preSession(b, mustNew(b, Config{})) // signed by the second key
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	r.Header.Set(HeaderName, token)
	r.AddCookie(cookie)
	for b.Loop() {
		if err := p.Check(r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareHandler and BenchmarkHandler read as a ratio: the
// middleware's cost on a protected POST.
func BenchmarkBareHandler(b *testing.B) {
	benchHandler(b, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
}

func BenchmarkHandler(b *testing.B) {
	secret := NewSecret()
	p := mustNew(b, Config{Secret: func(*http.Request) []byte { return secret }})
	benchHandler(b, p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), secret)
}

func benchHandler(b *testing.B, h http.Handler, secret []byte) {
	r := httptest.NewRequest("POST", "https://example.com/x", nil)
	if secret != nil {
		r.Header.Set(HeaderName, Mask(secret))
	}
	w := httptest.NewRecorder()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}
