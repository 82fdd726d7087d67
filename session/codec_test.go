package session

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestValuesRoundTrip(t *testing.T) {
	many := make(map[string][]byte)
	for i := range 1000 {
		many[strings.Repeat("k", i%7)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = bytes.Repeat([]byte{byte(i)}, i%300)
	}
	tests := []struct {
		name   string
		values map[string][]byte
	}{
		{"nil", nil},
		{"empty", map[string][]byte{}},
		{"one", map[string][]byte{"user": []byte(`"alice"`)}},
		{"empty key and value", map[string][]byte{"": {}, "nil": nil}},
		{"binary", map[string][]byte{"zero": {0, 0, 0}, "utf8": {0xff, 0xfe, 0x80}, "héllo wörld 日本": []byte("x")}},
		{"long", map[string][]byte{strings.Repeat("k", 300): bytes.Repeat([]byte("v"), 1<<20)}},
		{"many", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeValues(tt.values)
			got, err := DecodeValues(b)
			if err != nil {
				t.Fatalf("DecodeValues(EncodeValues(%d values)) error: %v", len(tt.values), err)
			}
			if got == nil {
				t.Fatal("DecodeValues returned a nil map")
			}
			if !maps.EqualFunc(got, tt.values, bytes.Equal) {
				t.Errorf("DecodeValues(EncodeValues(m)) differs from m (%d keys, want %d)", len(got), len(tt.values))
			}
			if len(b) > 1+10+len(tt.values)*20+totalLen(tt.values) {
				t.Errorf("EncodeValues produced %d bytes, larger than its documented format allows", len(b))
			}
		})
	}
}

func totalLen(m map[string][]byte) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

func TestEncodeValuesDeterministic(t *testing.T) {
	m := map[string][]byte{"b": []byte("2"), "a": []byte("1"), "c": []byte("3"), "": nil}
	want := EncodeValues(m)
	for range 20 {
		if got := EncodeValues(maps.Clone(m)); !bytes.Equal(got, want) {
			t.Fatalf("EncodeValues(m) = %x, want %x (the same bytes every time)", got, want)
		}
	}
	// version 1, 4 entries, then sorted keys: "", "a", "b", "c".
	exact := []byte{1, 4, 0, 0, 1, 'a', 1, '1', 1, 'b', 1, '2', 1, 'c', 1, '3'}
	if !bytes.Equal(want, exact) {
		t.Errorf("EncodeValues(m) = %x, want %x", want, exact)
	}
}

func TestDecodeValuesAliasing(t *testing.T) {
	b := EncodeValues(map[string][]byte{"a": []byte("xy"), "b": []byte("zw")})
	got, err := DecodeValues(b)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got["a"], '!') // must not overwrite the next entry
	if string(got["b"]) != "zw" {
		t.Errorf(`after appending to values["a"], values["b"] = %q, want "zw"`, got["b"])
	}
}

func TestDecodeValuesCorrupt(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"unknown version", []byte{2, 0}},
		{"version zero", []byte{0, 0}},
		{"no count", []byte{1}},
		{"count overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"huge count", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0}},
		{"count beyond data", []byte{1, 2, 0, 0}},
		{"key truncated", []byte{1, 1, 5, 'a', 'b', 0}},
		{"value length missing", []byte{1, 1, 1, 'a'}},
		{"value truncated", []byte{1, 1, 1, 'a', 3, 'x', 'y'}},
		{"value length overflow", []byte{1, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"value length huge", []byte{1, 1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"trailing bytes", []byte{1, 1, 1, 'a', 1, 'x', 0}},
		{"trailing after empty", []byte{1, 0, 0}},
		{"repeated key", []byte{1, 2, 1, 'a', 1, 'x', 1, 'a', 1, 'y'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeValues(tt.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("DecodeValues(%x) = %v, %v; want an error wrapping ErrCorrupt", tt.data, got, err)
			}
		})
	}
}

func FuzzDecodeValues(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0})
	f.Add(EncodeValues(map[string][]byte{"a": []byte("1"), "": nil, "zero": {0, 0xff}}))
	f.Add([]byte{1, 2, 1, 'a', 1, 'x', 1, 'a', 1, 'y'})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		values, err := DecodeValues(data)
		if !bytes.Equal(in, data) {
			t.Fatalf("DecodeValues modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeValues(%x) error %v does not wrap ErrCorrupt", data, err)
			}
			return
		}
		if values == nil {
			t.Fatalf("DecodeValues(%x) returned a nil map and no error", data)
		}
		again, err := DecodeValues(EncodeValues(values))
		if err != nil {
			t.Fatalf("DecodeValues(EncodeValues(DecodeValues(%x))) error: %v", data, err)
		}
		if !maps.EqualFunc(values, again, bytes.Equal) {
			t.Fatalf("re-encoding %x changed the values", data)
		}
	})
}
