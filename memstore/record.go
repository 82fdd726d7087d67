package memstore

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/session"
)

// This file holds the compact form of a SessionStore's records. A million
// sessions must fit in about 300 MB, so a record is one string, with no
// pointers for the garbage collector to follow, in a map keyed by the
// first 8 bytes of the SHA-256 digest that the session ID encodes; the
// other 24 bytes lead the string. The strings that many records share
// (user agents, value keys) are stored once per shard.

// suffixLen is the length of the part of an ID's digest that leads its
// record's string.
const suffixLen = 24

// key is the binary form of a session ID of the form session.IDOf returns:
// the 32 bytes of a SHA-256 digest that it encodes in base64url.
type key [32]byte

// idEncoding is the encoding of session.IDOf; Strict, so that exactly one
// string decodes to each key.
var idEncoding = base64.RawURLEncoding.Strict()

// keyOf returns the key of id, or false when id is not of the form
// session.IDOf returns.
func keyOf(id string) (key, bool) {
	var (
		k   key
		src [43]byte // base64.RawURLEncoding.EncodedLen(32)
	)
	if len(id) != len(src) {
		return k, false
	}
	copy(src[:], id)
	// Decode skips newlines, so a shorter result means id held some.
	if n, err := idEncoding.Decode(k[:], src[:]); err != nil || n != len(k) {
		return k, false
	}
	return k, true
}

// ref is where a session ID lives in its shard. An ID of the form
// session.IDOf returns (canonical) lives in records under the first 8
// bytes of its key, unless another ID took that place first; every other
// ID lives in others, under the ID itself.
type ref struct {
	canonical bool
	prefix    uint64          // the first 8 bytes of the key, if canonical
	suffix    [suffixLen]byte // the other 24, if canonical
	id        string          // the ID; empty when found by a scan of records
}

// refOf returns the ref of id.
func refOf(id string) ref {
	k, ok := keyOf(id)
	if !ok {
		return ref{id: id}
	}
	r := ref{canonical: true, prefix: binary.LittleEndian.Uint64(k[:8]), id: id}
	copy(r.suffix[:], k[8:])
	return r
}

// ID returns the session ID that r stands for.
func (r ref) ID() string {
	if r.id != "" || !r.canonical {
		return r.id
	}
	var k key
	binary.LittleEndian.PutUint64(k[:8], r.prefix)
	copy(k[8:], r.suffix[:])
	return idEncoding.EncodeToString(k[:])
}

// sessionShard holds the records whose IDs map to it, each a string in
// the encoding of encode (after the suffix of its key, in records).
type sessionShard struct {
	mu      sync.RWMutex
	records map[uint64]string // canonical IDs by the first 8 bytes of their key
	others  map[string]string // other IDs, and canonical ones whose place was taken
	strs    internTable       // the user agents and value keys of the records
}

func (sh *sessionShard) init() {
	sh.records = make(map[uint64]string)
	sh.others = make(map[string]string)
	sh.strs.slots = make(map[string]uint32)
}

// get returns the encoded record at at. The caller holds sh.mu.
func (sh *sessionShard) get(at ref) (string, bool) {
	if at.canonical {
		if data, ok := sh.records[at.prefix]; ok && data[:suffixLen] == string(at.suffix[:]) {
			return data[suffixLen:], true
		}
	}
	if len(sh.others) == 0 {
		return "", false
	}
	enc, ok := sh.others[at.id]
	return enc, ok
}

// put stores rec at at, replacing any record there. The caller holds
// sh.mu for writing.
func (sh *sessionShard) put(at ref, rec *session.Record) {
	b := sh.encode(rec) // before remove, which may drop strings rec uses
	sh.remove(at)
	if at.canonical {
		if _, taken := sh.records[at.prefix]; !taken {
			copy(b, at.suffix[:])
			sh.records[at.prefix] = string(b) // a copy of exactly the right size
			return
		}
	}
	sh.others[strings.Clone(at.ID())] = string(b[suffixLen:])
}

// remove deletes the record at at, if any. The caller holds sh.mu for
// writing.
func (sh *sessionShard) remove(at ref) {
	if at.canonical {
		if data, ok := sh.records[at.prefix]; ok && data[:suffixLen] == string(at.suffix[:]) {
			sh.release(data[suffixLen:])
			delete(sh.records, at.prefix)
			return
		}
	}
	if len(sh.others) == 0 {
		return
	}
	id := at.ID()
	if enc, ok := sh.others[id]; ok {
		sh.release(enc)
		delete(sh.others, id)
	}
}

// scan calls f for each record of sh with sh.mu held (for writing if
// write is set), releasing the lock every scanBatch records so that no
// request waits for a whole shard. f may remove the record it is given;
// records stored or removed by others during the scan may or may not be
// seen, as for a range over a map.
func (sh *sessionShard) scan(write bool, f func(at ref, data string)) {
	lock, unlock := sh.mu.RLock, sh.mu.RUnlock
	if write {
		lock, unlock = sh.mu.Lock, sh.mu.Unlock
	}
	lock()
	defer unlock()
	n := 0
	pause := func() {
		if n++; n%scanBatch == 0 {
			unlock()
			lock()
		}
	}
	for prefix, data := range sh.records {
		at := ref{canonical: true, prefix: prefix}
		copy(at.suffix[:], data)
		f(at, data[suffixLen:])
		pause()
	}
	for id, enc := range sh.others {
		f(ref{id: id}, enc)
		pause()
	}
}

// A record is encoded as, in order:
//
//	Expiry, CreatedAt, LastSeen-CreatedAt  Unix milliseconds, varints
//	UserID, IP                             uvarint length, bytes
//	UserAgent                              uvarint slot in sh.strs
//	len(Values)                            uvarint
//	each value                             uvarint slot of its key in
//	                                       sh.strs, uvarint length, bytes
//
// Expiry comes first, so that a sweep reads only one number, and UserID
// next, for ListByUser.

// encode returns rec in the encoding above, after suffixLen bytes of room
// for the suffix of its key, and counts its references in sh.strs. The
// caller holds sh.mu for writing.
func (sh *sessionShard) encode(rec *session.Record) []byte {
	size := suffixLen + 5*binary.MaxVarintLen64 + len(rec.UserID) + len(rec.IP) + 2*binary.MaxVarintLen32
	for _, v := range rec.Values {
		size += binary.MaxVarintLen32 + binary.MaxVarintLen64 + len(v)
	}
	b := make([]byte, suffixLen, size)
	created := rec.CreatedAt.UnixMilli()
	b = binary.AppendVarint(b, rec.Expiry.UnixMilli())
	b = binary.AppendVarint(b, created)
	b = binary.AppendVarint(b, rec.LastSeen.UnixMilli()-created)
	b = appendString(b, rec.UserID)
	b = appendString(b, rec.IP)
	b = binary.AppendUvarint(b, uint64(sh.strs.add(rec.UserAgent)))
	b = binary.AppendUvarint(b, uint64(len(rec.Values)))
	for k, v := range rec.Values {
		b = binary.AppendUvarint(b, uint64(sh.strs.add(k)))
		b = appendString(b, string(v))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decode returns the record that data encodes, as a new Record with its
// own copy of the values. The caller holds sh.mu.
func (sh *sessionShard) decode(data string) *session.Record {
	d := reader{s: data}
	expiry, created := d.varint(), d.varint()
	seen := created + d.varint()
	r := &session.Record{
		UserID:    d.string(),
		IP:        d.string(),
		UserAgent: sh.strs.get(d.uvarint()),
		CreatedAt: time.UnixMilli(created),
		LastSeen:  time.UnixMilli(seen),
		Expiry:    time.UnixMilli(expiry),
	}
	n := d.uvarint()
	r.Values = make(map[string][]byte, n)
	// One copy for all the values, which the Record's map slices.
	base := d.off
	buf := []byte(data[base:])
	for range n {
		k := sh.strs.get(d.uvarint())
		size := int(d.uvarint())
		start := d.off - base
		d.off += size
		r.Values[k] = buf[start : start+size : start+size]
	}
	return r
}

// release drops the references of data, a record being removed, to the
// strings of sh.strs. The caller holds sh.mu for writing.
func (sh *sessionShard) release(data string) {
	d := reader{s: data}
	d.varint()
	d.varint()
	d.varint()
	d.string()
	d.string()
	sh.strs.release(d.uvarint())
	for range d.uvarint() {
		sh.strs.release(d.uvarint())
		d.string()
	}
}

// live reports whether the record data has not expired at now.
func live(data string, now time.Time) bool {
	d := reader{s: data}
	return time.UnixMilli(d.varint()).After(now)
}

// userOf returns the UserID of the record data.
func userOf(data string) string {
	d := reader{s: data}
	d.varint()
	d.varint()
	d.varint()
	return d.string()
}

// reader reads the encoding of a record, which encode made: it is never
// truncated or malformed.
type reader struct {
	s   string
	off int
}

func (d *reader) uvarint64() uint64 {
	var x uint64
	for shift := 0; ; shift += 7 {
		c := d.s[d.off]
		d.off++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (d *reader) uvarint() uint32 { return uint32(d.uvarint64()) }

func (d *reader) varint() int64 {
	// Zig-zag, as binary.AppendVarint writes it.
	ux := d.uvarint64()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// string returns the next length-prefixed string, sharing data's memory.
func (d *reader) string() string {
	n := int(d.uvarint())
	s := d.s[d.off : d.off+n]
	d.off += n
	return s
}

// internTable keeps one copy of each string that records refer to by
// slot, with a count of references, so that a string no record uses any
// more is dropped.
type internTable struct {
	slots map[string]uint32
	strs  []string
	refs  []uint32
	free  []uint32 // slots whose string was dropped
}

// add returns the slot of s, storing it if new, and counts one reference.
func (t *internTable) add(s string) uint32 {
	if i, ok := t.slots[s]; ok {
		t.refs[i]++
		return i
	}
	s = strings.Clone(s)
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.strs[i], t.refs[i] = s, 1
	} else {
		i = uint32(len(t.strs))
		t.strs = append(t.strs, s)
		t.refs = append(t.refs, 1)
	}
	t.slots[s] = i
	return i
}

// get returns the string in slot i.
func (t *internTable) get(i uint32) string { return t.strs[i] }

// release drops one reference to slot i, and the string with the last.
func (t *internTable) release(i uint32) {
	if t.refs[i]--; t.refs[i] == 0 {
		delete(t.slots, t.strs[i])
		t.strs[i] = ""
		t.free = append(t.free, i)
	}
}
