package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // the "sqlite" driver of the notes database

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/sqlitestore"
)

//go:embed templates/*.html
var templateFS embed.FS

// options configures the app.
type options struct {
	Dir     string       // the data directory
	BaseURL string       // the app's public URL
	Admin   string       // the username that gets the admin role at registration
	TOTP    bool         // offer TOTP second factors (and require one for /admin)
	Logger  *slog.Logger // default slog.Default()
	// Mailer sends the password reset links: a *mail.SMTP in production;
	// default the development mailer, which writes them to Logger.
	Mailer mail.Mailer

	// Configure, if set, changes the hallpass configuration before New
	// (the tests use cheap password hashing).
	Configure func(*hallpass.Config)

	// OIDC, if set, offers "Sign in with OIDC.Label" (package oidc).
	OIDC *oidc.Provider
}

// app is the notes app: hallpass for the users, its own table for the
// notes.
type app struct {
	auth  *hallpass.Auth
	reset *recovery.Service // "forgot password"
	mail  *mail.Queue       // its mail, sent in the background
	pages *hallpass.Templates
	db    *sqlitestore.DB // hallpass's data
	notes *sql.DB         // the app's own
	admin string
	log   *slog.Logger
	sso   *oidc.Service // nil without -oidc-issuer
}

// open opens the databases in o.Dir and builds the app.
func open(ctx context.Context, o options) (*app, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	db, err := sqlitestore.Open(ctx, filepath.Join(o.Dir, "hallpass.db"), sqlitestore.Options{})
	if err != nil {
		return nil, err
	}
	key, err := hallpass.KeyFile(filepath.Join(o.Dir, "secret.key"))
	if err != nil {
		db.Close()
		return nil, err
	}
	cfg := hallpass.Config{
		Keys:     [][]byte{key},
		Sessions: db.Sessions(),
		Users:    db.Accounts(),
		BaseURL:  o.BaseURL,
		Logger:   o.Logger,
	}
	if o.TOTP {
		cfg.TwoFA = db.TwoFA()
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	auth, err := hallpass.New(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	tmpl := template.Must(template.New("").Funcs(hallpass.FuncMap()).ParseFS(templateFS, "templates/*.html"))
	pages, err := auth.Templates(tmpl)
	if err != nil {
		db.Close()
		return nil, err
	}
	if o.Mailer == nil {
		o.Mailer = &mail.Log{Logger: o.Logger}
	}
	queue := mail.NewQueue(o.Mailer, mail.QueueOptions{Logger: o.Logger})
	lm := auth.LoginManager()
	reset, err := recovery.New(recovery.Config{
		Tokens: db.Recovery(), Users: db.Accounts(), Mailer: queue, BaseURL: o.BaseURL,
		SetPassword: func(ctx context.Context, id, pw string) error { return lm.SetPassword(ctx, "", id, pw) },
		Policy:      lm.Config().Policy, SiteName: "Notes", Logger: o.Logger,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	notes, err := openNotes(ctx, filepath.Join(o.Dir, "notes.db"))
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{auth: auth, reset: reset, mail: queue, pages: pages, db: db, notes: notes, admin: o.Admin, log: o.Logger}
	if o.OIDC != nil {
		// "Sign in with …": identities live in hallpass's database, and a
		// first sign-in creates an account as the register form does.
		a.sso, err = oidc.New(oidc.Config{
			Providers:    []oidc.Provider{*o.OIDC},
			BaseURL:      o.BaseURL,
			Login:        auth.LoginManager(),
			Identities:   db.Identities(),
			AfterLogin:   "/notes",
			AccountPath:  "/notes",
			ErrorHandler: a.ssoError,
			Logger:       o.Logger,
		})
		if err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close stops the provider discovery, waits (up to 10 s) for the mail
// still queued, and closes the databases.
func (a *app) Close() error {
	if a.sso != nil {
		a.sso.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(a.reset.Close(ctx), a.mail.Close(ctx), a.notes.Close(), a.db.Close())
}

// ssoError shows the login page with the message of a refused sign-in
// (401, 403), or the error page for the rest.
func (a *app) ssoError(w http.ResponseWriter, r *http.Request, err error) {
	switch autherr.KindOf(err) {
	case autherr.Unauthenticated, autherr.Forbidden, autherr.Throttled:
		a.formError(w, r, "login.html", form{}, err)
	default:
		a.auth.Error(w, r, err)
	}
}

// providers returns the "Sign in with …" buttons.
func (a *app) providers() []oidc.Button {
	if a.sso == nil {
		return nil
	}
	return a.sso.Buttons()
}

// Handler returns the app's routes behind auth.Handler.
func (a *app) Handler() http.Handler {
	auth := a.auth
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/notes", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /register", a.registerPage)
	mux.HandleFunc("POST /register", a.register)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /password/forgot", a.forgotPage)
	mux.HandleFunc("POST /password/forgot", a.forgot)
	mux.HandleFunc("GET /password/reset/{token}", a.resetPage)
	mux.HandleFunc("POST /password/reset/{token}", a.resetPassword)
	mux.Handle("GET /notes", auth.RequireLogin(http.HandlerFunc(a.listNotes)))
	mux.Handle("POST /notes", auth.RequireLogin(http.HandlerFunc(a.addNote)))
	admin := http.Handler(http.HandlerFunc(a.adminPage))
	if auth.TwoFA() != nil {
		// With TOTP on, the admin area needs a login that passed it.
		admin = auth.RequireSecondFactor("/2fa")(admin)
		a.twofaRoutes(mux)
	}
	mux.Handle("GET /admin", auth.RequireRole("admin")(admin))
	if a.sso != nil {
		a.sso.Register(mux)
	}
	return auth.Handler(mux)
}

// form is what the register and login pages show.
type form struct {
	Username, Email, Next string
	Error                 string            // a message for the whole form
	Fields                map[string]string // a message per field
	Providers             []oidc.Button     // "Sign in with …" on the login page
}

// formError shows the form again with err's message, with the status of
// err's kind (422 invalid, 401 wrong password, 409 taken, 429 throttled,
// 503 down).
func (a *app) formError(w http.ResponseWriter, r *http.Request, page string, f form, err error) {
	kind := autherr.KindOf(err)
	if kind == autherr.Internal || kind == autherr.Unavailable {
		a.log.ErrorContext(r.Context(), "notes: "+page, "err", err)
	}
	if s := autherr.RetryAfterSeconds(err); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	f.Error, f.Fields = autherr.MessageOf(err), autherr.FieldsOf(err)
	if page == "login.html" {
		f.Providers = a.providers()
	}
	if f.Fields != nil {
		f.Error = "Please correct the fields below."
	}
	a.pages.Render(w, r, autherr.Status(kind), page, f)
}

func (a *app) registerPage(w http.ResponseWriter, r *http.Request) {
	a.pages.Render(w, r, http.StatusOK, "register.html", form{})
}

func (a *app) register(w http.ResponseWriter, r *http.Request) {
	f := form{Username: r.PostFormValue("username"), Email: r.PostFormValue("email")}
	user, err := a.auth.SignUp(r, f.Username, f.Email, r.PostFormValue("password"))
	if err == nil && a.admin != "" && strings.EqualFold(user.Username, a.admin) {
		err = a.auth.LoginManager().SetRoles(r.Context(), "", user.ID, []string{"admin"})
	}
	if err == nil {
		err = a.auth.Login(w, r, user, false)
	}
	if err != nil {
		a.formError(w, r, "register.html", f, err)
		return
	}
	a.auth.Flash(w, r, "success", "Welcome, "+user.Username+"!", "/notes")
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	a.pages.Render(w, r, http.StatusOK, "login.html", form{Next: login.SafeNext(r.FormValue("next")), Providers: a.providers()})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	f := form{Username: r.PostFormValue("username"), Next: login.SafeNext(r.PostFormValue("next"))}
	user, err := a.auth.Authenticate(r, f.Username, r.PostFormValue("password"))
	if err == nil {
		err = a.auth.Login(w, r, user, r.PostFormValue("remember") == "on")
	}
	if errors.Is(err, login.ErrSecondFactorRequired) {
		// The password was right; the code comes next, on its own page.
		a.auth.Session(r).Put("next", f.Next)
		http.Redirect(w, r, "/login/2fa", http.StatusSeeOther)
		return
	}
	if err != nil {
		a.formError(w, r, "login.html", f, err)
		return
	}
	if f.Next == "" {
		f.Next = "/notes"
	}
	a.auth.Flash(w, r, "success", "Welcome back, "+user.Username+".", f.Next)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.auth.Logout(w, r); err != nil {
		a.auth.Error(w, r, err)
		return
	}
	a.auth.Flash(w, r, "info", "You are logged out.", "/login")
}

func (a *app) forgotPage(w http.ResponseWriter, r *http.Request) {
	a.pages.Render(w, r, http.StatusOK, "forgot.html", form{})
}

func (a *app) forgot(w http.ResponseWriter, r *http.Request) {
	f := form{Email: r.PostFormValue("email")}
	// The same answer, at once, whether or not an account uses the
	// address: the lookup and the mail happen in the background.
	if err := a.reset.RequestReset(r.Context(), f.Email, a.auth.ClientIP(r)); err != nil {
		a.formError(w, r, "forgot.html", f, err) // not an email address: 422
		return
	}
	a.auth.Flash(w, r, "info", recovery.MsgResetSent, "/login")
}

// resetForm is what the page behind a reset link shows.
type resetForm struct {
	Username string
	Error    string
}

func (a *app) resetPage(w http.ResponseWriter, r *http.Request) {
	user, err := a.reset.CheckReset(r.Context(), r.PathValue("token"))
	if err != nil {
		a.badLink(w, r, err)
		return
	}
	a.pages.Render(w, r, http.StatusOK, "reset.html", resetForm{Username: user.Username})
}

func (a *app) resetPassword(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	user, err := a.reset.ResetPassword(r.Context(), token, r.PostFormValue("new_password"), a.auth.ClientIP(r))
	var policy *account.FieldError
	if errors.As(err, &policy) {
		// The password policy refused it; the link still works.
		if user, cerr := a.reset.CheckReset(r.Context(), token); cerr == nil {
			a.pages.Render(w, r, http.StatusUnprocessableEntity, "reset.html", resetForm{Username: user.Username, Error: policy.Message})
			return
		}
	}
	if err != nil {
		a.badLink(w, r, err)
		return
	}
	// Every session of the user has ended. A browser that was logged in
	// as them is logged out, so the message has a session to wait in.
	if cu := a.auth.CurrentUser(r); cu != nil && cu.ID == user.ID {
		if err := a.auth.Logout(w, r); err != nil {
			a.auth.Error(w, r, err)
			return
		}
	}
	a.auth.Flash(w, r, "success", "Your password has been reset. Please log in with it.", "/login")
}

// badLink answers a reset link that does not work (400, "This link is
// invalid or has expired.", with the way to ask for another), or a store
// that is down (503).
func (a *app) badLink(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, recovery.ErrInvalidToken) {
		a.auth.Error(w, r, err)
		return
	}
	a.pages.Render(w, r, http.StatusBadRequest, "badlink.html", recovery.MsgInvalidLink)
}

// note is one row of the app's notes table.
type note struct {
	Text    string
	Created time.Time
}

// openNotes opens the app's own database, creating it (mode 0600) and its
// notes table on first use.
func openNotes(ctx context.Context, path string) (*sql.DB, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer: no SQLITE_BUSY between our own requests
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS notes (
		id         INTEGER PRIMARY KEY,
		user_id    TEXT    NOT NULL, -- hallpass's account.User.ID
		text       TEXT    NOT NULL,
		created_at INTEGER NOT NULL  -- Unix milliseconds
	);
	CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, id)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create the notes table: %w", err)
	}
	return db, nil
}

func (a *app) listNotes(w http.ResponseWriter, r *http.Request) {
	user := a.auth.CurrentUser(r)
	rows, err := a.notes.QueryContext(r.Context(),
		`SELECT text, created_at FROM notes WHERE user_id = ? ORDER BY id DESC`, user.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer rows.Close()
	var notes []note
	for rows.Next() {
		var n note
		var ms int64
		if err := rows.Scan(&n.Text, &ms); err != nil {
			a.fail(w, r, err)
			return
		}
		n.Created = time.UnixMilli(ms).UTC()
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		a.fail(w, r, err)
		return
	}
	a.pages.Render(w, r, http.StatusOK, "notes.html", notes)
}

// maxNote is the longest note, in characters.
const maxNote = 1000

func (a *app) addNote(w http.ResponseWriter, r *http.Request) {
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" || utf8.RuneCountInString(text) > maxNote {
		a.auth.Flash(w, r, "error", fmt.Sprintf("A note is 1 to %d characters long.", maxNote), "/notes")
		return
	}
	_, err := a.notes.ExecContext(r.Context(), `INSERT INTO notes (user_id, text, created_at) VALUES (?, ?, ?)`,
		a.auth.CurrentUser(r).ID, text, time.Now().UnixMilli())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.auth.Flash(w, r, "success", "Saved.", "/notes")
}

// userNotes is one line of the admin page.
type userNotes struct {
	UserID string
	Notes  int
}

func (a *app) adminPage(w http.ResponseWriter, r *http.Request) {
	rows, err := a.notes.QueryContext(r.Context(),
		`SELECT user_id, count(*) FROM notes GROUP BY user_id ORDER BY user_id`)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer rows.Close()
	var list []userNotes
	for rows.Next() {
		var u userNotes
		if err := rows.Scan(&u.UserID, &u.Notes); err != nil {
			a.fail(w, r, err)
			return
		}
		list = append(list, u)
	}
	if err := rows.Err(); err != nil {
		a.fail(w, r, err)
		return
	}
	a.pages.Render(w, r, http.StatusOK, "admin.html", list)
}

// fail logs a failure of the notes database and answers 503.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "notes: database", "err", err)
	a.auth.Error(w, r, autherr.Wrap(err, autherr.Unavailable, ""))
}
