package main

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/hallpass/hallpass/twofa"
)

// With -totp, the admin must enrol before /admin; afterwards a login asks
// for the code after the password.
func TestTOTP(t *testing.T) {
	srv := startWith(t, false, options{TOTP: true})
	b := newBrowser(t, srv)
	b.register("ada") // the admin
	b.want("GET /admin before enrolling", b.get("/admin"), http.StatusSeeOther, "/2fa")
	b.want("GET /2fa", b.get("/2fa"), http.StatusOK, "", `id="totp-secret"`, "otpauth://totp/")
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(b.last)[1]
	b.want("wrong code", b.post("/2fa", url.Values{"code": {"000000"}}, "/2fa"), http.StatusUnauthorized, "", "That code is not correct.")
	code, _ := twofa.Code(secret, time.Now())
	b.want("enrol", b.post("/2fa", url.Values{"code": {code}}, "/2fa"), http.StatusOK, "", "recovery codes")
	recovery := regexp.MustCompile(`<li><code>([a-z2-7-]+)</code>`).FindStringSubmatch(b.last)[1]
	b.want("GET /admin after enrolling", b.get("/admin"), http.StatusOK, "")

	c := newBrowser(t, srv)
	c.want("password", c.post("/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "next": {"/admin"}}, "/login"), http.StatusSeeOther, "/login/2fa")
	c.want("notes while pending", c.get("/notes"), http.StatusSeeOther, "/login?next=%2Fnotes")
	c.want("wrong code", c.post("/login/2fa", url.Values{"code": {"000000"}}, "/login/2fa"), http.StatusUnauthorized, "", "That code is not correct.")
	c.want("recovery code", c.post("/login/2fa", url.Values{"code": {recovery}}, "/login/2fa"), http.StatusSeeOther, "/admin")
	c.want("GET /admin", c.get("/admin"), http.StatusOK, "")
}
