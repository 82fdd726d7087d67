package apitoken_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/memstore"
)

// TestIssueRules checks the rules a new token obeys, whoever asks:
// readable name, lifetime within MaxLifetime, known scopes, admin scope
// for administrators only.
func TestIssueRules(t *testing.T) {
	user := apitoken.Actor{UserID: "7", IP: "192.0.2.1"}
	admin := apitoken.Actor{UserID: "8", IP: "192.0.2.2", Admin: true}
	tests := []struct {
		name      string
		actor     apitoken.Actor
		tokName   string
		scopes    []string
		expiresIn time.Duration
		wantErr   error  // nil for success
		wantField string // the field the error names
		wantKind  autherr.Kind
	}{
		{"plain", user, "ci", []string{"read"}, time.Hour, nil, "", ""},
		{"never expires", user, "ci", []string{"read"}, 0, nil, "", ""},
		{"ten years", user, "ci", []string{"read"}, apitoken.MaxLifetime, nil, "", ""},
		{"over ten years", user, "ci", []string{"read"}, apitoken.MaxLifetime + time.Second, account.ErrInvalid, "expires_in", autherr.Invalid},
		{"in the past", user, "ci", []string{"read"}, -time.Second, account.ErrInvalid, "expires_in", autherr.Invalid},
		{"unreadable name", user, "ci\xff", []string{"read"}, time.Hour, account.ErrInvalid, "name", autherr.Invalid},
		{"empty name", user, "  ", []string{"read"}, time.Hour, account.ErrInvalid, "name", autherr.Invalid},
		{"unknown scope", user, "ci", []string{"root"}, time.Hour, account.ErrInvalid, "scopes", autherr.Invalid},
		{"admin scope for a user", user, "ci", []string{"read", "admin"}, time.Hour, apitoken.ErrAdminScope, "scopes", autherr.Forbidden},
		{"admin scope for an admin", admin, "ci", []string{"read", "admin"}, time.Hour, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &apitoken.Service{Store: memstore.NewAccountStore(), Audit: audit.New(slog.New(slog.NewJSONHandler(&logs, nil)))}
			secret, tok, err := s.Issue(context.Background(), tt.actor, tt.tokName, tt.scopes, tt.expiresIn)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Issue = %v, want success", err)
				}
				if !apitoken.WellFormed(secret) || tok.UserID != tt.actor.UserID {
					t.Errorf("Issue = %q, %+v", secret, tok)
				}
				if l := logs.String(); !strings.Contains(l, audit.TokenCreate) || !strings.Contains(l, tt.actor.IP) || !strings.Contains(l, tok.ID) {
					t.Errorf("audit log %q lacks the token.create event with IP and token ID", l)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || autherr.KindOf(err) != tt.wantKind || autherr.FieldsOf(err)[tt.wantField] == "" {
				t.Errorf("Issue = %v (kind %q, fields %v), want %v of kind %q naming %q",
					err, autherr.KindOf(err), autherr.FieldsOf(err), tt.wantErr, tt.wantKind, tt.wantField)
			}
			if logs.Len() != 0 {
				t.Errorf("a refused token was audited: %s", logs.String())
			}
		})
	}
}

func TestRevokeByAudits(t *testing.T) {
	var logs bytes.Buffer
	s := &apitoken.Service{Store: memstore.NewAccountStore(), Audit: audit.New(slog.New(slog.NewJSONHandler(&logs, nil)))}
	ctx := context.Background()
	a := apitoken.Actor{UserID: "7", IP: "192.0.2.1"}
	_, tok, err := s.Create(ctx, a.UserID, "ci", []string{"read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeBy(ctx, apitoken.Actor{UserID: "8"}, tok.ID); !errors.Is(err, account.ErrNotFound) || autherr.KindOf(err) != autherr.NotFound {
		t.Errorf("another user's RevokeBy = %v, want account.ErrNotFound of kind not_found", err)
	}
	if err := s.RevokeBy(ctx, a, tok.ID); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); strings.Count(l, audit.TokenRevoke) != 1 || !strings.Contains(l, a.IP) {
		t.Errorf("audit log %q, want one token.revoke event with the IP", l)
	}
}

// failingStore is a token store whose every call fails.
type failingStore struct{ account.TokenStore }

func (failingStore) ListTokens(context.Context, string) ([]*account.APIToken, error) {
	return nil, errors.New("dial tcp 10.0.0.1:5432: connection refused")
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	s := &apitoken.Service{Store: failingStore{}}
	_, err := s.List(context.Background(), "7")
	if autherr.KindOf(err) != autherr.Unavailable || strings.Contains(autherr.MessageOf(err), "refused") {
		t.Errorf("List on a store that is down = %v (kind %q, message %q), want unavailable without the cause", err, autherr.KindOf(err), autherr.MessageOf(err))
	}
}
