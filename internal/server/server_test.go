package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/web"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestNewRefusesBadConfig(t *testing.T) {
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	accounts := memstore.NewAccountStore()
	tests := []struct {
		name string
		cfg  server.Config
		want string // in the error
	}{
		{"no session store", server.Config{Accounts: accounts, Keys: [][]byte{key}}, "required"},
		{"no accounts", server.Config{SessionStore: mem, Keys: [][]byte{key}}, "required"},
		{"no keys", server.Config{SessionStore: mem, Accounts: accounts}, "required"},
		{"bad base URL", server.Config{SessionStore: mem, Accounts: accounts, Keys: [][]byte{key}, Web: web.Config{BaseURL: "::"}}, "BaseURL"},
		{"negative timeout", server.Config{SessionStore: mem, Accounts: accounts, Keys: [][]byte{key}, IdleTimeout: -1}, "negative"},
	}
	for _, tt := range tests {
		if _, err := server.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestNewServes(t *testing.T) {
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	srv, err := server.New(server.Config{SessionStore: mem, Accounts: memstore.NewAccountStore(), Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Login.Config().Sessions != srv.Sessions || srv.Login.Config().Tokens != srv.Tokens {
		t.Error("the login Manager is not built on the Server's session manager and token service")
	}
	w := httptest.NewRecorder()
	srv.Web.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/me", nil))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"error":"unauthenticated"`) {
		t.Errorf("GET /api/me anonymous = %d %s, want 401 JSON", w.Code, w.Body)
	}
}
