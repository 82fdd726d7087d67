package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/mail/mailtest"
)

var testMessage = mail.Message{
	To:      "ada@example.com",
	Subject: "Reset your password — hallpass",
	Text:    "Hello Ada,\n\nFollow this link: http://localhost:8080/password/reset/abc\n",
	HTML:    "<p>Hello Ada,</p><p><a href=\"http://localhost:8080/password/reset/abc\">Reset</a></p>",
}

func TestSMTPDelivers(t *testing.T) {
	tests := []struct {
		name     string
		opt      mailtest.Options
		wantTLS  bool
		wantAuth string
	}{
		{"plain", mailtest.Options{}, false, ""},
		{"starttls", mailtest.Options{STARTTLS: true}, true, ""},
		{"starttls auth", mailtest.Options{STARTTLS: true, User: "hallpass", Password: "s3cret pass"}, true, "hallpass"},
		{"implicit tls auth", mailtest.Options{ImplicitTLS: true, User: "hallpass", Password: "s3cret"}, true, "hallpass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opt)
			now := time.Date(2026, 11, 28, 15, 4, 5, 0, time.UTC)
			m, err := mail.NewSMTP(srv.URL(), "Hallpass <login@example.com>", mail.SMTPOptions{TLSConfig: srv.ClientTLS(), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			msg := testMessage
			if err := m.Send(t.Context(), &msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Wait(t, "ada@example.com", 0)
			if got.TLS != tt.wantTLS || got.Auth != tt.wantAuth {
				t.Errorf("TLS, Auth = %v, %q; want %v, %q", got.TLS, got.Auth, tt.wantTLS, tt.wantAuth)
			}
			if got.From != "login@example.com" {
				t.Errorf("MAIL FROM = %q, want login@example.com", got.From)
			}
			h := got.Header
			for k, want := range map[string]string{
				"From":         `"Hallpass" <login@example.com>`,
				"To":           "ada@example.com",
				"Date":         "Sat, 28 Nov 2026 15:04:05 +0000",
				"MIME-Version": "1.0",
			} {
				if h.Get(k) != want {
					t.Errorf("header %s = %q, want %q", k, h.Get(k), want)
				}
			}
			if subj, err := h.Date(); err != nil || !subj.Equal(now) {
				t.Errorf("Date parses to %v, %v", subj, err)
			}
			if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID = %q, want <...@example.com>", id)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "multipart/alternative;") {
				t.Errorf("Content-Type = %q, want multipart/alternative", h.Get("Content-Type"))
			}
			if got.Text != msg.Text {
				t.Errorf("text part = %q, want %q", got.Text, msg.Text)
			}
			if !strings.Contains(got.HTML, `<a href="http://localhost:8080/password/reset/abc">`) {
				t.Errorf("HTML part = %q", got.HTML)
			}
		})
	}
}

// A recipient goes into RCPT TO and the To header as one canonical
// addr-spec: surrounding space dropped, a local part that needs quotes kept
// quoted (net/mail hands it back unquoted, which would name another
// mailbox).
func TestSMTPRecipientForm(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	m, err := mail.NewSMTP(srv.URL(), "login@example.com", mail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// rcpt is the mailbox as the server reports it (go-smtp unquotes the
	// local part of RCPT TO); header is the To header as sent.
	for _, tt := range []struct{ to, rcpt, header string }{
		{"  ada@example.com ", "ada@example.com", "ada@example.com"},
		{`"ada lovelace"@example.com`, "ada lovelace@example.com", `"ada lovelace"@example.com`},
		{`" "@example.com`, " @example.com", `" "@example.com`},
	} {
		msg := testMessage
		msg.To = tt.to
		if err := m.Send(t.Context(), &msg); err != nil {
			t.Fatalf("Send to %q: %v", tt.to, err)
		}
		got := srv.Wait(t, tt.rcpt, 0)
		if h := got.Header.Get("To"); h != tt.header {
			t.Errorf("Send to %q: To header %q, want %q", tt.to, h, tt.header)
		}
	}
}

func TestSMTPRefuses(t *testing.T) {
	plain := mailtest.Start(t, mailtest.Options{User: "u", Password: "p"})
	tls := mailtest.Start(t, mailtest.Options{STARTTLS: true, User: "u", Password: "p"})
	tests := []struct {
		name, url string
		want      string
	}{
		{"password without STARTTLS", plain.URL(), "refusing to send the password in clear"},
		{"wrong password", "smtp://u:wrong@" + tls.Addr, "AUTH"},
		{"no auth", "smtp://" + tls.Addr, "MAIL FROM"},
		{"nobody listening", "smtp://" + closedAddr(t), "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mail.NewSMTP(tt.url, "login@example.com", mail.SMTPOptions{TLSConfig: tls.ClientTLS(), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			msg := testMessage
			err = m.Send(t.Context(), &msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v, want an error about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
	if n := len(plain.Messages()) + len(tls.Messages()); n != 0 {
		t.Errorf("%d messages delivered, want 0", n)
	}
}

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewSMTPBadURL(t *testing.T) {
	for _, u := range []string{"http://mail.example.com", "smtp://", "smtp://host:25/path", "smtp://host?x=1", "://"} {
		if _, err := mail.NewSMTP(u, "login@example.com", mail.SMTPOptions{}); err == nil {
			t.Errorf("NewSMTP(%q) = nil error, want one", u)
		}
	}
	if _, err := mail.NewSMTP("smtp://u:secretpw@host", "not an address", mail.SMTPOptions{}); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("bad sender: err = %v, want an error without the password", err)
	}
}

func TestEncodeRefusesHeaderInjection(t *testing.T) {
	for _, m := range []mail.Message{
		{To: "a@example.com\r\nBcc: b@example.com", Subject: "x", Text: "x"},
		{To: "a@example.com", Subject: "x\r\nBcc: b@example.com", Text: "x"},
		{To: "Ada <a@example.com>", Subject: "x", Text: "x"},
		{To: "", Subject: "x", Text: "x"},
	} {
		if _, err := mail.Encode(&m, "login@example.com", time.Now()); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("Encode(To %q, Subject %q) = %v, want ErrInvalid", m.To, m.Subject, err)
		}
	}
}

func TestQueueRetries(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{STARTTLS: true})
	srv.FailNext(2)
	var logs syncBuffer
	smtp, err := mail.NewSMTP(srv.URL(), "login@example.com", mail.SMTPOptions{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(smtp, mail.QueueOptions{Backoff: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer q.Close(context.Background())
	done := make(chan error, 1)
	msg := testMessage
	msg.Done = func(err error) { done <- err }
	if err := q.Send(t.Context(), &msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("delivery: %v", err)
	}
	srv.Wait(t, "ada@example.com", 0)
	if n := strings.Count(logs.String(), "mail: delivery failed"); n != 2 {
		t.Errorf("%d failure lines, want 2 (one per failed attempt); logs:\n%s", n, logs.String())
	}
}

func TestQueueNeverBlocks(t *testing.T) {
	// A server that accepts connections and never answers: each delivery
	// hangs until its timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var logs syncBuffer
	smtp, err := mail.NewSMTP("smtp://"+l.Addr().String(), "login@example.com", mail.SMTPOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(smtp, mail.QueueOptions{Size: 3, Workers: 1, Attempts: 2, Backoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	results := make(chan error, 10)
	var errs []error
	for range 6 {
		msg := testMessage
		msg.Done = func(err error) { results <- err }
		errs = append(errs, q.Send(t.Context(), &msg))
	}
	full := 0
	for _, err := range errs {
		if errors.Is(err, mail.ErrQueueFull) {
			full++
		} else if err != nil {
			t.Errorf("Send = %v, want nil or ErrQueueFull", err)
		}
	}
	if full < 2 {
		t.Errorf("%d of 6 sends refused as queue full, want at least 2 (size 3, one in flight)", full)
	}
	if err := <-results; err == nil {
		t.Errorf("delivery to a silent server reported success")
	}
	if err := q.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := q.Send(t.Context(), &mail.Message{To: "a@example.com", Text: "x"}); !errors.Is(err, mail.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	for _, want := range []string{"mail: delivery failed", "mail: message given up", "mail: queue full"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestLogMailer(t *testing.T) {
	var buf bytes.Buffer
	m := &mail.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	msg := testMessage
	if err := m.Send(t.Context(), &msg); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", mail.LogMessage, "to=ada@example.com", "http://localhost:8080/password/reset/abc"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
