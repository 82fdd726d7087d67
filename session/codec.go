package session

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// valuesVersion is the first byte of every encoding EncodeValues produces.
// A future format gets a new version byte; DecodeValues rejects versions it
// does not know.
const valuesVersion = 1

// EncodeValues encodes a Record's Values compactly, for stores that keep
// them as one opaque blob (SQLite, Postgres, Memcached). DecodeValues
// reverses it.
//
// The format is a version byte (1), then the number of entries as an
// unsigned varint (encoding/binary), then for each entry its key and its
// value, each as a uvarint length followed by that many bytes. Entries are
// sorted by key, so equal maps encode to equal bytes. A nil map encodes
// like an empty one, and a nil value like an empty one.
func EncodeValues(values map[string][]byte) []byte {
	size := 1 + uvarintLen(len(values))
	for k, v := range values {
		size += uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v)
	}
	b := make([]byte, 0, size)
	b = append(b, valuesVersion)
	b = binary.AppendUvarint(b, uint64(len(values)))
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := values[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// DecodeValues decodes a map encoded by EncodeValues. It returns an error
// wrapping ErrCorrupt for any input EncodeValues cannot have produced
// (unknown version, truncated, trailing bytes, a repeated key), and never
// panics. The result is never nil.
//
// To save copies, the returned values share memory with data (each with
// its capacity clipped to its length), so the caller must not modify data
// afterwards; a store decoding a freshly read buffer it owns can return
// the map as it is.
func DecodeValues(data []byte) (map[string][]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty values encoding", ErrCorrupt)
	}
	if data[0] != valuesVersion {
		return nil, fmt.Errorf("%w: unknown values encoding version %d", ErrCorrupt, data[0])
	}
	d := decoder{b: data[1:]}
	n, ok := d.uvarint()
	// Each entry takes at least two bytes (two zero lengths), which bounds
	// the allocation a hostile count can cause.
	if !ok || n > uint64(len(d.b))/2 {
		return nil, fmt.Errorf("%w: bad values count", ErrCorrupt)
	}
	values := make(map[string][]byte, n)
	for i := range n {
		k, ok1 := d.bytes()
		v, ok2 := d.bytes()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: values entry %d truncated", ErrCorrupt, i)
		}
		key := string(k)
		if _, dup := values[key]; dup {
			return nil, fmt.Errorf("%w: values key %q repeated", ErrCorrupt, key)
		}
		values[key] = v
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after values", ErrCorrupt, len(d.b))
	}
	return values, nil
}

// uvarintLen returns the length of the uvarint encoding of n.
func uvarintLen(n int) int {
	return (bits.Len64(uint64(n)|1) + 6) / 7
}

// decoder reads the fields of a values encoding from b, consuming it.
type decoder struct{ b []byte }

func (d *decoder) uvarint() (uint64, bool) {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		return 0, false
	}
	d.b = d.b[w:]
	return n, true
}

// bytes reads one length-prefixed field, clipped so that appending to it
// cannot overwrite the rest of the buffer.
func (d *decoder) bytes() ([]byte, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.b)) {
		return nil, false
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, true
}
