// Package memcachestore keeps hallpass's sessions in Memcached, through
// github.com/bradfitz/gomemcache. It implements session.Store and, on a
// best-effort basis explained below, session.UserIndex; Memcached expires
// items by itself, so there is no Sweeper.
//
//	client := memcache.New("10.0.0.1:11211", "10.0.0.2:11211")
//	client.MaxIdleConns = 64 // see Connections
//	store := memcachestore.New(client, memcachestore.Options{})
//
// # Connections
//
// Every session load is a request to Memcached, and a gomemcache client
// keeps only two idle connections per server unless its MaxIdleConns says
// otherwise: with more requests at once, each one beyond the second dials
// a connection and closes it after one use, leaving a socket in TIME_WAIT
// every time (on a 2-core machine, hallpass's server served 8 k pages/s
// that way and 12 k with 64 kept). Set MaxIdleConns above the number of
// requests a process serves at once; the store leaves the client's
// settings alone.
//
// # Items
//
// A session is one item, "<prefix>s:<id>", holding the whole record in a
// compact binary encoding (its values encoded by session.EncodeValues).
// Update is a compare-and-swap loop: read the item with its CAS ID, check
// its expiry against Options.Now, merge the change, and write it back only
// if no other Update wrote in between, else retry (at most 100 times, with
// a short random backoff). A session ID that cannot be part of a Memcached
// key (longer than 250 bytes with the prefix, or holding a byte outside
// printable ASCII or a space) is never found.
//
// Each item's native expiry is set from the record's Expiry, a second
// late; the store also checks the Expiry against Options.Now on every
// read, so Memcached's coarse clock never lets an expired session through.
//
// # Item size
//
// Memcached refuses items over its item size limit, 1 MB by default, and
// the store then returns an error wrapping ErrTooLarge. A session holding
// large values needs a larger limit: start memcached with -I (for example
// "memcached -I 4m"; hallpass's tests, which store a 1 MiB value, need
// it).
//
// # Limitations: listing and revoking a user's sessions
//
// Memcached cannot list or search its keys, so the store keeps, for each
// user, an index item "<prefix>u:<hash of the user ID>" listing the IDs of
// the user's sessions with their expiry. Create adds to it and Delete and
// DeleteByUser remove from it, with compare-and-swap; ListByUser and
// DeleteByUser read it, check each session's own item, and drop the
// entries of sessions that are gone, expired or replaced.
//
// That index is only as durable as Memcached itself, which is a cache:
//
//   - Memcached may evict the index item under memory pressure (it is
//     read less often than the sessions, so it can be evicted while they
//     are still in use), or lose it when a server restarts or leaves the
//     pool. ListByUser then misses the sessions it listed, and
//     DeleteByUser cannot end them: they stay valid until they expire.
//   - A session whose Update extended its expiry keeps its longer life
//     only in the index if the second step of that Update (raising the
//     entry's expiry) succeeds; if it fails, Update returns an error and
//     the entry may be dropped at the old expiry.
//
// So DestroyByUser (for example after a password change) is best-effort
// with this store. When ending every session of a user must be
// guaranteed, use redisstore or pgstore.
//
// The client has no notion of a context: each method checks ctx before
// every request it sends, and a request already sent is bounded by the
// client's Timeout (500ms by default), not by ctx.
package memcachestore

import (
	"context"
	"errors"
	"fmt"
)

// ErrTooLarge reports a record too large for Memcached's item size limit
// (set by memcached's -I flag, 1 MB by default).
var ErrTooLarge = errors.New("memcachestore: record exceeds memcached's item size limit (raise it with memcached -I)")

// Ping checks that every Memcached server of the client answers, for
// health checks.
func (s *SessionStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: ping: %w", err)
	}
	if err := s.client.Ping(); err != nil {
		return fmt.Errorf("memcachestore: ping: %w", err)
	}
	return nil
}
