// Command notes-chi is examples/notes on the chi router: the same routes
// and the same hallpass calls, with chi's r.Use, r.Group and r.With in
// place of wrapping handlers by hand. hallpass's middleware is plain
// func(http.Handler) http.Handler, so it goes into chi as it is. To stay
// short, it keeps the notes in memory (examples/notes keeps them in
// SQLite) and its pages in one template.
//
//	go run ./examples/notes-chi -addr 127.0.0.1:8080 -data ./notes-data -admin ada
package main

import (
	"context"
	"flag"
	"html/template"
	"log"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/sqlitestore"
)

var tmpl = template.Must(template.New("").Funcs(hallpass.FuncMap()).Parse(`
{{define "page"}}<!doctype html><title>Notes</title>
<nav>{{with currentUser}}Hello, {{.Username}}
<form method="post" action="/logout">{{csrfField}}<button>Log out</button></form>
{{else}}<a href="/login">Log in</a> · <a href="/register">Register</a>{{end}}</nav>
{{range flashes}}<p class="{{.Category}}">{{.Message}}</p>{{end}}
{{with .Error}}<p class="error">{{.}}</p>{{end}}
{{if eq .Page "register"}}<form method="post" action="/register">{{csrfField}}
<input name="username"> <input name="email" type="email"> <input name="password" type="password"> <button>Register</button></form>
{{else if eq .Page "login"}}<form method="post" action="/login">{{csrfField}}<input type="hidden" name="next" value="{{.Next}}">
<input name="username"> <input name="password" type="password"> <label><input name="remember" type="checkbox"> Remember me</label> <button>Log in</button></form>
{{else if eq .Page "notes"}}<form method="post" action="/notes">{{csrfField}}<textarea name="text"></textarea><button>Add</button></form>
<ul>{{range .Notes}}<li>{{.}}</li>{{else}}<li>No notes yet.</li>{{end}}</ul>
{{else if eq .Page "admin"}}<h1>Admin</h1><p>{{.Count}} notes in all.</p>{{end}}
{{end}}`))

// page is what the template shows.
type page struct {
	Page, Error, Next string
	Notes             []string
	Count             int
}

// app keeps the notes of each user ID.
type app struct {
	auth  *hallpass.Auth
	pages *hallpass.Templates
	admin string
	mu    sync.Mutex
	notes map[string][]string
}

func (a *app) show(w http.ResponseWriter, r *http.Request, p page, err error) {
	status := http.StatusOK
	if err != nil {
		status, p.Error = autherr.Status(autherr.KindOf(err)), autherr.MessageOf(err)
	}
	a.pages.Render(w, r, status, "page", p)
}

// routes returns the app on chi, behind auth.Handler.
func (a *app) routes() http.Handler {
	auth := a.auth
	r := chi.NewRouter()
	r.Use(auth.Handler)
	r.Get("/register", func(w http.ResponseWriter, r *http.Request) { a.show(w, r, page{Page: "register"}, nil) })
	r.Post("/register", func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.SignUp(r, r.PostFormValue("username"), r.PostFormValue("email"), r.PostFormValue("password"))
		if err == nil && a.admin != "" && strings.EqualFold(user.Username, a.admin) {
			err = auth.LoginManager().SetRoles(r.Context(), "", user.ID, []string{"admin"})
		}
		if err == nil {
			err = auth.Login(w, r, user, false)
		}
		if err != nil {
			a.show(w, r, page{Page: "register"}, err)
			return
		}
		auth.Flash(w, r, "success", "Welcome, "+user.Username+"!", "/notes")
	})
	r.Get("/login", func(w http.ResponseWriter, r *http.Request) {
		a.show(w, r, page{Page: "login", Next: login.SafeNext(r.FormValue("next"))}, nil)
	})
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		next := login.SafeNext(r.PostFormValue("next"))
		user, err := auth.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
		if err == nil {
			err = auth.Login(w, r, user, r.PostFormValue("remember") == "on")
		}
		if err != nil {
			a.show(w, r, page{Page: "login", Next: next}, err)
			return
		}
		if next == "" {
			next = "/notes"
		}
		auth.Flash(w, r, "success", "Welcome back, "+user.Username+".", next)
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Logout(w, r); err != nil {
			auth.Error(w, r, err)
			return
		}
		auth.Flash(w, r, "info", "You are logged out.", "/login")
	})
	r.Group(func(r chi.Router) {
		r.Use(auth.RequireLogin)
		r.Get("/notes", func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			notes := a.notes[auth.CurrentUser(r).ID]
			a.mu.Unlock()
			a.show(w, r, page{Page: "notes", Notes: notes}, nil)
		})
		r.Post("/notes", func(w http.ResponseWriter, r *http.Request) {
			if text := strings.TrimSpace(r.PostFormValue("text")); text != "" {
				id := auth.CurrentUser(r).ID
				a.mu.Lock()
				a.notes[id] = append([]string{text}, a.notes[id]...)
				a.mu.Unlock()
			}
			auth.Flash(w, r, "success", "Saved.", "/notes")
		})
	})
	r.With(auth.RequireRole("admin")).Get("/admin", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		n := 0
		for _, list := range a.notes {
			n += len(list)
		}
		a.mu.Unlock()
		a.show(w, r, page{Page: "admin", Count: n}, nil)
	})
	return r
}

// newApp builds the app on hallpass's SQLite store in dir; configure, if
// set, changes the configuration first.
func newApp(ctx context.Context, dir, baseURL, admin string, configure func(*hallpass.Config)) (*app, func() error, error) {
	db, err := sqlitestore.Open(ctx, filepath.Join(dir, "hallpass.db"), sqlitestore.Options{})
	if err != nil {
		return nil, nil, err
	}
	key, err := hallpass.KeyFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	cfg := hallpass.Config{Keys: [][]byte{key}, Sessions: db.Sessions(), Users: db.Accounts(), BaseURL: baseURL}
	if configure != nil {
		configure(&cfg)
	}
	auth, err := hallpass.New(cfg)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return &app{auth: auth, pages: auth.MustTemplates(tmpl), admin: admin, notes: map[string][]string{}}, db.Close, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	data := flag.String("data", "./notes-data", "directory of hallpass's database and the secret key")
	admin := flag.String("admin", "", "the user registered under this name gets the admin role")
	flag.Parse()
	a, closeDB, err := newApp(context.Background(), *data, "http://"+*addr, *admin, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer closeDB()
	log.Printf("serving http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, a.routes()))
}
