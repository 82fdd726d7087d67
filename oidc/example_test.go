package oidc_test

import (
	"fmt"
	"net/http"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// An app mounts "Sign in with Google" beside its login Manager; the
// redirect URI to register at Google is BaseURL + /login/oidc/google/callback.
func Example() {
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, _ := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	lm, _ := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{}})

	svc, err := oidc.New(oidc.Config{
		Providers: []oidc.Provider{{
			ID: "google", Label: "Google", Issuer: "https://accounts.google.com",
			ClientID: "1234.apps.googleusercontent.com", ClientSecret: "from the Google console",
		}},
		BaseURL:    "https://notes.example.com",
		Login:      lm,
		Identities: memstore.NewIdentityStore(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	mux := http.NewServeMux()
	svc.Register(mux) // POST /login/oidc/{id}, GET /login/oidc/{id}/callback, POST /login/oidc/{id}/disconnect
	_ = sessions.Middleware(lm.Middleware(mux))

	fmt.Println(svc.RedirectURL("google"))
	for _, b := range svc.Buttons() {
		fmt.Printf("<form method=post action=%s> Sign in with %s\n", b.Action, b.Label)
	}
	// Output:
	// https://notes.example.com/login/oidc/google/callback
	// <form method=post action=/login/oidc/google> Sign in with Google
}
