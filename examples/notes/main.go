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
// role.
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
	a, err := open(ctx, options{Dir: *data, BaseURL: *baseURL, Admin: *admin, TOTP: *totp, Logger: logger})
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
