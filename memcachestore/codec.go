package memcachestore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/session"
)

// recordVersion is the first byte of an encoded record.
const recordVersion = 1

// encodeRecord encodes r as: the version byte, UserID (a uvarint length,
// then the bytes), CreatedAt, LastSeen and Expiry (varint Unix
// microseconds), IP and UserAgent (like UserID), then the rest is
// session.EncodeValues(r.Values).
func encodeRecord(r *session.Record) []byte {
	values := session.EncodeValues(r.Values)
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+3*binary.MaxVarintLen32+len(r.UserID)+len(r.IP)+len(r.UserAgent)+len(values))
	b = append(b, recordVersion)
	b = appendString(b, r.UserID)
	b = binary.AppendVarint(b, r.CreatedAt.UnixMicro())
	b = binary.AppendVarint(b, r.LastSeen.UnixMicro())
	b = binary.AppendVarint(b, r.Expiry.UnixMicro())
	b = appendString(b, r.IP)
	b = appendString(b, r.UserAgent)
	return append(b, values...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeRecord reverses encodeRecord. It returns an error wrapping
// session.ErrCorrupt for anything encodeRecord cannot have produced. The
// record's values share memory with data.
func decodeRecord(data []byte) (*session.Record, error) {
	if len(data) == 0 || data[0] != recordVersion {
		return nil, fmt.Errorf("%w: unknown record encoding", session.ErrCorrupt)
	}
	d := decoder{b: data[1:]}
	var r session.Record
	r.UserID = d.string()
	r.CreatedAt = d.time()
	r.LastSeen = d.time()
	r.Expiry = d.time()
	r.IP = d.string()
	r.UserAgent = d.string()
	if d.bad {
		return nil, fmt.Errorf("%w: record truncated", session.ErrCorrupt)
	}
	var err error
	if r.Values, err = session.DecodeValues(d.b); err != nil {
		return nil, err
	}
	return &r, nil
}

// indexVersion is the first byte of an encoded user index.
const indexVersion = 1

// indexEntry is one session of a user index.
type indexEntry struct {
	id     string
	expiry time.Time
}

// encodeIndex encodes entries as the version byte followed by each
// entry's ID (a uvarint length, then the bytes) and expiry (varint Unix
// microseconds).
func encodeIndex(entries []indexEntry) []byte {
	b := make([]byte, 0, 1+len(entries)*(1+43+binary.MaxVarintLen64))
	b = append(b, indexVersion)
	for _, e := range entries {
		b = appendString(b, e.id)
		b = binary.AppendVarint(b, e.expiry.UnixMicro())
	}
	return b
}

// decodeIndex reverses encodeIndex.
func decodeIndex(data []byte) ([]indexEntry, error) {
	if len(data) == 0 || data[0] != indexVersion {
		return nil, fmt.Errorf("%w: unknown index encoding", session.ErrCorrupt)
	}
	d := decoder{b: data[1:]}
	var entries []indexEntry
	for len(d.b) > 0 && !d.bad {
		entries = append(entries, indexEntry{id: d.string(), expiry: d.time()})
	}
	if d.bad {
		return nil, fmt.Errorf("%w: index truncated", session.ErrCorrupt)
	}
	return entries, nil
}

// decoder reads fields from b, consuming it; after a failed read, bad is
// set and every further read returns a zero value.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) string() string {
	n, w := binary.Uvarint(d.b)
	if d.bad || w <= 0 || n > uint64(len(d.b)-w) {
		d.bad = true
		return ""
	}
	s := string(d.b[w : w+int(n)])
	d.b = d.b[w+int(n):]
	return s
}

func (d *decoder) time() time.Time {
	n, w := binary.Varint(d.b)
	if d.bad || w <= 0 {
		d.bad = true
		return time.Time{}
	}
	d.b = d.b[w:]
	return time.UnixMicro(n)
}
