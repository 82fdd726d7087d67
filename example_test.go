package hallpass_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/memstore"
)

// browse sends a request through h as a browser holding cookies would,
// and keeps the cookies the response sets.
func browse(h http.Handler, cookies map[string]*http.Cookie, method, path string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, "http://localhost:8080"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, "http://localhost:8080"+path, nil)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(cookies, c.Name)
		} else {
			cookies[c.Name] = c
		}
	}
	return w
}

// A whole app: a login form whose token the CSRF check wants back, a
// login, and a page only a logged-in user sees.
func Example() {
	auth, err := hallpass.New(hallpass.Config{
		Keys:     [][]byte{[]byte("a secret key of at least 32 bytes!")},
		Sessions: memstore.NewSessionStore(memstore.SessionOptions{}), // or sqlitestore, redisstore, pgstore...
		Users:    memstore.NewAccountStore(),
		BaseURL:  "http://localhost:8080",
	})
	if err != nil {
		panic(err)
	}
	auth.LoginManager().Register(context.Background(), "ada", "ada@example.com", "correct horse battery")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post">%s ...</form>`, auth.CSRFField(w, r))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
		if err != nil {
			auth.Error(w, r, err) // 401 "Invalid username or password.", 429, 503
			return
		}
		auth.Login(w, r, user, false)
		http.Redirect(w, r, "/notes", http.StatusSeeOther)
	})
	mux.Handle("GET /notes", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Notes of %s", auth.CurrentUser(r).Username)
	})))
	app := auth.Handler(mux)

	jar := map[string]*http.Cookie{}
	w := browse(app, jar, "GET", "/notes", nil)
	fmt.Println(w.Code, w.Header().Get("Location"))

	login := url.Values{"username": {"ada"}, "password": {"correct horse battery"}}
	w = browse(app, jar, "POST", "/login", login)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String())) // no token: refused

	form := browse(app, jar, "GET", "/login", nil).Body.String()
	login.Set("csrf_token", strings.Split(strings.Split(form, `value="`)[1], `"`)[0])
	w = browse(app, jar, "POST", "/login", login)
	fmt.Println(w.Code, w.Header().Get("Location"))

	w = browse(app, jar, "GET", "/notes", nil)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 303 /login?next=%2Fnotes
	// 403 The form has expired or was submitted from another site. Please reload the page and try again.
	// 303 /notes
	// 200 Notes of ada
}

// Templates parsed with FuncMap get csrfField, csrfToken, currentUser and
// flashes, bound to each request by Render.
func ExampleAuth_Templates() {
	auth, _ := hallpass.New(hallpass.Config{
		Keys:     [][]byte{[]byte("a secret key of at least 32 bytes!")},
		Sessions: memstore.NewSessionStore(memstore.SessionOptions{}),
		Users:    memstore.NewAccountStore(),
		BaseURL:  "http://localhost:8080",
	})
	tmpl := template.Must(template.New("").Funcs(hallpass.FuncMap()).Parse(`
{{define "page.html"}}{{range flashes}}<p class="{{.Category}}">{{.Message}}</p>{{end}}
{{with currentUser}}Hello {{.Username}}{{else}}<a href="/login">Log in</a>{{end}}
<form method="post">{{csrfField}}<textarea name="text"></textarea></form>{{end}}`))
	pages, err := auth.Templates(tmpl)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		auth.Flash(w, r, "success", "Saved.", "/notes")
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		pages.Render(w, r, http.StatusOK, "page.html", nil)
	})
	app := auth.Handler(mux)

	jar := map[string]*http.Cookie{}
	page := browse(app, jar, "GET", "/notes", nil).Body.String()
	token := strings.Split(strings.Split(page, `value="`)[1], `"`)[0]
	w := browse(app, jar, "POST", "/notes", url.Values{"csrf_token": {token}, "text": {"buy milk"}})
	fmt.Println(w.Code, w.Header().Get("Location"))
	page = browse(app, jar, "GET", "/notes", nil).Body.String()
	fmt.Println(strings.Split(page, "\n")[0])
	fmt.Println(strings.Contains(page, `<input type="hidden" name="csrf_token" value="`))
	// Output:
	// 303 /notes
	// <p class="success">Saved.</p>
	// true
}

// KeyFile keeps the app's secret key in a file made on the first start.
func ExampleKeyFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	key, err := hallpass.KeyFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		panic(err)
	}
	again, _ := hallpass.KeyFile(filepath.Join(dir, "secret.key"))
	fmt.Println(len(key), string(key) == string(again))
	// Output: 64 true
}
