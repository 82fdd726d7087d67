package csrf

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

var (
	keyA = bytes.Repeat([]byte{'a'}, 32)
	keyB = bytes.Repeat([]byte{'b'}, 32)
)

func mustNew(tb testing.TB, cfg Config) *Protector {
	tb.Helper()
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{keyA}
	}
	p, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}

// preSession renders a page without a session and returns the cookie it
// set and the token it embedded.
func preSession(tb testing.TB, p *Protector) (*http.Cookie, string) {
	tb.Helper()
	w := httptest.NewRecorder()
	token := p.Token(w, httptest.NewRequest("GET", "https://example.com/login", nil), nil)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		tb.Fatalf("Token set %d cookies, want 1", len(cookies))
	}
	return cookies[0], token
}

func form(token string) string {
	return url.Values{FieldName: {token}, "username": {"ann"}}.Encode()
}

// multipartForm returns a multipart body with the token field and a file,
// and its content type.
func multipartForm(token string) (body, contentType string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField(FieldName, token)
	fw, _ := mw.CreateFormFile("avatar", "a.png")
	fw.Write(bytes.Repeat([]byte{0}, 1000))
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func TestCheck(t *testing.T) {
	p := mustNew(t, Config{})
	trusting := mustNew(t, Config{TrustedOrigins: []string{"https://app.example.net"}})
	otherKey := mustNew(t, Config{Keys: [][]byte{keyB}})
	rotated := mustNew(t, Config{Keys: [][]byte{keyB, keyA}})
	small := mustNew(t, Config{MaxFormBytes: 100})
	noExempt := mustNew(t, Config{Exempt: func(*http.Request) bool { return false }})

	secret := NewSecret()
	other := NewSecret()
	good := Mask(secret)

	cookie, token := preSession(t, p)
	_, token2 := preSession(t, p)
	otherCookie, otherToken := preSession(t, otherKey)
	tampered := *cookie
	tampered.Value = flipChar(cookie.Value, 5)
	mpBody, mpType := multipartForm(good)
	// An attacker's own cookie with a made-up MAC, and a token for it:
	// what an unsigned double-submit cookie would accept.
	forgedNonce := NewSecret()
	forged := &http.Cookie{Name: cookie.Name, Value: tokenEncoding.EncodeToString(append(forgedNonce, NewSecret()...))}

	const urlencoded = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		p           *Protector // default p
		method      string     // default POST
		target      string     // default https://example.com/submit
		contentType string
		body        string
		header      map[string]string
		cookies     []*http.Cookie
		secret      []byte
		want        error
	}{
		// Safe methods never need a token.
		{name: "GET", method: "GET", secret: secret},
		{name: "HEAD", method: "HEAD", secret: secret},
		{name: "OPTIONS", method: "OPTIONS", secret: secret},
		{name: "TRACE", method: "TRACE", secret: secret},
		{name: "GET cross-site", method: "GET", header: map[string]string{"Sec-Fetch-Site": "cross-site"}},

		// Synchronizer token from the session's secret.
		{name: "POST without token", secret: secret, want: ErrMissingToken},
		{name: "PUT without token", method: "PUT", secret: secret, want: ErrMissingToken},
		{name: "DELETE without token", method: "DELETE", secret: secret, want: ErrMissingToken},
		{name: "header", header: map[string]string{HeaderName: good}, secret: secret},
		{name: "header, second mask", header: map[string]string{HeaderName: Mask(secret)}, secret: secret},
		{name: "form field", contentType: urlencoded, body: form(good), secret: secret},
		{name: "form field with charset", contentType: urlencoded + "; charset=utf-8", body: form(good), secret: secret},
		{name: "multipart field", contentType: mpType, body: mpBody, secret: secret},
		{name: "header wins over form", contentType: urlencoded, body: form("junk"), header: map[string]string{HeaderName: good}, secret: secret},
		{name: "bad header, good form", contentType: urlencoded, body: form(good), header: map[string]string{HeaderName: "junk"}, secret: secret, want: ErrInvalidToken},
		{name: "empty form field", contentType: urlencoded, body: form(""), secret: secret, want: ErrMissingToken},
		{name: "token in query only", target: "https://example.com/submit?csrf_token=" + url.QueryEscape(good), contentType: urlencoded, body: "a=b", secret: secret, want: ErrMissingToken},
		{name: "JSON body field ignored", contentType: "application/json", body: `{"csrf_token":"` + good + `"}`, secret: secret, want: ErrMissingToken},
		{name: "JSON with header", contentType: "application/json", body: `{}`, header: map[string]string{HeaderName: good}, secret: secret},
		{name: "token of another session", header: map[string]string{HeaderName: Mask(other)}, secret: secret, want: ErrInvalidToken},
		{name: "garbage", header: map[string]string{HeaderName: "<script>"}, secret: secret, want: ErrInvalidToken},
		{name: "truncated", header: map[string]string{HeaderName: good[:40]}, secret: secret, want: ErrInvalidToken},
		{name: "huge", header: map[string]string{HeaderName: strings.Repeat(good, 1000)}, secret: secret, want: ErrInvalidToken},
		{name: "form over MaxFormBytes", p: small, contentType: urlencoded, body: form(good) + "&pad=" + strings.Repeat("x", 200), secret: secret, want: ErrMissingToken},
		{name: "multipart over MaxFormBytes", p: small, contentType: mpType, body: mpBody, secret: secret, want: ErrMissingToken},
		{name: "session ignores pre-session pair", header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{cookie}, secret: secret, want: ErrInvalidToken},

		// Origin layer.
		{name: "Sec-Fetch-Site cross-site", header: map[string]string{HeaderName: good, "Sec-Fetch-Site": "cross-site"}, secret: secret, want: ErrOrigin},
		{name: "Sec-Fetch-Site same-site", header: map[string]string{HeaderName: good, "Sec-Fetch-Site": "same-site"}, secret: secret, want: ErrOrigin},
		{name: "Sec-Fetch-Site same-origin", header: map[string]string{HeaderName: good, "Sec-Fetch-Site": "same-origin"}, secret: secret},
		{name: "Sec-Fetch-Site same-origin still needs token", header: map[string]string{"Sec-Fetch-Site": "same-origin"}, secret: secret, want: ErrMissingToken},
		{name: "Origin of another host", header: map[string]string{HeaderName: good, "Origin": "https://evil.example"}, secret: secret, want: ErrOrigin},
		{name: "Origin matches Host", header: map[string]string{HeaderName: good, "Origin": "https://example.com"}, secret: secret},
		{name: "trusted origin", p: trusting, header: map[string]string{HeaderName: good, "Origin": "https://app.example.net", "Sec-Fetch-Site": "cross-site"}, secret: secret},
		{name: "untrusted origin with trust list", p: trusting, header: map[string]string{HeaderName: good, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, secret: secret, want: ErrOrigin},

		// Pre-session double-submit cookie.
		{name: "pre-session form", contentType: urlencoded, body: form(token), cookies: []*http.Cookie{cookie}},
		{name: "pre-session header", header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{cookie}},
		{name: "pre-session, empty secret", header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{cookie}, secret: []byte{}},
		{name: "pre-session, other mask of cookie", header: map[string]string{HeaderName: Mask(mustNonce(t, p, cookie))}, cookies: []*http.Cookie{cookie}},
		{name: "pre-session without cookie", header: map[string]string{HeaderName: token}, want: ErrMissingToken},
		{name: "pre-session without token", cookies: []*http.Cookie{cookie}, want: ErrMissingToken},
		{name: "pre-session cookie tampered", header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{&tampered}, want: ErrInvalidToken},
		{name: "pre-session forged cookie and matching token", header: map[string]string{HeaderName: Mask(forgedNonce)}, cookies: []*http.Cookie{forged}, want: ErrInvalidToken},
		{name: "pre-session cookie from other key", header: map[string]string{HeaderName: otherToken}, cookies: []*http.Cookie{otherCookie}, want: ErrInvalidToken},
		{name: "pre-session token of other cookie", header: map[string]string{HeaderName: token2}, cookies: []*http.Cookie{cookie}, want: ErrInvalidToken},
		{name: "pre-session garbage token", header: map[string]string{HeaderName: "garbage"}, cookies: []*http.Cookie{cookie}, want: ErrInvalidToken},
		{name: "pre-session cookie value as token", header: map[string]string{HeaderName: cookie.Value}, cookies: []*http.Cookie{cookie}, want: ErrInvalidToken},
		{name: "pre-session planted cookie first", header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{otherCookie, cookie}},
		{name: "rotation: old key verifies", p: rotated, header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{cookie}},
		{name: "rotation: new key verifies", p: rotated, header: map[string]string{HeaderName: otherToken}, cookies: []*http.Cookie{otherCookie}},
		{name: "rotation: dropped key fails", p: otherKey, header: map[string]string{HeaderName: token}, cookies: []*http.Cookie{cookie}, want: ErrInvalidToken},

		// Exemption.
		{name: "bearer without cookies", header: map[string]string{"Authorization": "Bearer abc"}},
		{name: "bearer, lower-case scheme", header: map[string]string{"Authorization": "bearer abc"}},
		{name: "bearer cross-site", header: map[string]string{"Authorization": "Bearer abc", "Sec-Fetch-Site": "cross-site"}},
		{name: "bearer with cookies", header: map[string]string{"Authorization": "Bearer abc"}, cookies: []*http.Cookie{{Name: "session", Value: "x"}}, secret: secret, want: ErrMissingToken},
		{name: "bearer without token", header: map[string]string{"Authorization": "Bearer "}, want: ErrMissingToken},
		{name: "basic auth", header: map[string]string{"Authorization": "Basic YTpi"}, want: ErrMissingToken},
		{name: "custom Exempt false", p: noExempt, header: map[string]string{"Authorization": "Bearer abc"}, want: ErrMissingToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := tt.p
			if pr == nil {
				pr = p
			}
			method := tt.method
			if method == "" {
				method = "POST"
			}
			target := tt.target
			if target == "" {
				target = "https://example.com/submit"
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			for _, c := range tt.cookies {
				r.AddCookie(c)
			}
			err := pr.Check(r, tt.secret)
			if !errors.Is(err, tt.want) {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustNonce(tb testing.TB, p *Protector, c *http.Cookie) []byte {
	tb.Helper()
	nonce, _, ok := p.verify(c.Value)
	if !ok {
		tb.Fatalf("cookie %q does not verify", c.Value)
	}
	return nonce
}

func TestCheckLeavesFormForHandler(t *testing.T) {
	p := mustNew(t, Config{})
	secret := NewSecret()
	body, ct := multipartForm(Mask(secret))
	r := httptest.NewRequest("POST", "https://example.com/upload", strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	if err := p.Check(r, secret); err != nil {
		t.Fatalf("Check = %v, want nil", err)
	}
	f, fh, err := r.FormFile("avatar")
	if err != nil {
		t.Fatalf("FormFile after Check: %v", err)
	}
	defer f.Close()
	if fh.Size != 1000 {
		t.Errorf("file size = %d, want 1000", fh.Size)
	}
}

func TestCheckHeaderSparesBody(t *testing.T) {
	p := mustNew(t, Config{})
	secret := NewSecret()
	r := httptest.NewRequest("POST", "https://example.com/upload", strings.NewReader("csrf_token=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(HeaderName, Mask(secret))
	if err := p.Check(r, secret); err != nil {
		t.Fatalf("Check = %v, want nil", err)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != "csrf_token=x" {
		t.Errorf("body after Check = %q, want it unread", b)
	}
}

func TestTokenPreSessionCookie(t *testing.T) {
	p := mustNew(t, Config{})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://example.com/login", nil)
	t1 := p.Token(w, r, nil)
	t2 := p.Token(w, r, nil)
	if t1 == t2 {
		t.Errorf("two Token calls returned the same mask %q", t1)
	}
	res := w.Result()
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("two Token calls set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != "__Host-hallpass_csrf" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "" || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("cookie = %+v, want __Host-hallpass_csrf, Secure, HttpOnly, SameSite=Lax, Path=/, session cookie", c)
	}
	if got := res.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	for _, tok := range []string{t1, t2} {
		post := httptest.NewRequest("POST", "https://example.com/login", nil)
		post.Header.Set(HeaderName, tok)
		post.AddCookie(c)
		if err := p.Check(post, nil); err != nil {
			t.Errorf("Check with token from page = %v, want nil", err)
		}
	}

	// The next page reuses the cookie the browser sends back.
	w = httptest.NewRecorder()
	r.AddCookie(c)
	t3 := p.Token(w, r, nil)
	if got := w.Result().Cookies(); len(got) != 0 {
		t.Errorf("Token with a valid cookie set %d cookies, want 0", len(got))
	}
	if !bytes.Equal(mustUnmask(t, t3), mustNonce(t, p, c)) {
		t.Errorf("Token with a valid cookie returned a token for another nonce")
	}
}

func TestTokenResignsOldKeyCookie(t *testing.T) {
	old := mustNew(t, Config{Keys: [][]byte{keyA}})
	cookie, oldToken := preSession(t, old)
	p := mustNew(t, Config{Keys: [][]byte{keyB, keyA}})

	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "https://example.com/login", nil)
	r.AddCookie(cookie)
	p.Token(w, r, nil)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Token with an old-key cookie set %d cookies, want 1", len(cookies))
	}
	newOnly := mustNew(t, Config{Keys: [][]byte{keyB}})
	post := httptest.NewRequest("POST", "https://example.com/login", nil)
	post.Header.Set(HeaderName, oldToken)
	post.AddCookie(cookies[0])
	if err := newOnly.Check(post, nil); err != nil {
		t.Errorf("Check of an open page's token after re-signing = %v, want nil", err)
	}
}

func TestTokenAfterClearCookie(t *testing.T) {
	p := mustNew(t, Config{Insecure: true})
	cookie, _ := preSession(t, p)
	if cookie.Name != "hallpass_csrf" || cookie.Secure {
		t.Errorf("Insecure cookie = %s Secure=%v, want hallpass_csrf without Secure", cookie.Name, cookie.Secure)
	}

	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "http://example.com/", nil)
	r.AddCookie(cookie)
	p.ClearCookie(w)
	tok := p.Token(w, r, nil)
	cookies := w.Result().Cookies()
	if len(cookies) != 2 || cookies[0].MaxAge >= 0 {
		t.Fatalf("ClearCookie then Token set %v, want a deletion then a new cookie", cookies)
	}
	if !bytes.Equal(mustUnmask(t, tok), mustNonce(t, p, cookies[1])) {
		t.Errorf("Token after ClearCookie does not match the new cookie")
	}
	if bytes.Equal(mustNonce(t, p, cookies[1]), mustNonce(t, p, cookie)) {
		t.Errorf("Token after ClearCookie reused the cleared cookie's nonce")
	}
}

func TestTokenWithSecret(t *testing.T) {
	p := mustNew(t, Config{})
	secret := NewSecret()
	w := httptest.NewRecorder()
	tok := p.Token(w, httptest.NewRequest("GET", "/", nil), secret)
	if !Valid(secret, tok) {
		t.Errorf("Valid(secret, Token(secret)) = false, want true")
	}
	if got := w.Result().Cookies(); len(got) != 0 {
		t.Errorf("Token with a secret set cookies %v, want none", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"one key", Config{Keys: [][]byte{keyA}}, false},
		{"no keys", Config{}, true},
		{"short key", Config{Keys: [][]byte{keyA, []byte("short")}}, true},
		{"trusted origin", Config{Keys: [][]byte{keyA}, TrustedOrigins: []string{"https://example.com"}}, false},
		{"origin with path", Config{Keys: [][]byte{keyA}, TrustedOrigins: []string{"https://example.com/app"}}, true},
		{"origin without scheme", Config{Keys: [][]byte{keyA}, TrustedOrigins: []string{"example.com"}}, true},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: New error = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestSubkeyDiffersFromKey(t *testing.T) {
	p := mustNew(t, Config{})
	if bytes.Equal(p.subkeys[0], keyA) {
		t.Fatal("subkey equals the configured key")
	}
	// Same keys, same subkeys: cookies verify across instances.
	q := mustNew(t, Config{})
	c, _ := preSession(t, p)
	if _, _, ok := q.verify(c.Value); !ok {
		t.Error("cookie from one Protector does not verify in another with the same keys")
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrMissingToken, "expired"},
		{ErrInvalidToken, "expired"},
		{errors.Join(ErrOrigin, errors.New("detail")), "another site"},
	}
	for _, tt := range tests {
		got := Message(tt.err)
		if !strings.Contains(got, tt.want) || (tt.err != nil && strings.Contains(got, "csrf:")) {
			t.Errorf("Message(%v) = %q, want a sentence containing %q", tt.err, got, tt.want)
		}
	}
}

func mustUnmask(tb testing.TB, token string) []byte {
	tb.Helper()
	b, err := Unmask(token)
	if err != nil {
		tb.Fatalf("Unmask(%q): %v", token, err)
	}
	return b
}
