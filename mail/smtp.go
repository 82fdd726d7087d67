package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"time"
)

// DefaultTimeout bounds one delivery (dial, TLS, AUTH, DATA) when
// SMTPOptions.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// SMTPOptions configures an SMTP Mailer. The zero value is ready to use.
type SMTPOptions struct {
	// TLSConfig is used for STARTTLS and implicit TLS; nil verifies the
	// server's certificate against the system roots for its host name.
	TLSConfig *tls.Config
	// Timeout bounds each delivery. Default DefaultTimeout.
	Timeout time.Duration
	// Hello is the name sent in EHLO. Default "localhost".
	Hello string
	// Now dates messages. Default time.Now.
	Now func() time.Time
}

// SMTP is a Mailer that delivers each message over its own connection to
// one mail server (a relay or submission server).
type SMTP struct {
	host, port string
	implicit   bool // smtps://: TLS from the first byte
	user, pass string
	from       string
	opt        SMTPOptions
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP returns a Mailer for the server named by rawURL, sending from
// the address from (such as "Hallpass <login@example.com>").
//
// rawURL is smtp://[user:password@]host[:port] (port 587 by default),
// which upgrades to TLS with STARTTLS whenever the server offers it and
// refuses to send a password to a server that does not; or
// smtps://[user:password@]host[:port] (port 465 by default), TLS from
// the start. With a user, the client authenticates with AUTH PLAIN.
// Errors never repeat the password.
func NewSMTP(rawURL, from string, opt SMTPOptions) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("mail: the SMTP URL cannot be parsed; want smtp://[user:password@]host:port or smtps://[user:password@]host:port")
	}
	s := &SMTP{host: u.Hostname(), port: u.Port(), opt: opt}
	switch u.Scheme {
	case "smtp":
		if s.port == "" {
			s.port = "587"
		}
	case "smtps":
		s.implicit = true
		if s.port == "" {
			s.port = "465"
		}
	default:
		return nil, fmt.Errorf("mail: the SMTP URL has scheme %q; want smtp:// or smtps://", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("mail: the SMTP URL names no host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("mail: the SMTP URL must have no path or query")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: the sender %q is not an email address", from)
	}
	s.from = a.String()
	if s.opt.Timeout <= 0 {
		s.opt.Timeout = DefaultTimeout
	}
	if s.opt.Hello == "" {
		s.opt.Hello = "localhost"
	}
	if s.opt.Now == nil {
		s.opt.Now = time.Now
	}
	return s, nil
}

// String names the server (without credentials), for logs.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return scheme + "://" + net.JoinHostPort(s.host, s.port)
}

// Send delivers m, or returns why not.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	body, err := Encode(m, s.from, s.opt.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	if err := s.deliver(ctx, m.To, body); err != nil {
		return fmt.Errorf("mail: send through %s: %w", s, err)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if s.opt.TLSConfig != nil {
		c = s.opt.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	return c
}

func (s *SMTP) deliver(ctx context.Context, to string, body []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.host, s.port))
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if s.implicit {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(s.opt.Hello); err != nil {
		return err
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if s.pass != "" {
			return errors.New("the server does not offer STARTTLS; refusing to send the password in clear (use smtps:// for implicit TLS)")
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	fa, _ := mail.ParseAddress(s.from)
	if err := c.Mail(fa.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	rcpt, err := recipient(to)
	if err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}
