package hashworker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/crypto/argon2"

	"github.com/hallpass/hallpass/internal/sched"
)

// Serve is a worker's loop: it reads derivation requests from r and writes
// each answer to w, until r ends, when it returns nil. It first limits the
// Go runtime to one processor and, on Linux, puts every thread of the
// process under SCHED_IDLE (threads created later inherit it); it fails
// if the kernel refuses. It returns an error if r or w fails or a request
// cannot be read; a request with invalid parameters gets an error answer
// and the loop goes on. Call it from a process of its own: it changes the
// whole process's scheduling.
func Serve(r io.Reader, w io.Writer) error {
	runtime.GOMAXPROCS(1)
	if sched.Supported {
		if err := sched.IdleProcess(); err != nil {
			return fmt.Errorf("hashworker: %w", err)
		}
	}
	br := bufio.NewReader(r)
	var in, out []byte
	for {
		body, err := readFrame(br, in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("hashworker: read request: %w", err)
		}
		in = body[:0]
		out = answer(out[:0], body)
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("hashworker: write answer: %w", err)
		}
	}
}

// answer derives the key a request frame's body asks for and appends the
// answer frame to b.
func answer(b, body []byte) []byte {
	req, err := decodeRequest(body)
	if err == nil {
		err = req.check()
	}
	if err != nil {
		return appendAnswer(b, statusError, []byte(err.Error()))
	}
	var key []byte
	if req.variant == variantID {
		key = argon2.IDKey(req.password, req.salt, req.time, req.memory, req.threads, req.keyLen)
	} else {
		key = argon2.Key(req.password, req.salt, req.time, req.memory, req.threads, req.keyLen)
	}
	clear(req.password)
	return appendAnswer(b, statusKey, key)
}
