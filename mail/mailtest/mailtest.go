// Package mailtest runs a real SMTP server over TCP for tests, on
// github.com/emersion/go-smtp: plain, with STARTTLS, or with implicit TLS,
// optionally requiring AUTH PLAIN, and keeps every message it receives so a
// test can read it, follow its links and assert what arrived.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options chooses how the server talks.
type Options struct {
	// STARTTLS offers the STARTTLS extension, with a certificate for
	// 127.0.0.1 and localhost that Server.ClientTLS trusts.
	STARTTLS bool
	// ImplicitTLS speaks TLS from the first byte (smtps://).
	ImplicitTLS bool
	// User and Password, when set, are required (AUTH PLAIN) before
	// MAIL FROM.
	User, Password string
}

// Received is one delivered message.
type Received struct {
	From string   // MAIL FROM
	To   []string // RCPT TO
	Raw  []byte   // the message as sent (DATA)
	TLS  bool     // the session was encrypted
	Auth string   // the user that authenticated, if any

	Header mail.Header // parsed from Raw
	Text   string      // the decoded text/plain part
	HTML   string      // the decoded text/html part, if any
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port
	opt  Options
	srv  *smtp.Server
	cert *x509.Certificate

	mu       sync.Mutex
	received []*Received
	notify   chan struct{}
	failNext int
}

// Start starts a server on 127.0.0.1 on a free port, stopped at the end of
// the test.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	s := &Server{opt: opt, notify: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, tlsOn := c.TLSConnectionState()
		return &session{s: s, tls: tlsOn}, nil
	}))
	s.srv.Domain = "mailtest.localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // a test may end before a connection does
	var tlsConf *tls.Config
	if opt.STARTTLS || opt.ImplicitTLS {
		cert, leaf, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
		s.cert = leaf
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.srv.TLSConfig = tlsConf
	}
	s.srv.AllowInsecureAuth = !opt.STARTTLS && !opt.ImplicitTLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	if opt.ImplicitTLS {
		l = tls.NewListener(l, tlsConf)
	}
	s.Addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// URL returns the smtp:// or smtps:// URL of the server, with the
// credentials of Options.
func (s *Server) URL() string {
	scheme := "smtp"
	if s.opt.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: s.Addr}
	if s.opt.User != "" {
		u.User = url.UserPassword(s.opt.User, s.opt.Password)
	}
	return u.String()
}

// ClientTLS returns a client configuration that trusts the server's
// certificate (nil when the server has no TLS).
func (s *Server) ClientTLS() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool}
}

// FailNext makes the next n deliveries fail with a temporary error (451)
// at DATA, as a mail server with a problem does.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Messages returns what the server has received so far, in order.
func (s *Server) Messages() []*Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Received(nil), s.received...)
}

// Wait returns the first received message to rcpt that skip does not
// count (the skip+1st), waiting up to 20 seconds for it; it fails the test
// if none comes.
func (s *Server) Wait(t testing.TB, rcpt string, skip int) *Received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		n := 0
		for _, m := range s.received {
			for _, to := range m.To {
				if strings.EqualFold(to, rcpt) {
					if n == skip {
						s.mu.Unlock()
						return m
					}
					n++
				}
			}
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("mailtest: no message %d to %s within 20s (received %d in all)", skip+1, rcpt, len(s.Messages()))
			return nil
		}
	}
}

// Count returns how many received messages went to rcpt.
func (s *Server) Count(rcpt string) int {
	n := 0
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, rcpt) {
				n++
			}
		}
	}
	return n
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link returns the first URL in the message's text part that contains
// substr, or fails the test.
func (m *Received) Link(t testing.TB, substr string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Text, -1) {
		if strings.Contains(l, substr) {
			return l
		}
	}
	t.Fatalf("mailtest: no link with %q in the message:\n%s", substr, m.Text)
	return ""
}

func (s *Server) add(r *Received) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailtest: try again later"}
	}
	s.received = append(s.received, r)
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

type session struct {
	s    *Server
	tls  bool
	auth string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opt.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.opt.User || pass != ss.s.opt.Password {
			return errors.New("mailtest: invalid credentials")
		}
		ss.auth = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opt.User != "" && ss.auth == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := &Received{From: ss.from, To: ss.to, Raw: raw, TLS: ss.tls, Auth: ss.auth}
	if err := parse(rec); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: " + err.Error()}
	}
	return ss.s.add(rec)
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse fills the parsed fields of r from r.Raw.
func parse(r *Received) error {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	if err != nil {
		return err
	}
	r.Header = msg.Header
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("content type: %w", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		r.Text, err = decode(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		return err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		body, err := decode(p, p.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return err
		}
		switch pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt {
		case "text/plain":
			r.Text = body
		case "text/html":
			r.HTML = body
		}
	}
}

func decode(r io.Reader, cte string) (string, error) {
	if strings.EqualFold(cte, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n"), err
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}
