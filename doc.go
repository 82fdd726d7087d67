// Package hallpass adds sessions, login, remember-me, CSRF protection and
// login throttling to a Go web app in one call, secure by default: what
// Flask-Login, Flask-WTF's CSRF and Flask-Session give a Python developer.
//
// New builds everything from one Config; Auth.Handler installs it in front
// of your mux, in the right order; the methods of Auth are the names a
// Flask developer knows:
//
//	login_user(user, remember)   auth.Login(w, r, user, remember)
//	logout_user()                auth.Logout(w, r)
//	@login_required              auth.RequireLogin(handler)
//	@roles_required("admin")     auth.RequireRole("admin")(handler)
//	@fresh_login_required        auth.RequireFresh(10*time.Minute)(handler)
//	current_user                 auth.CurrentUser(r)
//	flash(msg) + redirect(url)   auth.Flash(w, r, "success", msg, url)
//	{{ csrf_token() }}           {{csrfField}} in a template
//
// # A complete program
//
//	package main
//
//	import (
//		"context"
//		"fmt"
//		"log"
//		"net/http"
//
//		"github.com/hallpass/hallpass"
//		"github.com/hallpass/hallpass/sqlitestore"
//	)
//
//	func main() {
//		db, err := sqlitestore.Open(context.Background(), "app.db", sqlitestore.Options{})
//		if err != nil {
//			log.Fatal(err)
//		}
//		key, err := hallpass.KeyFile("secret.key") // made on the first start
//		if err != nil {
//			log.Fatal(err)
//		}
//		auth, err := hallpass.New(hallpass.Config{
//			Keys:     [][]byte{key},
//			Sessions: db.Sessions(),
//			Users:    db.Accounts(),
//			BaseURL:  "http://localhost:8080", // https://... in production
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//
//		// A first user, for the demo (SignUp serves a registration form).
//		auth.LoginManager().Register(context.Background(), "ada", "ada@example.com", "correct horse battery")
//
//		mux := http.NewServeMux()
//		mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintf(w, `<form method="post">%s
//		<input name="username"> <input name="password" type="password">
//		<label><input name="remember" type="checkbox"> Remember me</label> <button>Log in</button>
//		</form>`, auth.CSRFField(w, r)) // every form that posts carries the CSRF token
//		})
//		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//			user, err := auth.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
//			if err != nil { // wrong password (401), throttled (429), store down (503)
//				auth.Error(w, r, err)
//				return
//			}
//			if err := auth.Login(w, r, user, r.PostFormValue("remember") == "on"); err != nil {
//				auth.Error(w, r, err)
//				return
//			}
//			http.Redirect(w, r, "/", http.StatusSeeOther)
//		})
//		mux.Handle("GET /{$}", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintf(w, "Hello, %s!", auth.CurrentUser(r).Username)
//		})))
//		log.Fatal(http.ListenAndServe("localhost:8080", auth.Handler(mux)))
//	}
//
// Real pages come from html/template (see Templates below).
// examples/notes in the repository is a whole app
// (register, login with remember me, logout, a page of the user's own
// notes in the app's own table, an admin page, flashes), and
// examples/notes-chi the same on chi.
//
// # Your own users
//
// An app that keeps its own users table gives Config.Users an
// account.Source (UserByID and UserByUsername over its table) in place of
// hallpass's account store, and puts its own fields in User.Extra;
// sqlitestore.New and pgstore.New put hallpass's tables (all named
// hallpass_*) in the app's own database. See ExampleNew_ownUsers and
// package login.
//
// # What is on by default
//
//   - Sessions kept on the server (Config.Sessions), in a signed cookie
//     that is HttpOnly and SameSite=Lax; ended after 30 minutes idle and
//     12 hours in all; a new token at login.
//   - CSRF protection on every POST, PUT, PATCH and DELETE: the browser's
//     Sec-Fetch-Site/Origin must say same-origin, and the form must send
//     back the page's token (field csrf_token, or header X-CSRF-Token).
//     Anything else gets 403 before your handler runs, except a request
//     with an "Authorization: Bearer" header and no cookies at all, which
//     no browser sends on its own and which has no session to ride on
//     (csrf.BearerWithoutCookies): an API client, which RequireLogin
//     answers 401 if its token is not valid. Only
//     Config.DangerouslyDisableCSRF turns this off, with a warning in the
//     log.
//   - https from BaseURL: an https BaseURL makes every cookie Secure and
//     __Host- prefixed; http (localhost in development) makes none of
//     them so, and the forms work with no other setting.
//   - Login throttling: each attempt is counted before its password is
//     checked, with growing delays and a lock after 10 failures of an
//     account or 100 of an address in 15 minutes (in memory unless
//     Config.Counter is shared); the owner's usual browser is never locked
//     out by others' failures.
//   - Passwords hashed with argon2id; legacy hashes (werkzeug, Django,
//     bcrypt) verified and upgraded at login; the same answer and the same
//     work for an unknown user as for a wrong password.
//   - Remember-me (when Users keeps remember-me tokens, as sqlitestore,
//     pgstore and memstore do) with rotating, theft-detecting tokens.
//   - Audit events (logins, failures, lockouts, logouts) in the log.
//
// # Templates
//
// Parse your html/template templates with FuncMap, wrap them once with
// Auth.Templates, and render each page with Templates.Render, which binds
// csrfField, csrfToken, currentUser and flashes to the request:
//
//	tmpl := template.Must(template.New("").Funcs(hallpass.FuncMap()).ParseFS(files, "templates/*.html"))
//	pages, err := auth.Templates(tmpl)
//	...
//	pages.Render(w, r, http.StatusOK, "notes.html", notes)
//
//	<form method="post" action="/notes">
//	  {{csrfField}}
//	  ...
//	</form>
//
// Each render uses a copy of the templates that no other request is using
// at the same time, so it is safe under any concurrency; calling
// template.Funcs per request on a shared template would not be.
//
// # Errors
//
// Methods return errors of package autherr's kinds (invalid,
// unauthenticated, forbidden, not_found, conflict, throttled, busy,
// unavailable): autherr.MessageOf gives a sentence to show a person,
// autherr.Status the HTTP status, and Auth.Error answers a request with
// both. A handler that uses Auth on a request that did not pass through
// Auth.Handler (the mux not wrapped, or a route mounted outside it) is
// answered 500 with ErrNoMiddleware, and the log says once, at ERROR,
// "wrap your mux with auth.Handler"; it is never a silent failure.
//
// # Beyond the defaults
//
// Auth.SessionManager, Auth.LoginManager, Auth.CSRF and Auth.Throttle give
// the underlying managers of packages session, login, csrf and throttle,
// for what Auth does not wrap: changing passwords, listing and revoking a
// user's sessions, roles, API tokens (Config.APITokens).
package hallpass
