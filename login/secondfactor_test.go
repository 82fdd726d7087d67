package login_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/login"
)

// fakeFactor is a second factor enrolled at a fixed time, accepting one
// code.
type fakeFactor struct {
	at   time.Time
	code string
}

func (f fakeFactor) EnrolledAt(context.Context, string) (time.Time, error) { return f.at, nil }

func (f fakeFactor) Verify(_ context.Context, _, code string) error {
	if code != f.code {
		return login.ErrWrongCode
	}
	return nil
}

func TestFactors(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	none := fakeFactor{}
	tests := []struct {
		name    string
		f       login.Factors
		wantAt  time.Time
		code    string
		wantErr error
	}{
		{"code factor only", login.Factors{Code: fakeFactor{t2, "123456"}}, t2, "123456", nil},
		{"earliest of both", login.Factors{Code: fakeFactor{t2, "123456"}, Others: []interface {
			EnrolledAt(context.Context, string) (time.Time, error)
		}{fakeFactor{at: t1}}}, t1, "123456", nil},
		{"passkey only: codes refused", login.Factors{Code: none, Others: []interface {
			EnrolledAt(context.Context, string) (time.Time, error)
		}{fakeFactor{at: t1}}}, t1, "123456", login.ErrWrongCode},
		{"no code factor", login.Factors{}, time.Time{}, "123456", login.ErrWrongCode},
		{"wrong code", login.Factors{Code: fakeFactor{t2, "123456"}}, t2, "000000", login.ErrWrongCode},
	}
	for _, tt := range tests {
		at, err := tt.f.EnrolledAt(context.Background(), "u1")
		if err != nil || !at.Equal(tt.wantAt) {
			t.Errorf("%s: EnrolledAt = %v, %v, want %v", tt.name, at, err, tt.wantAt)
		}
		if err := tt.f.Verify(context.Background(), "u1", tt.code); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("%s: Verify(%q) = %v, want %v", tt.name, tt.code, err, tt.wantErr)
		}
	}
}
