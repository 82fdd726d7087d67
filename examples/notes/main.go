// Command notes is a small notes app built on hallpass exactly as
// hallpass's README teaches ("Using hallpass in your app"): register, log
// in (with remember me), log out, a page of your own notes, and an admin
// page.
//
//	go run ./examples/notes -addr 127.0.0.1:8080 -data ./notes-data -admin ada
//
// Its data lives in the -data directory: hallpass.db (hallpass's SQLite
// store: sessions, users, remember-me tokens), notes.db (the app's own
// notes table, a database of its own, so the app's schema and hallpass's
// never meet), and secret.key (the key that signs cookies, made on the
// first start). The user registered under the -admin name gets the admin
// role. "Forgot your password?" mails a reset link through the SMTP server
// given with -smtp and -mail-from; without them the link is written to the
// log (the development mailer).
//
// With -oidc-issuer, -oidc-client-id and -oidc-client-secret, the login
// page also offers "Sign in with -oidc-label" through that OpenID Connect
// provider; register BASE-URL/login/oidc/sso/callback as the redirect URI
// there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/oidc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// run parses the flags, opens the data directory and serves until ctx
// ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("notes", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fl.String("data", "./notes-data", "directory of the databases and the secret key")
	baseURL := fl.String("base-url", "", "the app's public URL (default http://ADDR); https turns on Secure cookies")
	admin := fl.String("admin", "", "the user registered under this name gets the admin role")
	smtpURL := fl.String("smtp", "", "smtp://[user:pass@]host:port (STARTTLS) or smtps://... for the password reset mail (default: written to the log)")
	from := fl.String("mail-from", "", `the mail's From, such as "Notes <notes@example.com>" (required with -smtp)`)
	oidcIssuer := fl.String("oidc-issuer", "", "issuer URL of an OpenID Connect provider to offer \"Sign in with …\" (optional)")
	oidcClientID := fl.String("oidc-client-id", "", "the client ID the provider issued")
	oidcClientSecret := fl.String("oidc-client-secret", "", "the client secret the provider issued (default $NOTES_OIDC_CLIENT_SECRET)")
	oidcLabel := fl.String("oidc-label", "SSO", "the provider's name on the button")
	totp := fl.Bool("totp", false, "offer TOTP two-factor authentication at /2fa, and require it for /admin")
	if err := fl.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *baseURL == "" {
		*baseURL = "http://" + ln.Addr().String()
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var mailer mail.Mailer // nil: the development mailer, which logs
	if *smtpURL != "" {
		if mailer, err = mail.NewSMTP(*smtpURL, *from, mail.SMTPOptions{}); err != nil {
			return err
		}
	} else {
		logger.Warn("notes: no -smtp: password reset mail goes to this log (the development mailer)")
	}
	o := options{Dir: *data, BaseURL: *baseURL, Admin: *admin, TOTP: *totp, Logger: logger, Mailer: mailer}
	if *oidcIssuer != "" {
		secret := *oidcClientSecret
		if secret == "" {
			secret = os.Getenv("NOTES_OIDC_CLIENT_SECRET")
		}
		if *oidcClientID == "" {
			return errors.New("-oidc-issuer needs -oidc-client-id")
		}
		o.OIDC = &oidc.Provider{ID: "sso", Label: *oidcLabel, Issuer: *oidcIssuer, ClientID: *oidcClientID, ClientSecret: secret}
	}
	a, err := open(ctx, o)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("notes: serving", "url", *baseURL)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
