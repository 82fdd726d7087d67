// Package slots is a fixed table of entries found by a hash of their key:
// no lock and no growth; a new entry takes the place of the one in its
// slot. The session keyring keeps the cookie values it verified in one,
// the login manager its decoded user snapshots.
//
// The hash is seeded at random per process, so a client cannot choose
// keys that land in another client's slot.
package slots

import (
	"hash/maphash"
	"sync/atomic"
)

// Size is the number of slots of a Table (a power of two): 64 KiB of
// pointers.
const Size = 8192

// seed seeds the hash of every Table of the process.
var seed = maphash.MakeSeed()

// Table holds up to Size entries of type E. The zero value is empty and
// ready to use; it is safe for concurrent use.
type Table[E any] struct {
	slots [Size]atomic.Pointer[E]
}

// Slot returns the slot of key. Load gives the entry there (or nil), which
// may be another key's: the caller compares the key the entry holds with
// its own. Store puts an entry in place of the one there.
func (t *Table[E]) Slot(key []byte) *atomic.Pointer[E] {
	return &t.slots[maphash.Bytes(seed, key)&(Size-1)]
}
