// Package csrf protects cookie-authenticated requests against cross-site
// request forgery with two independent layers.
//
// The first layer is the browser's own word: [net/http.CrossOriginProtection]
// rejects unsafe requests whose Sec-Fetch-Site or Origin header says they
// come from another origin.
//
// The second layer is a token the page must echo back, in the form field
// [FieldName] or the header [HeaderName]:
//
//   - With a server session, the token is a per-response masked copy of a
//     32-byte synchronizer secret stored in the session ([NewSecret],
//     [Mask], [Valid]).
//   - Without one (the login and registration forms of an anonymous
//     visitor), the token is a masked copy of a random value held in a
//     signed, HttpOnly double-submit cookie. The server keeps no state.
//
// [Protector.Check] is the whole decision as a plain function;
// [Protector.Handler] is a thin middleware around it, and
// [Protector.Token] gives a template the token for the current page.
//
// GET, HEAD, OPTIONS and TRACE requests are never checked, so they must
// not change state.
package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/hallpass/hallpass/autherr"

	"github.com/hallpass/hallpass/internal/vary"
)

// Names under which a request carries the token.
const (
	// FieldName is the form field holding the token in urlencoded and
	// multipart bodies.
	FieldName = "csrf_token"

	// HeaderName is the request header holding the token. It is read
	// before the form and is the only place a token is read from for
	// non-form bodies such as JSON.
	HeaderName = "X-CSRF-Token"
)

// DefaultCookieName is the base name of the pre-session cookie. Unless
// [Config.Insecure] is set, the cookie is sent as "__Host-hallpass_csrf",
// which browsers accept only over HTTPS, for Path=/ and without a Domain,
// so a sibling subdomain cannot plant one.
const DefaultCookieName = "hallpass_csrf"

// MinKeySize is the shortest key [New] accepts in [Config.Keys].
const MinKeySize = 32

// DefaultMaxFormBytes is the default for [Config.MaxFormBytes].
const DefaultMaxFormBytes = 10 << 20

// Errors returned by [Protector.Check], possibly wrapped with detail for
// the log. Test for them with errors.Is and show a person [Message]
// instead of the error text.
var (
	// ErrMissingToken reports an unsafe request with no token in the
	// header or form, or, without a session, no pre-session cookie.
	ErrMissingToken error = &autherr.Error{Kind: autherr.Forbidden, Code: "csrf_failed", Message: msgExpired, Err: errors.New("csrf: missing token")}

	// ErrInvalidToken reports a token that is malformed, belongs to
	// another session, or does not match the pre-session cookie, or a
	// pre-session cookie whose signature does not verify.
	ErrInvalidToken error = &autherr.Error{Kind: autherr.Forbidden, Code: "csrf_failed", Message: msgExpired, Err: errors.New("csrf: invalid token")}

	// ErrOrigin reports a request that the browser marked as coming
	// from another origin (Sec-Fetch-Site, or an Origin header that
	// matches neither the Host nor a trusted origin).
	ErrOrigin error = &autherr.Error{Kind: autherr.Forbidden, Code: "csrf_failed", Message: msgOrigin, Err: errors.New("csrf: cross-origin request")}
)

// Message returns a sentence to show a person for an error from
// [Protector.Check]: it tells them what happened and what to do, and
// never includes the error text. It returns "" for a nil error.
func Message(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrOrigin):
		return msgOrigin
	default:
		return msgExpired
	}
}

// The messages of the errors.
const (
	msgOrigin = "This request was blocked because it came from another site. " +
		"Please go back to the page, reload it and try again."
	msgExpired = "The form has expired or was submitted from another site. " +
		"Please reload the page and try again."
)

// Config configures a [Protector]. Only Keys is required; every other
// zero field takes the default documented on it.
type Config struct {
	// Keys sign and verify pre-session cookies. The first key signs and
	// every key verifies, so a key can be rotated by putting the new
	// one first and dropping the old one once its cookies have aged
	// out (they are browser-session cookies). Each key must be at least
	// MinKeySize bytes. The Protector derives its own subkey from each
	// key, HMAC-SHA256(key, "hallpass csrf v1"), so the same keys may
	// serve other purposes elsewhere without a MAC from one use ever
	// being valid for another.
	Keys [][]byte

	// TrustedOrigins lists origins ("https://app.example.com", scheme
	// and host only) whose cross-origin requests the origin layer
	// allows. Add the application's public base URL when a proxy
	// rewrites the Host header. Default: none.
	TrustedOrigins []string

	// Insecure sends the pre-session cookie without the Secure
	// attribute and without the __Host- prefix, for development over
	// plain http. Default false: Secure and __Host- prefixed.
	Insecure bool

	// CookieName is the base name of the pre-session cookie; the
	// __Host- prefix is added unless Insecure is set. Default
	// DefaultCookieName.
	CookieName string

	// MaxFormBytes caps the body Check reads to find the form field in
	// urlencoded and multipart requests; a larger body fails the check
	// with ErrMissingToken. Forms that upload larger files must send
	// the token in the HeaderName header instead, which is read first
	// and spares the body. Default DefaultMaxFormBytes (10 MiB).
	MaxFormBytes int64

	// Secret returns the session's synchronizer secret for a request,
	// or nil when the request has no server session. Only Handler
	// calls it; Check takes the secret as an argument. Default: always
	// nil, so Handler checks pre-session tokens only.
	Secret func(*http.Request) []byte

	// Exempt reports whether a request skips both layers because it is
	// authenticated by something a browser never attaches on its own,
	// such as a bearer token. Default BearerWithoutCookies. To exempt
	// nothing, use func(*http.Request) bool { return false }.
	Exempt func(*http.Request) bool

	// ErrorHandler writes the response for a request that Handler
	// rejects. Default WriteError.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Protector checks requests for CSRF. Create one with [New]; it is safe
// for concurrent use.
type Protector struct {
	origin       *http.CrossOriginProtection
	subkeys      [][]byte
	cookieName   string
	secure       bool
	maxFormBytes int64
	secret       func(*http.Request) []byte
	exempt       func(*http.Request) bool
	errorHandler func(http.ResponseWriter, *http.Request, error)
}

// New returns a Protector for cfg. It fails when cfg.Keys is empty or
// holds a key shorter than [MinKeySize], or when a trusted origin is not
// of the form "scheme://host[:port]".
func New(cfg Config) (*Protector, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("csrf: Config.Keys is empty; a key is needed to sign pre-session cookies")
	}
	p := &Protector{
		origin:       http.NewCrossOriginProtection(),
		cookieName:   cfg.CookieName,
		secure:       !cfg.Insecure,
		maxFormBytes: cfg.MaxFormBytes,
		secret:       cfg.Secret,
		exempt:       cfg.Exempt,
		errorHandler: cfg.ErrorHandler,
	}
	for i, key := range cfg.Keys {
		if len(key) < MinKeySize {
			return nil, fmt.Errorf("csrf: Config.Keys[%d] is %d bytes, want at least %d", i, len(key), MinKeySize)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte("hallpass csrf v1"))
		p.subkeys = append(p.subkeys, m.Sum(nil))
	}
	for _, o := range cfg.TrustedOrigins {
		if err := p.origin.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("csrf: Config.TrustedOrigins: %w", err)
		}
	}
	if p.cookieName == "" {
		p.cookieName = DefaultCookieName
	}
	if p.secure {
		p.cookieName = "__Host-" + p.cookieName
	}
	if p.maxFormBytes <= 0 {
		p.maxFormBytes = DefaultMaxFormBytes
	}
	if p.exempt == nil {
		p.exempt = BearerWithoutCookies
	}
	if p.errorHandler == nil {
		p.errorHandler = WriteError
	}
	return p, nil
}

// Check decides whether r may proceed and returns nil if so, or an error
// matching [ErrOrigin], [ErrMissingToken] or [ErrInvalidToken].
//
// secret is the session's synchronizer secret, or nil (or empty) when the
// request has no server session. With a secret, only a token masked from
// it is accepted. Without one, the token must unmask to the random value
// in a validly signed pre-session cookie.
//
// In order, Check:
//   - allows GET, HEAD, OPTIONS and TRACE;
//   - allows requests for which Config.Exempt reports true;
//   - rejects cross-origin requests with ErrOrigin;
//   - reads the token from the HeaderName header or, for urlencoded and
//     multipart bodies only, the FieldName form field, and verifies it.
//
// Reading the form parses r's body (at most Config.MaxFormBytes of it)
// into r.PostForm and r.MultipartForm, where the handler finds it as
// usual; a handler that streams the body with r.MultipartReader must be
// sent the token in the header.
func (p *Protector) Check(r *http.Request, secret []byte) error {
	if isSafe(r.Method) || p.exempt(r) {
		return nil
	}
	if err := p.origin.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrOrigin, err)
	}
	token, err := p.requestToken(r)
	if err != nil {
		return err
	}
	if len(secret) > 0 {
		if !Valid(secret, token) {
			return ErrInvalidToken
		}
		return nil
	}
	return p.checkPreSession(r, token)
}

// Token returns a fresh masked token to embed in the page being rendered
// for r, as the FieldName hidden input or a meta tag that scripts copy to
// the HeaderName header. secret is the session's synchronizer secret, or
// nil when there is no server session.
//
// Without a secret, Token reuses the request's valid pre-session cookie,
// or sets a new one on w, so it must be called before the response
// header is written. Several calls while rendering one response share
// one cookie. Token adds "Vary: Cookie" to w, since the page now
// depends on the visitor.
func (p *Protector) Token(w http.ResponseWriter, r *http.Request, secret []byte) string {
	vary.Add(w.Header(), "Cookie")
	if len(secret) > 0 {
		return Mask(secret)
	}
	return Mask(p.preSessionNonce(w, r))
}

// ClearCookie tells the browser to delete the pre-session cookie. The
// login manager calls it when it creates a session, after which forms
// carry the session's tokens instead.
func (p *Protector) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, p.cookie("", -1))
}

func isSafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// requestToken returns the token from the header or, for form bodies,
// the form field.
func (p *Protector) requestToken(r *http.Request) (string, error) {
	if t := r.Header.Get(HeaderName); t != "" {
		return t, nil
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if r.PostForm == nil {
			p.limitBody(r)
			if err := r.ParseForm(); err != nil {
				return "", fmt.Errorf("%w: reading form: %w", ErrMissingToken, err)
			}
		}
	case "multipart/form-data":
		if r.MultipartForm == nil {
			p.limitBody(r)
			if err := r.ParseMultipartForm(p.maxFormBytes); err != nil {
				return "", fmt.Errorf("%w: reading form: %w", ErrMissingToken, err)
			}
		}
	default:
		return "", ErrMissingToken
	}
	if t := r.PostForm.Get(FieldName); t != "" {
		return t, nil
	}
	return "", ErrMissingToken
}

func (p *Protector) limitBody(r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, p.maxFormBytes)
	}
}

// Pre-session cookie: base64url(nonce || HMAC-SHA256(subkey, nonce)).
const (
	nonceSize = 32
	// maxCookies bounds how many same-named cookies Check tries, so a
	// header stuffed with cookies costs at most a few MACs.
	maxCookies = 4
)

var cookieValueLen = tokenEncoding.EncodedLen(nonceSize + sha256.Size)

func (p *Protector) sign(nonce []byte) string {
	m := hmac.New(sha256.New, p.subkeys[0])
	m.Write(nonce)
	buf := make([]byte, 0, nonceSize+sha256.Size)
	buf = append(buf, nonce...)
	return tokenEncoding.EncodeToString(m.Sum(buf))
}

// verify returns the nonce in a cookie value whose MAC verifies under any
// key, and whether that key is the signing (first) one.
func (p *Protector) verify(value string) (nonce []byte, current, ok bool) {
	if len(value) != cookieValueLen {
		return nil, false, false
	}
	buf, err := tokenEncoding.DecodeString(value)
	if err != nil || len(buf) != nonceSize+sha256.Size {
		return nil, false, false
	}
	nonce, mac := buf[:nonceSize], buf[nonceSize:]
	for i, k := range p.subkeys {
		m := hmac.New(sha256.New, k)
		m.Write(nonce)
		if hmac.Equal(m.Sum(nil), mac) {
			return nonce, i == 0, true
		}
	}
	return nil, false, false
}

func (p *Protector) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     p.cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   p.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

func (p *Protector) checkPreSession(r *http.Request, token string) error {
	cookies := r.CookiesNamed(p.cookieName)
	if len(cookies) == 0 {
		return fmt.Errorf("%w: no %s cookie", ErrMissingToken, p.cookieName)
	}
	got, err := Unmask(token)
	if err != nil {
		return ErrInvalidToken
	}
	for i, c := range cookies {
		if i == maxCookies {
			break
		}
		nonce, _, ok := p.verify(c.Value)
		if ok && subtle.ConstantTimeCompare(nonce, got) == 1 {
			return nil
		}
	}
	return ErrInvalidToken
}

// preSessionNonce returns the nonce of the pre-session cookie the browser
// will hold after this response, setting a new cookie on w when needed.
func (p *Protector) preSessionNonce(w http.ResponseWriter, r *http.Request) []byte {
	// A cookie already set on this response wins (the browser keeps the
	// last one), so all tokens in one page match it.
	setHere := false
	var nonce []byte
	for _, line := range w.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != p.cookieName {
			continue
		}
		setHere = true
		nonce = nil
		if c.MaxAge >= 0 {
			nonce, _, _ = p.verify(c.Value)
		}
	}
	if nonce != nil {
		return nonce
	}
	if !setHere {
		for i, c := range r.CookiesNamed(p.cookieName) {
			if i == maxCookies {
				break
			}
			if n, current, ok := p.verify(c.Value); ok {
				if !current {
					// Re-sign under the current key, keeping the nonce
					// so tokens in pages already open stay valid.
					http.SetCookie(w, p.cookie(p.sign(n), 0))
				}
				return n
			}
		}
	}
	nonce = make([]byte, nonceSize)
	rand.Read(nonce)
	http.SetCookie(w, p.cookie(p.sign(nonce), 0))
	return nonce
}
