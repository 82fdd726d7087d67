package mail_test

import (
	"bytes"
	"errors"
	"net/mail"
	"testing"
	"time"

	hpmail "github.com/hallpass/hallpass/mail"
)

// Recipients and subjects come from people (an address typed into a form);
// whatever they hold, Encode either refuses the message or writes exactly
// its own headers, with the recipient and subject it was given.
func FuzzEncode(f *testing.F) {
	f.Add("ada@example.com", "Reset your password")
	f.Add("ada@example.com\r\nBcc: eve@example.com", "x")
	f.Add("ada@example.com", "x\nBcc: eve@example.com")
	f.Add("\"a\r\nb\"@example.com", "Grüße")
	f.Add("Ada <ada@example.com>", "")
	f.Fuzz(func(t *testing.T, to, subject string) {
		m := &hpmail.Message{To: to, Subject: subject, Text: "hello", HTML: "<p>hello</p>"}
		raw, err := hpmail.Encode(m, "login@example.com", time.Unix(0, 0))
		if err != nil {
			if !errors.Is(err, hpmail.ErrInvalid) {
				t.Fatalf("Encode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("Encode wrote an unreadable message: %v\n%q", err, raw)
		}
		want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true, "Mime-Version": true, "Content-Type": true}
		for k, v := range msg.Header {
			if !want[k] || len(v) != 1 {
				t.Fatalf("header %s = %q: an injected or repeated header\n%q", k, v, raw)
			}
		}
		// The To header names the same mailbox as the input: parsed
		// back, it gives the same address.
		addr, err := mail.ParseAddress(to)
		if err != nil {
			t.Fatalf("Encode accepted %q, which net/mail cannot parse: %v", to, err)
		}
		got, err := mail.ParseAddress(msg.Header.Get("To"))
		if err != nil || got.Address != addr.Address || got.Name != "" {
			t.Fatalf("To header %q (parsed: %v, %v), want the address %q", msg.Header.Get("To"), got, err, addr.Address)
		}
	})
}
