package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/internal/vary"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page: the layout plus the page's
// "content" block.
var pages = parsePages()

// cssVersion is a digest of the stylesheet, appended to its URL so a new
// release is fetched at once despite the cache header.
var cssVersion = digestOf("static/style.css")

// jsVersion is the same for the passkey script.
var jsVersion = digestOf("static/passkey.js")

var funcs = template.FuncMap{
	// date formats a day, as in "2 January 2026".
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 January 2006")
	},
	// datetime formats a moment in UTC, as in "2 Jan 2026 15:04 UTC".
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
}

func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := make(map[string]*template.Template)
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		m[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, name))
	}
	return m
}

func digestOf(name string) string {
	b, err := staticFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// base is what the layout needs; every page's data embeds it.
type base struct {
	Title    string
	User     *account.User // the signed-in user, or nil
	CSRF     string        // the masked CSRF token for this page's forms
	Flashes  []session.Flash
	Nav      bool // show the signed-in user or the log-in links
	Version  string
	CSS      string // the stylesheet's URL
	Script   string // the passkey script's URL; "" on pages without passkey buttons
	needCSRF bool   // the page has a form, so an anonymous visitor needs a token too
}

func (b *base) common() *base { return b }

// pageData is the data of a page: a struct that embeds base.
type pageData interface{ common() *base }

// errorPage is the data of the error page.
type errorPage struct {
	base
	Heading   string
	Message   string
	Status    int
	RequestID string // quoted to support, to find the request's log lines
	Link      string // a way on, such as asking for a new link; "" for none
	LinkText  string
}

// flashCategories are the categories the stylesheet knows.
var flashCategories = map[string]bool{"success": true, "info": true, "error": true}

// render writes a page of the site with the signed-in user, a CSRF token
// and the pending flash messages.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	b := d.common()
	b.Nav = true
	b.Version = s.version
	u := login.CurrentUser(r.Context())
	if u != nil || b.needCSRF {
		b.CSRF = s.login.CSRFToken(w, r)
	}
	for _, f := range session.FromRequest(r).Flashes() {
		if !flashCategories[f.Category] {
			f.Category = "info"
		}
		b.Flashes = append(b.Flashes, f)
	}
	renderPage(w, r, status, name, d, true, s.log)
}

// renderPage executes page name with d and writes it with status. With
// nav, the header shows the signed-in user and a log-out form whose token
// comes from the session; without, only the site's name (for failures on
// our side, where the session is not to be touched).
func renderPage(w http.ResponseWriter, r *http.Request, status int, name string, d pageData, nav bool, logger *slog.Logger) {
	b := d.common()
	b.CSS = cssURL
	if b.Version == "" {
		if ri := infoOf(r); ri != nil {
			b.Version = ri.version
		}
	}
	b.Nav = nav
	if nav && b.User == nil {
		b.User = login.CurrentUser(r.Context())
	}
	if nav && b.User != nil && b.CSRF == "" && login.HowAuthenticated(r.Context()) != login.ByBearer {
		if secret := login.CSRFSecret(r); len(secret) > 0 {
			vary.Add(w.Header(), "Cookie")
			b.CSRF = csrf.Mask(secret)
		}
	}
	t := pages[name]
	if _, plain := d.(plainPage); plain && t != nil && len(b.Flashes) == 0 {
		k := keyOf(name, b)
		parts, ok := plainPages.get(k)
		if !ok {
			token := b.CSRF
			if token != "" {
				b.CSRF = tokenMark
			}
			var buf bytes.Buffer
			err := t.ExecuteTemplate(&buf, "layout", d)
			b.CSRF = token
			if err == nil {
				parts, ok = plainPages.put(k, buf.Bytes()), true
			}
		}
		if ok {
			writeParts(w, status, parts, b.CSRF)
			return
		}
	}
	// Declared here, so that a cached page does not allocate it.
	var buf bytes.Buffer
	if t == nil {
		logger.Error("web: no such template", "template", name)
		status = http.StatusInternalServerError
	} else if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		logger.Error("web: render page", "template", name, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>" + autherr.DefaultMessage(autherr.Internal) + "</p>\n")
	}
	writePage(w, status, buf.Bytes())
}

// writePage writes a rendered page with status, in one piece with its
// length (not chunked).
func writePage(w http.ResponseWriter, status int, page []byte) {
	pageHeader(w.Header(), len(page))
	w.WriteHeader(status)
	w.Write(page)
}

// writeParts writes a cached page with status: its parts joined by token,
// without copying them into one buffer first.
func writeParts(w http.ResponseWriter, status int, parts [][]byte, token string) {
	n := len(token) * (len(parts) - 1)
	for _, p := range parts {
		n += len(p)
	}
	pageHeader(w.Header(), n)
	w.WriteHeader(status)
	for i, p := range parts {
		if i > 0 {
			io.WriteString(w, token)
		}
		w.Write(p)
	}
}

// htmlType is the Content-Type of pages, shared between responses as
// securityHeaders are.
var htmlType = []string{"text/html; charset=utf-8"}

// pageHeader sets the header of a page of n bytes. net/http gives a page
// that fits its response buffer (2 kB) its Content-Length by itself; a
// larger one gets it here, so it is sent in one piece rather than chunked.
// Leaving the header out of small pages keeps the header map at 8 entries
// (Go's small-map size, which its clone at WriteHeader keeps too).
func pageHeader(h http.Header, n int) {
	h["Content-Type"] = htmlType
	if n > netHTTPBuffer {
		h.Set("Content-Length", strconv.Itoa(n))
	}
}

// netHTTPBuffer is the size of the buffer net/http's server writes a
// response body into before it must choose between Content-Length and
// chunked encoding (bufferBeforeChunkingSize).
const netHTTPBuffer = 2048

// cssURL is the stylesheet's versioned URL.
var cssURL = "/static/style.css?v=" + cssVersion

// serveStatic serves the embedded stylesheet and icon. Their URLs carry a
// version, so a day of caching never serves a stale file after a release.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	b, err := staticFS.ReadFile(name)
	if err != nil || strings.HasSuffix(name, "/") {
		s.fail(w, r, errNotFound)
		return
	}
	sum := sha256.Sum256(b)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
