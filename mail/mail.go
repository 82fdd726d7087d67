// Package mail sends email: a Message with a plain-text and an HTML part,
// the small Mailer interface the account flows send through, an SMTP
// Mailer (STARTTLS, implicit TLS, AUTH PLAIN), a development Mailer that
// writes messages to the log, and a bounded Queue with retries, so that a
// slow or unreachable mail server never blocks or fails a request.
//
// Package mailtest runs a real SMTP server for tests.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is one email to one recipient.
type Message struct {
	To      string // one address, without a display name
	Subject string // one line
	Text    string // the plain-text part; required
	HTML    string // the HTML part; empty sends plain text only

	// Done, if set, is called once the message has been delivered (nil)
	// or given up on (the last error). A Queue calls it from its worker;
	// a Mailer used directly does not call it.
	Done func(err error)
}

// Mailer sends messages. Send returns once the message has been handed
// over (to a mail server, a log, or a queue), or with an error saying why
// not. Implementations are safe for concurrent use.
type Mailer interface {
	Send(ctx context.Context, m *Message) error
}

// ErrInvalid reports a message that cannot be sent as it is: a bad
// recipient or sender address, or a header with a line break.
var ErrInvalid = errors.New("mail: invalid message")

// Encode returns m as an RFC 5322 message from the address from, dated
// now: the headers From, To, Subject, Date, Message-ID and MIME-Version,
// and a multipart/alternative body (text, then HTML) in quoted-printable
// UTF-8, or a text/plain body when m has no HTML. Lines end in CRLF.
func Encode(m *Message, from string, now time.Time) ([]byte, error) {
	fa, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w: sender %q: %v", ErrInvalid, from, err)
	}
	to, err := recipient(m.To)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: subject has a line break", ErrInvalid)
	}
	domain := fa.Address[strings.LastIndexByte(fa.Address, '@')+1:]
	var id [16]byte
	rand.Read(id[:])

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", fa.String())
	header("To", to)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	if m.HTML == "" {
		header("Content-Type", `text/plain; charset="utf-8"`)
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + `; charset="utf-8"`},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// recipient returns the one plain address in to as an RFC 5322 addr-spec,
// its local part quoted when it needs to be: the form that goes into the To
// header and into RCPT TO. (net/mail's Address field holds the local part
// unquoted, so `" "@example.com` would come out as ` @example.com`, a
// different address.)
func recipient(to string) (string, error) {
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || strings.ContainsAny(to, "\r\n") {
		return "", fmt.Errorf("%w: recipient is not one plain address", ErrInvalid)
	}
	s := a.String() // "<addr-spec>" when there is no name
	return s[1 : len(s)-1], nil
}

// writeQP writes s quoted-printable with CRLF line ends.
func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	q := quotedprintable.NewWriter(w)
	if _, err := q.Write([]byte(s)); err != nil {
		return err
	}
	return q.Close()
}
