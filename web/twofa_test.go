package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/twofa"
)

// withTwoFA turns second factors on, on a store the test can read.
func withTwoFA(c *server.Config) { c.TwoFA = memstore.NewTwoFAStore() }

var (
	secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	codeRE   = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// code returns secret's TOTP code at the env's clock.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := twofa.Code(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// nextStep moves the clock to the next TOTP step, so a new code exists.
func (e *env) nextStep() { e.clock.Advance(twofa.Period) }

// enrol turns TOTP on for b's user and returns the secret and the
// recovery codes shown.
func (b *client) enrol(t *testing.T) (string, []string) {
	t.Helper()
	r := b.get("/account/2fa")
	m := secretRE.FindStringSubmatch(r.body)
	if r.code != http.StatusOK || m == nil {
		t.Fatalf("GET /account/2fa: %d, no secret:\n%s", r.code, r.body)
	}
	r = b.post("/account/2fa/totp", url.Values{"code": {b.e.code(m[1])}})
	codes := codeRE.FindAllStringSubmatch(r.body, -1)
	if r.code != http.StatusOK || len(codes) != twofa.RecoveryCodeCount {
		t.Fatalf("POST /account/2fa/totp: %d, %d recovery codes, want 200 and %d:\n%s", r.code, len(codes), twofa.RecoveryCodeCount, r.body)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return m[1], out
}

// password posts the login form and wants the second step.
func (b *client) password(t *testing.T, user string, extra url.Values) {
	t.Helper()
	f := url.Values{"username": {user}, "password": {goodPassword}}
	for k, v := range extra {
		f[k] = v
	}
	if r := b.post("/login", f); r.code != http.StatusSeeOther || r.location() != "/login/2fa" {
		t.Fatalf("POST /login: %d %q, want 303 /login/2fa", r.code, r.location())
	}
}

func TestTwoFAEnrolment(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	b := e.loggedIn("ada")

	r := b.get("/account/2fa")
	mustContain(t, "enrolment page", r.body, `id="totp-secret"`, "otpauth://totp/", `src="/account/2fa/qr.png"`, `action="/account/2fa/totp"`)
	secret := secretRE.FindStringSubmatch(r.body)[1]
	if again := secretRE.FindStringSubmatch(b.get("/account/2fa").body); again == nil || again[1] != secret {
		t.Errorf("a second visit offers another secret, want the same until confirmed")
	}
	qr := b.get("/account/2fa/qr.png")
	if qr.code != http.StatusOK || qr.h.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Errorf("QR code: %d %q, want a PNG", qr.code, qr.h.Get("Content-Type"))
	}
	if r := e.browser().get("/account/2fa/qr.png"); r.code != http.StatusSeeOther {
		t.Errorf("QR code anonymously: %d, want 303 to the login page", r.code)
	}

	for _, tc := range []struct{ name, code string }{
		{"wrong", "000000"},
		{"letters", "abcdef"},
		{"empty", ""},
	} {
		if r := b.post("/account/2fa/totp", url.Values{"code": {tc.code}}); r.code != http.StatusUnauthorized {
			t.Errorf("enrol with a %s code: %d, want 401", tc.name, r.code)
		}
	}
	// A stale session (not fresh) must log in again first.
	stale := e.loggedIn("ada")
	e.clock.Advance(11 * time.Minute)
	if r := stale.post("/account/2fa/totp", url.Values{"code": {e.code(secret)}}); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("enrol without a fresh login: %d %q, want 303 to /login", r.code, r.location())
	}
	b = e.loggedIn("ada")
	other := e.loggedIn("ada")
	secret, codes := b.enrol(t)
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("another session after enrolment: %d, want 303 (ended)", r.code)
	}
	if r := b.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("the enrolling session: %d, want 200", r.code)
	}
	mustContain(t, "2fa page once on", b.get("/account/2fa").body, "10 unused recovery codes", `action="/account/2fa/disable"`)
	mustNotContain(t, "2fa page once on", b.get("/account/2fa").body, secret, codes[0])
	mustContain(t, "audit log", e.logs.String(), `"2fa.enable"`)
}

// An enrolment whose other sessions cannot be ended (the session store
// takes no writes) is undone: the answer is 503, the recovery codes it
// could not show are not left in force, and enrolling again once the
// store is back works (it answered 409 "already on" with codes never
// shown, and the other sessions lived on).
func TestTwoFAEnrolmentWithSessionWritesDown(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	b, other := e.loggedIn("ada"), e.loggedIn("ada")
	r := b.get("/account/2fa")
	secret := secretRE.FindStringSubmatch(r.body)[1]

	e.store.WritesDown.Store(true)
	if r := b.post("/account/2fa/totp", url.Values{"code": {e.code(secret)}}); r.code != http.StatusServiceUnavailable {
		t.Fatalf("enrol with the session store taking no writes: %d, want 503", r.code)
	}
	e.store.WritesDown.Store(false)
	if r := other.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("another session after the failed enrolment: %d, want 200 (nothing changed)", r.code)
	}
	e.nextStep()
	b.enrol(t) // again, from the start: shows the codes
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("another session after the enrolment: %d, want 303 (ended)", r.code)
	}
}

func TestTwoFALogin(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	secret, codes := e.loggedIn("ada").enrol(t)
	e.nextStep()

	b := e.browser()
	before := b.cookie(sessCookie)
	b.password(t, "ada", nil)
	pendingCookie := b.cookie(sessCookie)
	if pendingCookie == "" || pendingCookie == before {
		t.Errorf("pending login: session cookie %q, want a new one", pendingCookie)
	}
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
		t.Errorf("dashboard while pending: %d %q, want 303 /login", r.code, r.location())
	}
	mustContain(t, "code page", b.get("/login/2fa").body, `action="/login/2fa"`, `autocomplete="one-time-code"`)
	r := b.post("/login/2fa", url.Values{"code": {"123456"}})
	if r.code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d, want 401", r.code)
	}
	mustContain(t, "wrong code page", r.body, "That code is not correct", `action="/login/2fa"`)
	code := e.code(secret)
	if r := b.post("/login/2fa", url.Values{"code": {code}}); r.code != http.StatusSeeOther || r.location() != "/dashboard" {
		t.Fatalf("right code: %d %q, want 303 /dashboard", r.code, r.location())
	}
	if c := b.cookie(sessCookie); c == pendingCookie {
		t.Error("the session token did not change when the login completed")
	}
	if r := b.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("dashboard after both factors: %d", r.code)
	}

	t.Run("code used twice", func(t *testing.T) {
		c := e.browser()
		c.password(t, "ada", nil)
		if r := c.post("/login/2fa", url.Values{"code": {code}}); r.code != http.StatusUnauthorized {
			t.Errorf("a used code again within its window: %d, want 401", r.code)
		}
	})
	t.Run("recovery code once", func(t *testing.T) {
		c := e.browser()
		c.password(t, "ada", nil)
		if r := c.post("/login/2fa", url.Values{"code": {strings.ToUpper(codes[0])}}); r.code != http.StatusSeeOther {
			t.Fatalf("recovery code: %d, want 303", r.code)
		}
		d := e.browser()
		d.password(t, "ada", nil)
		if r := d.post("/login/2fa", url.Values{"code": {codes[0]}}); r.code != http.StatusUnauthorized {
			t.Errorf("a used recovery code: %d, want 401", r.code)
		}
	})
	t.Run("next", func(t *testing.T) {
		e.nextStep()
		c := e.browser()
		c.password(t, "ada", url.Values{"next": {"/account"}})
		if r := c.post("/login/2fa", url.Values{"code": {e.code(secret)}}); r.location() != "/account" {
			t.Errorf("after the code with next=/account: %d %q", r.code, r.location())
		}
	})
	t.Run("pending expires", func(t *testing.T) {
		e.nextStep()
		c := e.browser()
		c.password(t, "ada", nil)
		e.clock.Advance(5*time.Minute + time.Second)
		r := c.post("/login/2fa", url.Values{"code": {e.code(secret)}})
		if r.code != http.StatusSeeOther || r.location() != "/login" {
			t.Errorf("code after 5 minutes: %d %q, want 303 /login", r.code, r.location())
		}
		if r := c.get("/dashboard"); r.code != http.StatusSeeOther {
			t.Errorf("dashboard: %d, want 303", r.code)
		}
	})
	t.Run("no pending login", func(t *testing.T) {
		c := e.browser()
		if r := c.post("/login/2fa", url.Values{"code": {e.code(secret)}}); r.code != http.StatusSeeOther || r.location() != "/login" {
			t.Errorf("code without a password first: %d %q, want 303 /login", r.code, r.location())
		}
	})
	t.Run("throttled", func(t *testing.T) {
		e.nextStep()
		c := e.browser()
		c.password(t, "ada", nil)
		var last int
		for range 12 {
			if last = c.post("/login/2fa", url.Values{"code": {"000000"}}).code; last == http.StatusTooManyRequests {
				break
			}
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("after 12 wrong codes: %d, want 429", last)
		}
		if r := c.post("/login/2fa", url.Values{"code": {e.code(secret)}}); r.code != http.StatusTooManyRequests {
			t.Errorf("the right code while throttled: %d, want 429", r.code)
		}
		mustContain(t, "audit log", e.logs.String(), `"2fa.failure"`)
	})
}

// A correct password does not clear the failed codes of the second step:
// someone who knows the password and logs in again after each wrong code
// still gets the limit of 10 (with the growing delay between them), as
// without the password step in between. Before, every password step
// cleared the count, and codes could be guessed at the per-address rate.
// Failed codes are counted for the account apart from its passwords, and
// for the owner's usual browser apart from everyone else: someone who
// knows the password can guess codes only up to the limit, and cannot
// lock the owner out by failing on purpose.
func TestTwoFACodesCountAcrossPasswordSteps(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	owner := e.loggedIn("ada")
	secret, _ := owner.enrol(t)
	schedule := throttle.New(nil, throttle.Config{})
	for i := range 10 {
		e.nextStep()
		c := e.browser()
		c.password(t, "ada", nil)
		if r := c.post("/login/2fa", url.Values{"code": {"000000"}}); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d after its own password step: %d, want 401", i+1, r.code)
		}
		e.clock.Advance(schedule.Delay(i + 1))
	}
	e.nextStep()
	c := e.browser()
	c.password(t, "ada", nil) // the password is right: still accepted
	if r := c.post("/login/2fa", url.Values{"code": {e.code(secret)}}); r.code != http.StatusTooManyRequests {
		t.Errorf("the right code after 10 wrong ones, each after a fresh password step: %d, want 429", r.code)
	}
	// The owner's browser, known by its device cookie, logs in meanwhile.
	e.nextStep()
	o := owner.withOnly("hallpass_device")
	o.password(t, "ada", nil)
	if r := o.post("/login/2fa", url.Values{"code": {e.code(secret)}}); r.code != http.StatusSeeOther {
		t.Errorf("the owner's browser with the right code after a stranger's 10 wrong ones: %d %q, want 303", r.code, r.body)
	}
}

func TestTwoFARememberMe(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	old := e.browser()
	old.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}})
	if old.cookie(rememberCookie) == "" {
		t.Fatal("no remember cookie")
	}
	secret, _ := e.loggedIn("ada").enrol(t)
	if r := old.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("a remember cookie issued before enrolment: %d, want 303 (void)", r.code)
	}
	e.nextStep()
	b := e.browser()
	b.password(t, "ada", url.Values{"remember": {"on"}})
	if b.cookie(rememberCookie) != "" {
		t.Error("a remember cookie before the second factor")
	}
	b.post("/login/2fa", url.Values{"code": {e.code(secret)}})
	if b.cookie(rememberCookie) == "" {
		t.Fatal("no remember cookie after both factors")
	}
	if r := b.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("remember cookie issued after both factors: %d, want 200", r.code)
	}
}

func TestTwoFADisableAndNewCodes(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	b := e.loggedIn("ada")
	secret, codes := b.enrol(t)
	e.nextStep()

	r := b.post("/account/2fa/recovery-codes", nil)
	fresh := codeRE.FindAllStringSubmatch(r.body, -1)
	if r.code != http.StatusOK || len(fresh) != 10 {
		t.Fatalf("new recovery codes: %d, %d codes", r.code, len(fresh))
	}
	c := e.browser()
	c.password(t, "ada", nil)
	if r := c.post("/login/2fa", url.Values{"code": {codes[1]}}); r.code != http.StatusUnauthorized {
		t.Errorf("an old recovery code after a new set: %d, want 401", r.code)
	}
	if r := c.post("/login/2fa", url.Values{"code": {fresh[0][1]}}); r.code != http.StatusSeeOther {
		t.Errorf("a new recovery code: %d, want 303", r.code)
	}

	if r := b.post("/account/2fa/disable", url.Values{"code": {"000000"}}); r.code != http.StatusUnauthorized {
		t.Errorf("disable with a wrong code: %d, want 401", r.code)
	}
	if r := b.post("/account/2fa/disable", url.Values{"code": {e.code(secret)}}); r.code != http.StatusSeeOther {
		t.Fatalf("disable: %d, want 303", r.code)
	}
	if r := c.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("another session after disabling: %d, want 303 (ended)", r.code)
	}
	mustContain(t, "audit log", e.logs.String(), `"2fa.disable"`, `"2fa.recovery_codes"`)
	if r := e.browser().login("ada", goodPassword); r.code != http.StatusSeeOther || r.location() != "/dashboard" {
		t.Errorf("login after disabling: %d %q, want 303 /dashboard", r.code, r.location())
	}
}

func TestTwoFAAPI(t *testing.T) {
	e := newEnv(t, withTwoFA)
	e.addUser("ada")
	secret, _ := e.loggedIn("ada").enrol(t)
	e.nextStep()
	c := e.browser()
	r := c.json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`"}`)
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, `"error":"second_factor_required"`) {
		t.Fatalf("POST /api/session: %d %s, want 401 second_factor_required", r.code, r.body)
	}
	if c.cookie(sessCookie) == "" {
		t.Fatal("no pending session cookie")
	}
	if r := c.get("/api/me"); r.code != http.StatusUnauthorized {
		t.Errorf("/api/me while pending: %d, want 401", r.code)
	}
	if r := c.json("POST", "/api/session/2fa", `{"code":"000000"}`); r.code != http.StatusUnauthorized || !strings.Contains(r.body, `"invalid_code"`) {
		t.Errorf("wrong code: %d %s", r.code, r.body)
	}
	if r := c.json("POST", "/api/session/2fa", `{}`); r.code != http.StatusBadRequest {
		t.Errorf("no code: %d, want 400", r.code)
	}
	r = c.json("POST", "/api/session/2fa", `{"code":"`+e.code(secret)+`"}`)
	var body struct {
		User struct {
			Username string `json:"username"`
		} `json:"user"`
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); r.code != http.StatusOK || err != nil || body.User.Username != "ada" || body.CSRFToken == "" {
		t.Fatalf("POST /api/session/2fa: %d %s", r.code, r.body)
	}
	if r := c.get("/api/me"); r.code != http.StatusOK {
		t.Errorf("/api/me after both factors: %d", r.code)
	}
	if r := e.browser().json("POST", "/api/session/2fa", `{"code":"123456"}`); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "login_expired") {
		t.Errorf("code without a pending login: %d %s", r.code, r.body)
	}
}

func TestTwoFARequiredForRole(t *testing.T) {
	e := newEnv(t, withTwoFA, func(c *server.Config) { c.Web.RequireSecondFactorFor = []string{"admin"} })
	e.addUser("root", "admin")
	e.addUser("ada")
	if r := e.loggedIn("ada").get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("a user without the role: %d, want 200", r.code)
	}
	b := e.loggedIn("root")
	for _, path := range []string{"/dashboard", "/admin", "/account"} {
		if r := b.get(path); r.code != http.StatusSeeOther || r.location() != "/account/2fa" {
			t.Errorf("GET %s before enrolling: %d %q, want 303 /account/2fa", path, r.code, r.location())
		}
	}
	if r := b.get("/api/me", "Accept", "application/json"); r.code != http.StatusUnauthorized {
		t.Errorf("API before enrolling: %d, want 401", r.code)
	}
	secret, _ := b.enrol(t)
	if r := b.get("/admin"); r.code != http.StatusOK {
		t.Errorf("admin page after enrolling: %d, want 200", r.code)
	}
	e.nextStep()
	c := e.browser()
	c.password(t, "root", nil)
	c.post("/login/2fa", url.Values{"code": {e.code(secret)}})
	if r := c.get("/admin"); r.code != http.StatusOK {
		t.Errorf("admin page after logging in with both factors: %d, want 200", r.code)
	}
}
