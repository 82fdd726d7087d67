package oidc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// hugeBytes is the size of a hostile provider's answer: far over
// maxResponseBytes, and over what the sockets' buffers hold, so that a
// client that stops reading at the limit cuts the answer short.
const hugeBytes = 64 << 20

// hostileProvider is a provider whose discovery document (big "discovery")
// or UserInfo answer (big "userinfo") is hugeBytes long, sent with its
// Content-Length or chunked. The handler reports on cut whether the
// client closed the connection before the whole answer was sent.
func hostileProvider(t *testing.T, big string, withLength bool) (srv *httptest.Server, cut <-chan bool) {
	t.Helper()
	done := make(chan bool, 1)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		huge := "/userinfo"
		if big == "discovery" {
			huge = "/.well-known/openid-configuration"
		}
		switch r.URL.Path {
		case huge:
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/auth","token_endpoint":"%[1]s/token",`+
				`"jwks_uri":"%[1]s/keys","userinfo_endpoint":"%[1]s/userinfo"}`, srv.URL)
			return
		default:
			http.NotFound(w, r)
			return
		}
		if withLength {
			w.Header().Set("Content-Length", strconv.Itoa(hugeBytes))
		}
		chunk := bytes.Repeat([]byte(" "), 32<<10)
		for sent := 0; sent < hugeBytes; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				done <- true
				return
			}
		}
		done <- false
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

// limitService returns a Service with one provider "corp" at issuer, after
// its first discovery, and the log's text.
func limitService(t *testing.T, issuer string) (*Service, *bytes.Buffer) {
	t.Helper()
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	t.Cleanup(func() { store.Close() })
	sessions, err := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	lm, err := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{},
		Audit: audit.New(logger)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Providers: []Provider{{ID: "corp", Issuer: issuer, ClientID: "app"}},
		BaseURL: "https://app.example", Login: lm, Identities: memstore.NewIdentityStore(), Logger: logger,
		RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	svc.WaitDiscovery(t.Context())
	return svc, &logs
}

// A provider's answer over maxResponseBytes fails, whether its
// Content-Length says so or not, and is not read to its end: discovery
// fails (the provider stays unavailable), and a UserInfo answer is not
// used (the sign-in goes on with the ID token's claims).
func TestProviderResponsesLimited(t *testing.T) {
	for _, big := range []string{"discovery", "userinfo"} {
		for _, withLength := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, Content-Length %v", big, withLength), func(t *testing.T) {
				srv, cut := hostileProvider(t, big, withLength)
				svc, logs := limitService(t, srv.URL)
				p := svc.byID["corp"]
				if big == "userinfo" {
					if p.discovered() == nil {
						t.Fatalf("discovery failed:\n%s", logs)
					}
					ctx := context.WithValue(t.Context(), oauth2.HTTPClient, svc.cfg.HTTPClient)
					c := claims{Email: "ada@example.com"}
					tok := &oauth2.Token{AccessToken: "x", TokenType: "Bearer"}
					if err := svc.userInfo(ctx, p, tok, "sub", &c); err != nil || c.Email != "ada@example.com" {
						t.Errorf("userInfo = %v, email %q; want nil and the ID token's claims kept", err, c.Email)
					}
				} else if svc.Buttons()[0].Ready {
					t.Errorf("discovery of an oversized document succeeded")
				}
				if !strings.Contains(logs.String(), errTooLarge.Error()) {
					t.Errorf("log lacks %q:\n%s", errTooLarge, logs)
				}
				select {
				case c := <-cut:
					if !c {
						t.Errorf("the %s answer of %d bytes was read to its end", big, hugeBytes)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("the %s answer is still being sent after 10 s", big)
				}
			})
		}
	}
}
