package memstore

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hallpass/hallpass/session"
)

// The compact ("cold") form of a record is one entry of bytes:
//
//	id       0x00 + the 32-byte digest, when id is the base64url
//	         (unpadded, strict) spelling of 32 bytes, as session IDs are;
//	         else 0x01 + uvarint length + the bytes of id
//	user     uvarint n<<1|1 for a UserID that is the canonical decimal
//	         spelling of n, else uvarint length<<1 + the bytes
//	times    CreatedAt as varint seconds and uvarint nanoseconds; then
//	         LastSeen as a time from CreatedAt, and Expiry as a time from
//	         LastSeen (see appendTime: mostly a varint delta in seconds,
//	         milliseconds or nanoseconds)
//	ip       0x00 + uvarint length + bytes, or 0x04 + 4 bytes (IPv4),
//	         or 0x06 + 16 bytes (IPv6), when the address reads back as the
//	         same string
//	agent    a string ref (below), tag 0
//	values   uvarint count, then for each its key (a string ref) whose tag
//	         says how the value's payload follows:
//	           valRaw:    uvarint length + bytes
//	           valBase64: uvarint length + bytes b, for the value `"` +
//	                      base64.StdEncoding(b) + `"` (a JSON []byte)
//	           valTime:   a time from CreatedAt (as above) and the varint
//	                      zone offset in seconds, for a JSON time.Time
//	           valUser:   like valRaw, with every occurrence of the UserID
//	                      written as the byte userMark
//
// A string ref is a uvarint k<<2|tag: k = 0 is followed by the uvarint
// length and the bytes, k >= 1 is string k-1 of the store's intern table,
// which holds the user agents and value keys seen (up to internMax of
// them). Each special form is used only when decoding it gives back
// exactly the original bytes, so every record survives the round trip
// unchanged, except that times come back in the local time zone and
// without a monotonic clock reading.
//
// A bucket (the value of a shard's cold map) holds the entries whose IDs
// share one 64-bit hash: the entry itself, or, when IDs collide,
// bucketMulti followed by the entries, each prefixed by its uvarint
// length.

const (
	idDigest = 0
	idString = 1

	ipString = 0
	ipV4     = 4
	ipV6     = 6

	valRaw    = 0
	valBase64 = 1
	valTime   = 2
	valUser   = 3

	// userMark stands for the UserID in a valUser value: 0xFF never occurs
	// in UTF-8 text such as JSON, and a value containing it is kept raw.
	userMark = 0xFF

	// internMax bounds the intern table, and internMaxLen the strings it
	// takes: past them, strings are stored inline.
	internMax    = 4096
	internMaxLen = 512
)

// errCompact reports a compact entry that does not decode, which only a bug
// can produce.
var errCompact = errors.New("memstore: bad compact session entry")

// interner maps often repeated strings (user agents, value keys) to small
// numbers. Strings are only ever added, so a number stays valid.
type interner struct {
	mu  sync.Mutex                  // serializes additions
	tab atomic.Pointer[internTable] // read without a lock; replaced on addition
}

// internTable is one version of an interner's strings, never modified.
type internTable struct {
	idx  map[string]uint32
	list []string
}

// ref returns the number of s (1-based), adding it if there is room, or 0
// when s is not interned.
func (in *interner) ref(s string) uint32 {
	t := in.tab.Load()
	if t != nil {
		if k, ok := t.idx[s]; ok {
			return k
		}
	}
	if len(s) > internMaxLen {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	t = in.tab.Load()
	if t == nil {
		t = &internTable{}
	}
	if k, ok := t.idx[s]; ok {
		return k
	}
	if len(t.list) >= internMax {
		return 0
	}
	// Copying makes additions quadratic, but there are at most internMax.
	nt := &internTable{idx: make(map[string]uint32, len(t.idx)+1), list: make([]string, len(t.list), len(t.list)+1)}
	maps.Copy(nt.idx, t.idx)
	copy(nt.list, t.list)
	s = strings.Clone(s)
	nt.list = append(nt.list, s)
	k := uint32(len(nt.list))
	nt.idx[s] = k
	in.tab.Store(nt)
	return k
}

// get returns string number k (1-based).
func (in *interner) get(k uint64) (string, bool) {
	t := in.tab.Load()
	if t == nil || k == 0 || k > uint64(len(t.list)) {
		return "", false
	}
	return t.list[k-1], true
}

// idDigestOf returns the 32 bytes that id spells, if it is the strict
// base64url spelling of 32 bytes.
func idDigestOf(id string) (d [32]byte, ok bool) {
	if len(id) != 43 {
		return d, false
	}
	var src [43]byte
	copy(src[:], id)
	n, err := base64.RawURLEncoding.Strict().Decode(d[:], src[:])
	return d, err == nil && n == 32
}

// appendString appends s with its uvarint length.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendRef appends s as a string ref, with a 2-bit tag in the low bits
// of its uvarint.
func (s *SessionStore) appendRef(b []byte, str string, tag byte) []byte {
	if k := s.strs.ref(str); k != 0 {
		return binary.AppendUvarint(b, uint64(k)<<2|uint64(tag))
	}
	b = append(b, tag)
	return appendString(b, str)
}

// appendEntry appends the compact entry of rec stored under k.
func (s *SessionStore) appendEntry(b []byte, k *key, r *session.Record) []byte {
	if k.isDigest {
		b = append(b, idDigest)
		b = append(b, k.digest[:]...)
	} else {
		b = append(b, idString)
		b = appendString(b, k.id)
	}
	b = appendUserID(b, r.UserID)
	b = binary.AppendVarint(b, r.CreatedAt.Unix())
	b = binary.AppendUvarint(b, uint64(r.CreatedAt.Nanosecond()))
	b = appendTime(b, r.LastSeen, r.CreatedAt)
	b = appendTime(b, r.Expiry, r.LastSeen)
	b = appendIP(b, r.IP)
	b = s.appendRef(b, r.UserAgent, 0)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for k, v := range r.Values {
		b = s.appendValue(b, k, v, r.UserID, r.CreatedAt)
	}
	return b
}

// appendTime appends t as its distance from base, when that takes it back
// exactly: a varint d<<2|unit, d in nanoseconds (unit 0), milliseconds
// (1) or seconds (2). Otherwise it appends 3 followed by t's varint seconds
// and uvarint nanoseconds.
func appendTime(b []byte, t, base time.Time) []byte {
	if dsec := t.Unix() - base.Unix(); dsec > -1<<32 && dsec < 1<<32 {
		d := dsec*1e9 + int64(t.Nanosecond()-base.Nanosecond())
		if timeFrom(base.Unix(), int64(base.Nanosecond()), d).Equal(t) {
			switch {
			case d%1e9 == 0:
				return binary.AppendVarint(b, d/1e9<<2|2)
			case d%1e6 == 0:
				return binary.AppendVarint(b, d/1e6<<2|1)
			default:
				return binary.AppendVarint(b, d<<2)
			}
		}
	}
	b = binary.AppendVarint(b, 3)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendUserID appends a user ID: uvarint n<<1|1 for the canonical
// decimal spelling of n (as numeric IDs are), else uvarint length<<1 and
// the bytes.
func appendUserID(b []byte, userID string) []byte {
	if len(userID) > 0 && len(userID) <= 18 && (userID[0] != '0' || len(userID) == 1) {
		n := uint64(0)
		for i := 0; i < len(userID); i++ {
			c := userID[i]
			if c < '0' || c > '9' {
				n = 1 << 63
				break
			}
			n = n*10 + uint64(c-'0')
		}
		if n < 1<<62 {
			return binary.AppendUvarint(b, n<<1|1)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(userID))<<1)
	return append(b, userID...)
}

// readUserID reads a user ID appended by appendUserID into buf, or aliasing
// the entry.
func (d *entryReader) readUserID(buf *[20]byte) []byte {
	v := d.uvarint()
	if v&1 == 1 {
		return strconv.AppendUint(buf[:0], v>>1, 10)
	}
	return d.take(v >> 1)
}

// timeFrom returns the time d nanoseconds after sec, nsec.
func timeFrom(sec, nsec, d int64) time.Time {
	return time.Unix(sec+d/1e9, nsec+d%1e9)
}

// readTime reads a time appended by appendTime against base.
func (d *entryReader) readTime(base time.Time) time.Time {
	v := d.varint()
	if unit := v & 3; unit != 3 {
		return timeFrom(base.Unix(), int64(base.Nanosecond()), v>>2*[...]int64{1, 1e6, 1e9}[unit])
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.bad = true
	}
	return time.Unix(sec, int64(nsec))
}

func appendIP(b []byte, ip string) []byte {
	var buf [64]byte
	if a, err := netip.ParseAddr(ip); err == nil && a.Zone() == "" && string(a.AppendTo(buf[:0])) == ip {
		if a.Is4() {
			b = append(b, ipV4)
			a4 := a.As4()
			return append(b, a4[:]...)
		}
		b = append(b, ipV6)
		a16 := a.As16()
		return append(b, a16[:]...)
	}
	b = append(b, ipString)
	return appendString(b, ip)
}

// appendValue appends the key and value of a value, in the tightest form
// that decodes back to exactly v.
func (s *SessionStore) appendValue(b []byte, key string, v []byte, userID string, created time.Time) []byte {
	n := len(v)
	if n >= 4 && v[0] == '"' && v[n-1] == '"' {
		// A JSON []byte: standard base64 in quotes.
		inner := v[1 : n-1]
		if len(inner)%4 == 0 && len(inner) <= 1<<16 {
			var buf [512]byte
			dec := buf[:0]
			if m := base64.StdEncoding.DecodedLen(len(inner)); m > len(buf) {
				dec = make([]byte, 0, m)
			}
			dec = dec[:base64.StdEncoding.DecodedLen(len(inner))]
			if m, err := base64.StdEncoding.Strict().Decode(dec, inner); err == nil {
				dec = dec[:m]
				var re [700]byte
				if base64.StdEncoding.EncodedLen(m) <= len(re) {
					base64.StdEncoding.Encode(re[:], dec)
					if bytes.Equal(re[:base64.StdEncoding.EncodedLen(m)], inner) {
						b = s.appendRef(b, key, valBase64)
						return appendBytes(b, dec)
					}
				}
			}
		}
		// A JSON time.Time: "2006-01-02T15:04:05Z" at least.
		if n >= 22 && n <= 64 && v[5] == '-' && v[11] == 'T' {
			var t time.Time
			if t.UnmarshalJSON(v) == nil {
				_, off := t.Zone()
				back := timeIn(t.Unix(), int64(t.Nanosecond()), off)
				var buf [64]byte
				if enc, err := back.AppendText(append(buf[:0], '"')); err == nil && bytes.Equal(append(enc, '"'), v) {
					b = s.appendRef(b, key, valTime)
					b = appendTime(b, t, created)
					return binary.AppendVarint(b, int64(off))
				}
			}
		}
	}
	if len(userID) > 1 && bytes.IndexByte(v, userMark) < 0 && bytes.Contains(v, []byte(userID)) {
		b = s.appendRef(b, key, valUser)
		count := bytes.Count(v, []byte(userID))
		b = binary.AppendUvarint(b, uint64(n-count*(len(userID)-1)))
		for rest := v; ; {
			i := bytes.Index(rest, []byte(userID))
			if i < 0 {
				return append(b, rest...)
			}
			b = append(b, rest[:i]...)
			b = append(b, userMark)
			rest = rest[i+len(userID):]
		}
	}
	b = s.appendRef(b, key, valRaw)
	return appendBytes(b, v)
}

// timeIn returns the time at sec, nsec in a zone offset seconds east of
// UTC (UTC itself for 0).
func timeIn(sec, nsec int64, offset int) time.Time {
	if offset == 0 {
		return time.Unix(sec, nsec).UTC()
	}
	return time.Unix(sec, nsec).In(time.FixedZone("", offset))
}

// entryReader reads the fields of a compact entry in order.
type entryReader struct {
	b   []byte
	bad bool
}

func (d *entryReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *entryReader) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *entryReader) bytes() []byte { return d.take(d.uvarint()) }

// header is the part of an entry the sweep and the lookups read without
// decoding the rest.
type header struct {
	userID []byte // aliases the entry or idBuf
	times  [3]time.Time
	idBuf  [20]byte
}

// readID reads the entry's ID, as the digest or as the string's bytes.
func (d *entryReader) readID() (digest []byte, str []byte) {
	tag := d.take(1)
	if len(tag) == 0 {
		return nil, nil
	}
	if tag[0] == idDigest {
		return d.take(32), nil
	}
	return nil, d.bytes()
}

// readHeader reads the user ID and the times, after the ID.
func (d *entryReader) readHeader(h *header) {
	h.userID = d.readUserID(&h.idBuf)
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.bad = true
	}
	h.times[0] = time.Unix(sec, int64(nsec))
	h.times[1] = d.readTime(h.times[0])
	h.times[2] = d.readTime(h.times[1])
}

// entryID returns the ID the entry is stored under.
func entryID(digest, str []byte) string {
	if digest != nil {
		return base64.RawURLEncoding.EncodeToString(digest)
	}
	return string(str)
}

// sameID reports whether the entry's ID (digest or str) is id, whose
// digest is want (ok when it has one).
func sameID(digest, str []byte, id string, want *[32]byte, ok bool) bool {
	if digest != nil {
		return ok && bytes.Equal(digest, want[:])
	}
	return !ok && string(str) == id
}

// decodeEntry decodes a whole entry, with its ID.
func (s *SessionStore) decodeEntry(e []byte) (string, *session.Record, error) {
	r, err := s.decodeRecord(e)
	if err != nil {
		return "", nil, err
	}
	d := entryReader{b: e}
	return entryID(d.readID()), r, nil
}

// headerOf returns the header of entry e, past its ID.
func headerOf(e []byte) header {
	d := entryReader{b: e}
	d.readID()
	var h header
	d.readHeader(&h)
	return h
}

// decodeRecord decodes the record of an entry.
func (s *SessionStore) decodeRecord(e []byte) (*session.Record, error) {
	d := entryReader{b: e}
	d.readID()
	var h header
	d.readHeader(&h)
	r := &session.Record{UserID: string(h.userID), CreatedAt: h.times[0], LastSeen: h.times[1], Expiry: h.times[2]}
	switch tag := d.take(1); {
	case len(tag) == 0:
	case tag[0] == ipV4:
		r.IP = netip.AddrFrom4([4]byte(d.take(4))).String()
	case tag[0] == ipV6:
		if a := d.take(16); a != nil {
			r.IP = netip.AddrFrom16([16]byte(a)).String()
		}
	default:
		r.IP = string(d.bytes())
	}
	r.UserAgent, _ = s.readRef(&d)
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: values count", errCompact)
	}
	r.Values = make(map[string][]byte, n)
	// The values' bytes share one allocation, sized by the entry's rest.
	buf := make([]byte, 0, 2*len(d.b)+int(n)*len(r.UserID))
	for range n {
		k, tag := s.readRef(&d)
		start := len(buf)
		switch tag {
		case valRaw:
			buf = append(buf, d.bytes()...)
		case valBase64:
			raw := d.bytes()
			buf = append(buf, '"')
			buf = base64.StdEncoding.AppendEncode(buf, raw)
			buf = append(buf, '"')
		case valTime:
			t := d.readTime(r.CreatedAt)
			off := d.varint()
			var err error
			buf = append(buf, '"')
			if buf, err = timeIn(t.Unix(), int64(t.Nanosecond()), int(off)).AppendText(buf); err != nil {
				d.bad = true
			}
			buf = append(buf, '"')
		case valUser:
			for _, c := range d.bytes() {
				if c == userMark {
					buf = append(buf, r.UserID...)
				} else {
					buf = append(buf, c)
				}
			}
		default:
			d.bad = true
		}
		r.Values[k] = buf[start:len(buf):len(buf)]
	}
	if d.bad || len(d.b) != 0 || len(r.Values) != int(n) {
		return nil, errCompact
	}
	return r, nil
}

// readRef reads a string ref and its tag.
func (s *SessionStore) readRef(d *entryReader) (string, byte) {
	v := d.uvarint()
	tag, k := byte(v&3), v>>2
	if k == 0 {
		return string(d.bytes()), tag
	}
	str, ok := s.strs.get(k)
	if !ok {
		d.bad = true
	}
	return str, tag
}

// view returns the bytes of a bucket, without copying: buckets are never
// modified, only replaced, so the view must only be read.
func view(bucket string) []byte {
	return unsafe.Slice(unsafe.StringData(bucket), len(bucket))
}

// bucketMulti is the first byte of a bucket of several entries, each
// prefixed by its uvarint length; a bucket of one entry is the entry
// itself, which starts with idDigest or idString.
const bucketMulti = 2

// bucketIter iterates over the entries of a bucket.
type bucketIter struct {
	b     []byte
	multi bool
}

func iterBucket(bucket string) bucketIter {
	b := view(bucket)
	if len(b) > 0 && b[0] == bucketMulti {
		return bucketIter{b: b[1:], multi: true}
	}
	return bucketIter{b: b}
}

// next returns the next entry, or false at the end.
func (it *bucketIter) next() ([]byte, bool) {
	if len(it.b) == 0 {
		return nil, false
	}
	if !it.multi {
		e := it.b
		it.b = nil
		return e, true
	}
	n, w := binary.Uvarint(it.b)
	if w <= 0 || n > uint64(len(it.b)-w) {
		it.b = nil
		return nil, false
	}
	e := it.b[w : w+int(n) : w+int(n)]
	it.b = it.b[w+int(n):]
	return e, true
}

// makeBucket returns the bucket of entries es (at least one), in memory of
// its own.
func makeBucket(es ...[]byte) string {
	var b []byte
	if len(es) == 1 {
		b = bytes.Clone(es[0])
	} else {
		b = []byte{bucketMulti}
		for _, e := range es {
			b = appendBytes(b, e)
		}
		b = slices.Clip(b)
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}
