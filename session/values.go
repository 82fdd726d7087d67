package session

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

func encodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("session: encode value: %w", err)
	}
	return b, nil
}

// Get decodes the value of key into dst (a pointer, as for
// json.Unmarshal) and reports whether the key was present. A value that
// does not decode into dst is an error.
func (s *Session) Get(key string, dst any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	b, ok := s.get(key)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return true, fmt.Errorf("session: decode %q: %w", key, err)
	}
	return true, nil
}

// Raw returns the encoded (JSON) value of key and whether it is present,
// without decoding it: for a caller that keeps its own decoded copies
// keyed by the encoding. The bytes are shared; do not modify them.
func (s *Session) Raw(key string) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	b, ok := s.get(key)
	s.mu.Unlock()
	return b, ok
}

// Put sets key to value, encoded as JSON. It fails only when value cannot
// be encoded or the session could not be loaded.
func (s *Session) Put(key string, value any) error {
	if s == nil {
		return ErrNoSession
	}
	b, err := encodeValue(value)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(key, b)
}

// Delete removes key. Removing a missing key does nothing.
func (s *Session) Delete(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.remove(key)
	s.mu.Unlock()
}

// Pop decodes the value of key into dst, removes the key, and reports
// whether it was present.
func (s *Session) Pop(key string, dst any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	b, ok := s.get(key)
	if ok {
		s.remove(key)
	}
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return true, fmt.Errorf("session: decode %q: %w", key, err)
	}
	return true, nil
}

// Has reports whether key is present.
func (s *Session) Has(key string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.get(key)
	return ok
}

// Keys returns the keys present in the session, sorted.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensure() != nil {
		return nil
	}
	var keys []string
	if s.rec != nil {
		for k := range s.rec.Values {
			if _, gone := s.del[k]; !gone {
				if _, dup := s.set[k]; !dup {
					keys = append(keys, k)
				}
			}
		}
	}
	for k := range s.set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// GetBytes returns the []byte value of key (kept, as Put keeps a []byte,
// as a base64 JSON string), or nil when it is missing or not one. It
// decodes without a JSON decoder, for values read on every request such
// as the login manager's CSRF secret.
func (s *Session) GetBytes(key string) []byte {
	b, ok := s.Raw(key)
	if !ok || len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil
	}
	b = b[1 : len(b)-1]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		// Not the plain base64 Put writes (escapes, say): decode it as
		// JSON, to the same result Get would give.
		var v []byte
		if _, err := s.Get(key, &v); err != nil {
			return nil
		}
		return v
	}
	return out[:n]
}

// GetString returns the string value of key, or "" when it is missing or
// not a string.
func (s *Session) GetString(key string) string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	b, ok := s.get(key)
	s.mu.Unlock()
	if !ok {
		return ""
	}
	if v, ok := plainString(b); ok {
		return v
	}
	var v string
	json.Unmarshal(b, &v)
	return v
}

// plainString decodes a JSON string without escapes, the common case,
// without the cost of encoding/json.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// GetInt returns the integer value of key, or 0 when it is missing or not
// an integer.
func (s *Session) GetInt(key string) int64 {
	var v int64
	s.Get(key, &v)
	return v
}

// GetBool returns the boolean value of key, or false when it is missing or
// not a boolean.
func (s *Session) GetBool(key string) bool {
	var v bool
	s.Get(key, &v)
	return v
}

// GetTime returns the time value of key, or the zero time when it is
// missing or not a time.
func (s *Session) GetTime(key string) time.Time {
	// A time is kept as its JSON, a quoted RFC 3339 string: parse that
	// directly, without a JSON decoder, as it is read on every request.
	var v time.Time
	b, ok := s.Raw(key)
	if !ok || len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || v.UnmarshalText(b[1:len(b)-1]) != nil {
		return time.Time{}
	}
	return v
}

// PopString returns the string value of key and removes the key.
func (s *Session) PopString(key string) string {
	var v string
	s.Pop(key, &v)
	return v
}

// Flash is a message shown once, on the next page the browser loads.
type Flash struct {
	Category string `json:"c,omitempty"` // e.g. "success", "error"; free-form
	Message  string `json:"m"`
}

// AddFlash queues a message for the next page, as Flask's flash does.
func (s *Session) AddFlash(category, message string) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Flash
	if b, ok := s.get(flashKey); ok {
		json.Unmarshal(b, &list) // a damaged list is replaced
	}
	list = append(list, Flash{Category: category, Message: message})
	b, err := encodeValue(list)
	if err != nil {
		return err
	}
	return s.put(flashKey, b)
}

// Flashes returns the queued messages and removes them, so each is shown
// once.
func (s *Session) Flashes() []Flash {
	if !s.Has(flashKey) {
		return nil // most pages: no decoder, no allocation
	}
	var list []Flash
	s.Pop(flashKey, &list)
	return list
}
