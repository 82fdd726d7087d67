package password

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vector is one entry of testdata/werkzeug_vectors.json or
// testdata/other_vectors.json, written by testdata/gen_werkzeug_vectors.py
// from the libraries that define each format.
type vector struct {
	Source   string `json:"source"`
	Note     string `json:"note"`
	Password string `json:"password"`
	Hash     string `json:"hash"`
	Want     bool   `json:"want"`
	// Error, if set, is the error Verify must return instead of a result:
	// "too_long" (ErrTooLong) or "malformed" (ErrMalformedHash).
	Error string `json:"error"`
}

func loadVectors(t *testing.T, name string) []vector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(file.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return file.Vectors
}

var vectorErrors = map[string]error{
	"too_long":  ErrTooLong,
	"malformed": ErrMalformedHash,
}

func testVectors(t *testing.T, name string) {
	vectors := loadVectors(t, name)
	var h Hasher
	sources := map[string]int{}
	for _, v := range vectors {
		sources[v.Source]++
		// Slow vectors run with the library defaults; their wrong-password
		// twins do the same work as the fast ones, so they are skipped.
		if slow := strings.Contains(v.Note, "(slow)"); slow && (testing.Short() || !v.Want) {
			continue
		}
		got, err := h.Verify(context.Background(), v.Password, v.Hash)
		if v.Error != "" {
			want := vectorErrors[v.Error]
			if want == nil {
				t.Fatalf("%s: unknown error kind %q", name, v.Error)
			}
			if !errors.Is(err, want) || got {
				t.Errorf("%s [%s]: Verify(%q, %q) = %v, %v; want an error wrapping %v", v.Source, v.Note, v.Password, v.Hash, got, err, want)
			}
			continue
		}
		if err != nil || got != v.Want {
			t.Errorf("%s [%s]: Verify(%q, %q) = %v, %v; want %v, nil", v.Source, v.Note, v.Password, v.Hash, got, err, v.Want)
		}
		if !strings.Contains(v.Hash, "argon2id") && !h.NeedsRehash(v.Hash) {
			t.Errorf("%s: NeedsRehash(%q) = false, want true for a legacy hash", v.Source, v.Hash)
		}
	}
	t.Logf("%s: %v", name, sources)
}

// TestWerkzeugVectors checks hashes made by Werkzeug 2.2.2 (Debian) and 3.1.8.
func TestWerkzeugVectors(t *testing.T) {
	testVectors(t, "werkzeug_vectors.json")
}

// TestOtherVectors checks hashes made by Django, python3-bcrypt, htpasswd,
// argon2-cffi and the reference argon2 tool.
func TestOtherVectors(t *testing.T) {
	testVectors(t, "other_vectors.json")
}
