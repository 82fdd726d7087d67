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
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
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

	// Configure, if set, changes the hallpass configuration before New
	// (the tests use cheap password hashing).
	Configure func(*hallpass.Config)
}

// app is the notes app: hallpass for the users, its own table for the
// notes.
type app struct {
	auth  *hallpass.Auth
	pages *hallpass.Templates
	db    *sqlitestore.DB // hallpass's data
	notes *sql.DB         // the app's own
	admin string
	log   *slog.Logger
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
	notes, err := openNotes(ctx, filepath.Join(o.Dir, "notes.db"))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &app{auth: auth, pages: pages, db: db, notes: notes, admin: o.Admin, log: o.Logger}, nil
}

// Close closes the databases.
func (a *app) Close() error {
	return errors.Join(a.notes.Close(), a.db.Close())
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
	mux.Handle("GET /notes", auth.RequireLogin(http.HandlerFunc(a.listNotes)))
	mux.Handle("POST /notes", auth.RequireLogin(http.HandlerFunc(a.addNote)))
	admin := http.Handler(http.HandlerFunc(a.adminPage))
	if auth.TwoFA() != nil {
		// With TOTP on, the admin area needs a login that passed it.
		admin = auth.RequireSecondFactor("/2fa")(admin)
		a.twofaRoutes(mux)
	}
	mux.Handle("GET /admin", auth.RequireRole("admin")(admin))
	return auth.Handler(mux)
}

// form is what the register and login pages show.
type form struct {
	Username, Email, Next string
	Error                 string            // a message for the whole form
	Fields                map[string]string // a message per field
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
	a.pages.Render(w, r, http.StatusOK, "login.html", form{Next: login.SafeNext(r.FormValue("next"))})
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
