package account_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/account"
)

func TestValidateText(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when accepted, else part of the message
	}{
		{"CI deploy", ""},
		{"Téléphone de Zoë", ""},
		{"שלום laptop", ""}, // right-to-left letters are text, not overrides
		{"emoji 🔑", ""},
		{"", ""},
		{"a\x00b", "control characters"},
		{"a\tb", "control characters"},
		{"line\nbreak", "control characters"},
		{"esc\x1b[31m", "control characters"},
		{"del\x7f", "control characters"},
		{"c1\u0085", "control characters"},
		{"c1\u009b", "control characters"},
		{"evil\u202egnp.exe", "direction of text"},
		{"\u202alre", "direction of text"},
		{"\u202dlro", "direction of text"},
		{"iso\u2066late", "direction of text"},
		{"pdi\u2069", "direction of text"},
		{"bad\xffutf8", "could not be read"},
		{"\xc3", "could not be read"},
	}
	for _, tt := range tests {
		err := account.ValidateText("name", "A token name", tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidateText(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		var fe *account.FieldError
		if !errors.As(err, &fe) || fe.Field != "name" || !strings.HasPrefix(fe.Message, "A token name ") || !strings.Contains(fe.Message, tt.want) {
			t.Errorf("ValidateText(%q) = %v, want a FieldError for name saying %q", tt.in, err, tt.want)
			continue
		}
		if !errors.Is(err, account.ErrInvalid) {
			t.Errorf("ValidateText(%q) = %v, which does not wrap ErrInvalid", tt.in, err)
		}
	}
}
