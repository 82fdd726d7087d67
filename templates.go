package hallpass

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
)

// errOutsideRender is what the functions of FuncMap return when a
// template that uses them is executed by hand instead of by
// Templates.Render.
var errOutsideRender = errors.New("hallpass: this template function works only in a template rendered by Templates.Render, which knows the request")

// FuncMap returns the template functions hallpass gives html/template,
// for parsing; give it to the template before parsing, then render with
// Templates.Render, which binds them to each request:
//
//	csrfField    the hidden input <input type="hidden" name="csrf_token" value="...">
//	             to put in every form that posts (template.HTML)
//	csrfToken    the bare token, for a <meta> tag that scripts copy to the
//	             X-CSRF-Token header
//	currentUser  the logged-in *account.User, or nil
//	flashes      the queued flash messages ([]session.Flash, each with
//	             .Category and .Message), removed as they are read
//
// Executed by hand (not through Render) they fail the execution with an
// error saying so.
func FuncMap() template.FuncMap {
	fail := func() (string, error) { return "", errOutsideRender }
	return template.FuncMap{
		"csrfField":   func() (template.HTML, error) { return "", errOutsideRender },
		"csrfToken":   fail,
		"currentUser": func() (*account.User, error) { return nil, errOutsideRender },
		"flashes":     func() ([]session.Flash, error) { return nil, errOutsideRender },
	}
}

// Templates renders a set of html/template templates with the functions
// of FuncMap bound to the request being answered. Create it with
// Auth.Templates; it is safe for concurrent use.
//
// Each render runs on a copy of the templates that no other request is
// using (kept in a pool, so a copy is escaped once and reused), so one
// visitor's CSRF token or user never shows in another's page.
type Templates struct {
	a      *Auth
	master *template.Template // a private clone, never executed, so it can be cloned
	pool   sync.Pool          // of clones of master, each used by one render at a time
}

// Templates returns t ready to be rendered by Render. t must have been
// parsed with FuncMap's functions and not executed yet (an executed
// html/template can no longer be copied); Templates takes a copy, so t may
// be executed elsewhere afterwards.
func (a *Auth) Templates(t *template.Template) (*Templates, error) {
	master, err := t.Clone()
	if err != nil {
		return nil, fmt.Errorf("hallpass: Templates: %w (pass the templates before executing them)", err)
	}
	return &Templates{a: a, master: master}, nil
}

// MustTemplates is Templates that panics on an error, for package-level
// variables and start-up code.
func (a *Auth) MustTemplates(t *template.Template) *Templates {
	ts, err := a.Templates(t)
	if err != nil {
		panic(err)
	}
	return ts
}

// Render executes the template called name with data and writes it as
// the response with status (an HTML page: Content-Type text/html,
// Cache-Control no-store). The page is rendered in full before anything
// is written, so the CSRF token's cookie and the flashes read are saved
// with it, and a template error never sends half a page: it is logged and
// answered 500, and Render returns it. Outside Handler it answers 500 and
// returns ErrNoMiddleware.
func (ts *Templates) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	a := ts.a
	if !a.inside(r, "Templates.Render") {
		a.Error(w, r, ErrNoMiddleware)
		return ErrNoMiddleware
	}
	t, err := ts.get()
	if err != nil {
		a.log.ErrorContext(r.Context(), "hallpass: render", "template", name, "err", err)
		a.Error(w, r, err)
		return err
	}
	var flashes []session.Flash
	read := false
	t.Funcs(template.FuncMap{
		"csrfField":   func() (template.HTML, error) { return a.CSRFField(w, r), nil },
		"csrfToken":   func() (string, error) { return a.CSRFToken(w, r), nil },
		"currentUser": func() (*account.User, error) { return login.CurrentUser(r.Context()), nil },
		"flashes": func() ([]session.Flash, error) {
			if !read {
				flashes, read = session.FromRequest(r).Flashes(), true
			}
			return flashes, nil
		},
	})
	var buf bytes.Buffer
	err = t.ExecuteTemplate(&buf, name, data)
	ts.pool.Put(t)
	if err != nil {
		a.log.ErrorContext(r.Context(), "hallpass: render", "template", name, "err", err)
		a.Error(w, r, err)
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// get returns a copy of the templates for one render.
func (ts *Templates) get() (*template.Template, error) {
	if t, ok := ts.pool.Get().(*template.Template); ok {
		return t, nil
	}
	return ts.master.Clone()
}

// CSRFToken returns a CSRF token for the page being rendered for r, to
// send back in the csrf_token form field or the X-CSRF-Token header; ""
// when Config.DangerouslyDisableCSRF is set. For an anonymous visitor it
// sets the pre-session cookie on w, so call it before writing the
// response (Render does).
func (a *Auth) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if !a.inside(r, "CSRFToken") {
		return ""
	}
	return a.login.CSRFToken(w, r)
}

// CSRFField returns the hidden form input that carries CSRFToken, for
// every form that posts; "" when CSRF is disabled.
func (a *Auth) CSRFField(w http.ResponseWriter, r *http.Request) template.HTML {
	tok := a.CSRFToken(w, r)
	if tok == "" {
		return ""
	}
	// The token is base64url: nothing in it needs escaping.
	return template.HTML(`<input type="hidden" name="` + csrf.FieldName + `" value="` + template.HTMLEscapeString(tok) + `">`)
}

// Flash queues a message for the next page (Flask's flash) and redirects
// the browser to url with 303 See Other, the end of most form posts:
//
//	auth.Flash(w, r, "success", "Saved.", "/notes")
//
// category is free-form ("success", "error", ...); templates read the
// messages with the flashes function. url is used as given: pass a path
// of the app, and one that came from the request (a "next" field) through
// login.SafeNext first, or the redirect may leave the site.
func (a *Auth) Flash(w http.ResponseWriter, r *http.Request, category, message, url string) {
	if !a.inside(r, "Flash") {
		a.Error(w, r, ErrNoMiddleware)
		return
	}
	if err := session.FromRequest(r).AddFlash(category, message); err != nil {
		// The session could not be loaded: the session middleware
		// answers 503 in place of this response.
		a.log.DebugContext(r.Context(), "hallpass: flash not queued", "err", err)
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}
