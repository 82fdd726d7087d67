package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/sqlitestore"
)

// The OpenID Connect settings: each provider's variables, their defaults,
// and a missing or bad one named in the error without its secret.
func TestOIDCSettings(t *testing.T) {
	full := map[string]string{
		"HALLPASS_OIDC_PROVIDERS":              "google, corp-sso",
		"HALLPASS_OIDC_GOOGLE_ISSUER":          "https://accounts.google.com",
		"HALLPASS_OIDC_GOOGLE_CLIENT_ID":       "gid",
		"HALLPASS_OIDC_GOOGLE_CLIENT_SECRET":   "gsecret-hunter2",
		"HALLPASS_OIDC_CORP_SSO_ISSUER":        "https://sso.corp.example/realms/staff",
		"HALLPASS_OIDC_CORP_SSO_CLIENT_ID":     "cid",
		"HALLPASS_OIDC_CORP_SSO_CLIENT_SECRET": "csecret-hunter2",
		"HALLPASS_OIDC_CORP_SSO_LABEL":         "Corp",
		"HALLPASS_OIDC_CORP_SSO_SCOPES":        "openid email groups",
		"HALLPASS_OIDC_CORP_SSO_SIGNUP":        "false",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	got, err := oidcProviders(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "google" || got[0].Label != "" || got[0].NoSignup || got[0].Scopes != nil ||
		got[1].ID != "corp-sso" || got[1].Label != "Corp" || !got[1].NoSignup || strings.Join(got[1].Scopes, " ") != "openid email groups" ||
		got[1].Issuer != "https://sso.corp.example/realms/staff" || got[1].ClientSecret != "csecret-hunter2" {
		t.Errorf("oidcProviders = %+v", got)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with("HALLPASS_OIDC_GOOGLE_CLIENT_SECRET", ""), "HALLPASS_OIDC_GOOGLE_CLIENT_SECRET is not set"},
		{with("HALLPASS_OIDC_CORP_SSO_ISSUER", ""), "HALLPASS_OIDC_CORP_SSO_ISSUER is not set"},
		{with("HALLPASS_OIDC_GOOGLE_CLIENT_ID", ""), "HALLPASS_OIDC_GOOGLE_CLIENT_ID is not set"},
		{with("HALLPASS_OIDC_GOOGLE_ISSUER", "accounts.google.com"), "HALLPASS_OIDC_GOOGLE_ISSUER: invalid value"},
		{with("HALLPASS_OIDC_CORP_SSO_SIGNUP", "maybe"), "HALLPASS_OIDC_CORP_SSO_SIGNUP: invalid value"},
		{with("HALLPASS_OIDC_PROVIDERS", "Google"), "HALLPASS_OIDC_PROVIDERS: invalid provider ID"},
		{with("HALLPASS_OIDC_PROVIDERS", "google,google"), "listed twice"},
	} {
		_, err := oidcProviders(func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("oidcProviders = %v, want an error with %q", err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q repeats a client secret", err)
		}
	}
	if u := unknownVariables([]string{"HALLPASS_OIDC_PROVIDERS=corp-sso", "HALLPASS_OIDC_CORP_SSO_ISSUER=x", "HALLPASS_OIDC_CORP_SSO_SIGNUP=1",
		"HALLPASS_OIDC_GOOGLE_ISSUER=x", "HALLPASS_OIDC_CORP_SSO_ISUER=x"}); strings.Join(u, " ") != "HALLPASS_OIDC_CORP_SSO_ISUER HALLPASS_OIDC_GOOGLE_ISSUER" {
		t.Errorf("unknownVariables = %q, want the unlisted provider's and the misspelt variable", u)
	}
}

// users list and users show name the linked identities; users unlink
// removes them by provider.
func TestCLIIdentities(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--password-stdin")
	c.ok("another fine passphrase", "users", "add", "bob", "--email", "b@example.com", "--password-stdin")
	ctx := context.Background()
	db, err := sqlitestore.Open(ctx, filepath.Join(c.data, "hallpass.db"), sqlitestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := db.Accounts().UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	for _, l := range []*identity.Identity{
		{Issuer: "https://accounts.google.com", Subject: "g1", Provider: "google", UserID: alice.ID, Email: "alice@gmail.example", CreatedAt: at, LastUsedAt: at.Add(time.Hour)},
		{Issuer: "https://sso.corp.example", Subject: "c1", Provider: "corp", UserID: alice.ID, Email: "alice@corp.example", CreatedAt: at, LastUsedAt: at},
	} {
		if err := db.Identities().LinkIdentity(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	out := c.ok("", "users", "list")
	if !strings.Contains(out, "IDENTITIES") || !lineHas(out, "alice", "google,corp") || !lineHas(out, "bob", " - ") {
		t.Errorf("users list does not show the identities:\n%s", out)
	}
	out = c.ok("", "users", "show", "alice")
	if !strings.Contains(out, "google (alice@gmail.example), since 2026-05-01 09:30, last used 2026-05-01 10:30") {
		t.Errorf("users show alice does not list the google identity:\n%s", out)
	}
	var shown struct {
		Identities []struct{ Provider, Issuer, Email string }
	}
	if err := json.Unmarshal([]byte(c.ok("", "users", "show", "alice", "-o", "json")), &shown); err != nil || len(shown.Identities) != 2 {
		t.Errorf("users show -o json: %v, %+v; want 2 identities", err, shown)
	}

	out = c.ok("", "users", "unlink", "alice", "google")
	if !strings.Contains(out, "disconnected alice from google (1 identity)") {
		t.Errorf("users unlink said %q", out)
	}
	if out := c.ok("", "users", "show", "alice"); strings.Contains(out, "google") || !strings.Contains(out, "corp") {
		t.Errorf("after unlink, users show alice:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "unlink", "alice", "google"}, `alice has no identity at "google"`},
		{[]string{"users", "unlink", "nobody", "google"}, `no user named "nobody"`},
		{[]string{"users", "unlink", "alice"}, "want a username and a provider ID"},
	} {
		if msg, _ := c.fails("", tc.args...); !strings.Contains(msg, tc.want) {
			t.Errorf("hallpass %s: %q, want %q", strings.Join(tc.args, " "), msg, tc.want)
		}
	}
	if _, stderr, _ := c.exec("", "users", "unlink", "alice", "corp"); !strings.Contains(stderr, "oidc.unlink") {
		t.Errorf("users unlink was not audited:\n%s", stderr)
	}
}

// lineHas reports whether a line of out contains both a and b.
func lineHas(out, a, b string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}
