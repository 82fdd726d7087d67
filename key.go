package hallpass

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile returns the secret key kept in the file at path, creating the
// file (and its directory, mode 0700) with a new random key of 256 bits,
// mode 0600, when it does not exist. Keep the file: a new key logs
// everyone out. Two processes starting at once agree on one key.
func KeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create the data directory: %w", err)
		}
		var k [32]byte
		rand.Read(k[:])
		b = []byte(hex.EncodeToString(k[:]) + "\n")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			// Another process generated it first: use theirs.
			return KeyFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("create the secret key file: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("write the secret key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write the secret key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read the secret key file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if len(k) < 32 {
		return nil, fmt.Errorf("the secret key in %s is shorter than 32 characters; delete the file to generate a new one (this logs everyone out)", path)
	}
	return []byte(k), nil
}
