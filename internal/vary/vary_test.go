package vary

import (
	"net/http"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		have []string
		want []string
	}{
		{nil, []string{"Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{[]string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{[]string{"Cookie"}, []string{"Cookie"}},
		{[]string{"*"}, []string{"*"}},
	}
	for _, tt := range tests {
		h := http.Header{"Vary": tt.have}
		Add(h, "Cookie")
		if got := h.Values("Vary"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Add(%q, Cookie) = %q, want %q", tt.have, got, tt.want)
		}
	}
}
