package sqlitestore

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime/debug"
)

// walIndex reads the header of the database's WAL index, the -shm file
// that every connection to a database in WAL mode shares, of this process
// or another (https://sqlite.org/walformat.html#the_wal_index_file_format).
//
// Every commit rewrites that header: it holds the number of the last valid
// frame in the WAL (mxFrame), a running checksum of the frames and the
// WAL's salts, which change when the WAL starts over. So two equal
// headers read at two moments mean nothing was committed in between, which
// is what PRAGMA data_version tells as well, for the cost of one pread
// instead of a read transaction (two fcntl locks and a statement), or, with
// the file's first page mapped into memory, for the cost of a copy. The
// Load cache uses it; when the header cannot be read whole, Load asks
// data_version as before.
//
// The header is written twice, the second copy first: a reader that finds
// both copies equal has read a header that was not being written (SQLite's
// own readers check it the same way).
type walIndex struct {
	f   *os.File
	mem []byte // the file's first page, mapped read-only and shared; nil if it could not be
}

// walHeaderSize is the size of one copy of the WAL-index header.
const walHeaderSize = 48

// walIndexVersion is the iVersion field of a WAL-index header SQLite
// writes (3007000 since SQLite 3.7.0).
const walIndexVersion = 3007000

// walStamp is a header read whole: equal stamps, nothing committed.
type walStamp [walHeaderSize]byte

// openWALIndex opens the WAL index of the database at path, and checks
// that it holds a header this code knows. A connection must have the
// database open in WAL mode.
func openWALIndex(path string) (*walIndex, error) {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil, err
	}
	w := &walIndex{f: f}
	w.mem = mapHeader(f)
	if _, ok := w.stamp(); !ok {
		w.close()
		return nil, errWALIndex
	}
	return w, nil
}

// errWALIndex reports a WAL index whose header this code does not read.
var errWALIndex = walIndexError("the WAL index has no header of version 3007000")

type walIndexError string

func (e walIndexError) Error() string { return string(e) }

// stamp reads the header. ok is false when it could not be read whole
// (a commit was writing it, three times in a row) or is not a header this
// code knows; the caller then asks data_version.
func (w *walIndex) stamp() (s walStamp, ok bool) {
	var b [2 * walHeaderSize]byte
	for range 3 {
		if !w.read(&b) {
			return s, false
		}
		if !bytes.Equal(b[:walHeaderSize], b[walHeaderSize:]) {
			continue // being written: read again
		}
		// iVersion (native byte order, as the file is not portable) and
		// isInit (byte 12).
		if binary.NativeEndian.Uint32(b[0:4]) != walIndexVersion || b[12] != 1 {
			return s, false
		}
		copy(s[:], b[:walHeaderSize])
		return s, true
	}
	return s, false
}

// read copies both copies of the header into b: from the mapping when
// there is one (no system call), else with a pread.
func (w *walIndex) read(b *[2 * walHeaderSize]byte) (ok bool) {
	if w.mem == nil {
		n, err := w.f.ReadAt(b[:], 0)
		return err == nil && n == len(b)
	}
	// The file is never cut while this process has the database open
	// (SQLite truncates it only when no connection holds it), but should
	// it be, reading the mapping past its end faults: that is a panic
	// here, not a crash, and the caller asks data_version instead.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	copy(b[:], w.mem)
	return true
}

// close unmaps the header and closes the file.
func (w *walIndex) close() error {
	if w.mem != nil {
		unmapHeader(w.mem)
		w.mem = nil
	}
	return w.f.Close()
}
