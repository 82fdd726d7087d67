// Package hashworker derives argon2 keys in separate worker processes whose
// every thread runs under the Linux scheduling policy SCHED_IDLE, so that a
// flood of logins takes only CPU time that nothing else wants: the kernel
// runs any thread of the server, page requests, garbage collection and the
// Go scheduler, before a worker's.
//
// A Pool starts the workers from an executable and arguments that make it
// call Serve on its standard input and output; the hallpass server runs
// itself as "hallpass hash-worker". The workers exit when their standard
// input closes and, on Linux, when the process that started them dies.
//
// The protocol is a private detail of this package, between a Pool and the
// Serve of the same build: each request and answer is a frame of a 4-byte
// big-endian length and that many bytes. A request holds the variant (1
// argon2id, 2 argon2i), time, memory, threads and key length, then the
// password and salt, each as a 4-byte length and its bytes. An answer is a
// status byte (0: the key follows; 1: an error message follows) and the
// rest of the frame.
package hashworker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Argon2 variants.
const (
	variantID = 1 // argon2id
	variantI  = 2 // argon2i
)

// Answer statuses.
const (
	statusKey   = 0
	statusError = 1
)

// Limits on what a frame may hold; a request beyond them is refused, an
// answer beyond them means the worker is broken.
const (
	maxFrame   = 1 << 16
	maxInput   = 4096 // password or salt bytes
	maxKeyLen  = 1024
	maxMemory  = 1 << 20 // KiB: 1 GiB, as the password package allows
	maxTime    = 100
	requestFix = 1 + 4 + 4 + 1 + 4
)

// request is one key derivation.
type request struct {
	variant        byte
	time, memory   uint32
	threads        uint8
	keyLen         uint32
	password, salt []byte
}

// variantCode maps a variant's name to its code on the wire.
func variantCode(name string) (byte, error) {
	switch name {
	case "argon2id":
		return variantID, nil
	case "argon2i":
		return variantI, nil
	}
	return 0, fmt.Errorf("hashworker: unknown argon2 variant %q", name)
}

// check validates the parameters as argon2 itself and the password
// package's limits do, so a worker never panics or exhausts its memory.
func (r *request) check() error {
	switch {
	case r.variant != variantID && r.variant != variantI:
		return fmt.Errorf("unknown variant %d", r.variant)
	case r.time < 1 || r.time > maxTime:
		return fmt.Errorf("time %d is not between 1 and %d", r.time, maxTime)
	case r.threads < 1:
		return errors.New("threads must be at least 1")
	case uint64(r.memory) < 8*uint64(r.threads) || r.memory > maxMemory:
		return fmt.Errorf("memory %d KiB is not between 8 times threads and %d", r.memory, maxMemory)
	case r.keyLen < 1 || r.keyLen > maxKeyLen:
		return fmt.Errorf("key length %d is not between 1 and %d", r.keyLen, maxKeyLen)
	case len(r.password) > maxInput || len(r.salt) > maxInput:
		return fmt.Errorf("password or salt longer than %d bytes", maxInput)
	}
	return nil
}

// encode appends the request's frame to b.
func (r *request) encode(b []byte) []byte {
	n := requestFix + 4 + len(r.password) + 4 + len(r.salt)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, r.variant)
	b = binary.BigEndian.AppendUint32(b, r.time)
	b = binary.BigEndian.AppendUint32(b, r.memory)
	b = append(b, r.threads)
	b = binary.BigEndian.AppendUint32(b, r.keyLen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.password)))
	b = append(b, r.password...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.salt)))
	return append(b, r.salt...)
}

// decodeRequest reads a request from the body of a frame.
func decodeRequest(body []byte) (*request, error) {
	if len(body) < requestFix {
		return nil, errors.New("short request")
	}
	r := &request{
		variant: body[0],
		time:    binary.BigEndian.Uint32(body[1:]),
		memory:  binary.BigEndian.Uint32(body[5:]),
		threads: body[9],
		keyLen:  binary.BigEndian.Uint32(body[10:]),
	}
	rest := body[requestFix:]
	var ok bool
	if r.password, rest, ok = cutBytes(rest); !ok {
		return nil, errors.New("bad password field")
	}
	if r.salt, rest, ok = cutBytes(rest); !ok {
		return nil, errors.New("bad salt field")
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing bytes in request")
	}
	return r, nil
}

// cutBytes splits a 4-byte length and that many bytes off the front of b.
func cutBytes(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// readFrame reads one frame into buf (grown as needed) and returns its
// body. It returns io.EOF only when r ends before the frame starts.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes is above the limit of %d", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// appendAnswer appends an answer frame of status and data to b.
func appendAnswer(b []byte, status byte, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(data)))
	b = append(b, status)
	return append(b, data...)
}
