package seqid

import (
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		id     string
		want   int64
		wantOK bool
	}{
		{"1", 1, true},
		{"42", 42, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"9223372036854775808", 0, false}, // overflows int64
		{"١", 0, false},                   // an Arabic-Indic digit one
	}
	for _, tt := range tests {
		got, ok := Parse(tt.id)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Parse(%q) = %d, %t; want %d, %t", tt.id, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	for _, n := range []int64{1, 9, 10, 99, 100, 1 << 40, math.MaxInt64} {
		id := Format(n)
		if got, ok := Parse(id); got != n || !ok {
			t.Errorf("Parse(Format(%d)) = Parse(%q) = %d, %t; want %d, true", n, id, got, ok, n)
		}
	}
}
