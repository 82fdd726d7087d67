package hallpass_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/sqlitestore"
)

// Member is a row of the app's own users table; hallpass hands it back in
// User.Extra.
type Member struct {
	ID          int64
	Email       string
	DisplayName string
}

// members is the app's users table as hallpass sees it: an
// account.Source, Flask-Login's user_loader plus the lookup a login form
// needs.
type members struct{ db *sql.DB }

func (m members) UserByID(ctx context.Context, id string) (*account.User, error) {
	return m.find(ctx, "id = ?", id)
}

func (m members) UserByUsername(ctx context.Context, email string) (*account.User, error) {
	return m.find(ctx, "email = ?", email)
}

func (m members) find(ctx context.Context, where string, arg any) (*account.User, error) {
	var (
		row    Member
		hash   string
		banned bool
	)
	err := m.db.QueryRowContext(ctx, `SELECT id, email, display_name, pw_hash, banned FROM users WHERE `+where, arg).
		Scan(&row.ID, &row.Email, &row.DisplayName, &hash, &banned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &account.User{ID: strconv.FormatInt(row.ID, 10), Username: row.Email,
		PasswordHash: hash, Disabled: banned, Extra: &row}, nil
}

// An app with its own users table: hallpass's tables (all named
// hallpass_*) go into the app's database beside it, the app's Source
// finds its users, and a user the app bans is logged out on the next
// request.
func ExampleNew_ownUsers() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "app")
	defer os.RemoveAll(dir)
	appDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		panic(err)
	}
	defer appDB.Close()
	hash, _ := new(password.Hasher).Hash(ctx, "correct horse battery")
	appDB.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,
		display_name TEXT NOT NULL, pw_hash TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0)`)
	appDB.Exec(`INSERT INTO users (email, display_name, pw_hash) VALUES ('ada@example.com', 'Ada Lovelace', ?)`, hash)

	db, err := sqlitestore.New(ctx, appDB, sqlitestore.Options{}) // hallpass_* tables beside the app's
	if err != nil {
		panic(err)
	}
	defer db.Close() // appDB stays open
	auth, err := hallpass.New(hallpass.Config{
		Keys:     [][]byte{[]byte("a secret key of at least 32 bytes!")},
		Sessions: db.Sessions(),
		Users:    members{appDB},
		Remember: db.Accounts(), // remember-me tokens, keyed by the app's user IDs
		BaseURL:  "http://localhost:8080",
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post">%s ...</form>`, auth.CSRFField(w, r))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Authenticate(r, r.PostFormValue("email"), r.PostFormValue("password"))
		if err != nil {
			auth.Error(w, r, err)
			return
		}
		if err := auth.Login(w, r, user, true); err != nil {
			auth.Error(w, r, err) // a store down, or a second factor to ask for
			return
		}
		http.Redirect(w, r, "/notes", http.StatusSeeOther)
	})
	mux.Handle("GET /notes", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := auth.CurrentUser(r).Extra.(*Member) // the app's own row
		fmt.Fprintf(w, "Notes of %s", me.DisplayName)
	})))
	app := auth.Handler(mux)

	jar := map[string]*http.Cookie{}
	form := browse(app, jar, "GET", "/login", nil).Body.String()
	login := url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"},
		"csrf_token": {strings.Split(strings.Split(form, `value="`)[1], `"`)[0]}}
	w := browse(app, jar, "POST", "/login", login)
	fmt.Println(w.Code, w.Header().Get("Location"))
	w = browse(app, jar, "GET", "/notes", nil)
	fmt.Println(w.Code, w.Body.String())

	appDB.Exec(`UPDATE users SET banned = 1 WHERE email = 'ada@example.com'`) // in the app's own table
	w = browse(app, jar, "GET", "/notes", nil)
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// 303 /notes
	// 200 Notes of Ada Lovelace
	// 303 /login?next=%2Fnotes
}
