package memcachestore

import "time"

// SetBeforeCAS makes every Update of s call f between reading the record
// and writing it back.
func (s *SessionStore) SetBeforeCAS(f func()) { s.beforeCAS = f }

// Expiration returns the Memcached expiration s sets on an item that
// expires at expiry.
func (s *SessionStore) Expiration(expiry time.Time) int32 { return s.expiration(expiry) }
