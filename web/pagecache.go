package web

import (
	"bytes"
	"crypto/rand"
	"strings"
	"sync"
	"sync/atomic"
)

// plainPage is implemented by the data of pages that show nothing but
// their base (the dashboard, the home page): rendered without flashes,
// such a page is the same bytes for every request of one user, apart from
// the CSRF token, so pageCache can keep it.
type plainPage interface {
	pageData
	plain()
}

func (*homePage) plain()      {}
func (*dashboardPage) plain() {}

// maxCachedPages bounds the pageCache (a few kilobytes each).
const maxCachedPages = 2000

// pageCache keeps plain pages rendered once, split where the CSRF token
// goes; each request writes the parts around a token masked afresh for it
// (so the page's bytes still change on every response, as BREACH
// mitigation wants). Executing html/template was the largest cost of an
// authenticated page (a quarter of the CPU at saturation). The key holds
// everything the layout shows, so an entry is never stale; full, the
// cache starts over. A hit takes no lock (sync.Map): the pages of every
// request read it, on every core.
type pageCache struct {
	m sync.Map // pageKey -> [][]byte
	n atomic.Int64
}

// pageKey is everything a plain page's output depends on.
type pageKey struct {
	name, title, version, css string
	nav, token                bool // Nav; whether the page carries a CSRF token
	userID, username, email   string
	roles                     string // joined by NUL
}

// tokenMark stands for the CSRF token in a cached page: random letters
// and digits, which no escaping changes and no page contains.
var tokenMark = "csrf" + rand.Text()

// plainPages is the pageCache of renderPage.
var plainPages pageCache

func keyOf(name string, b *base) pageKey {
	k := pageKey{name: name, title: b.Title, version: b.Version, css: b.CSS, nav: b.Nav, token: b.CSRF != ""}
	if u := b.User; u != nil {
		k.userID, k.username, k.email = u.ID, u.Username, u.Email
		k.roles = strings.Join(u.Roles, "\x00")
		if k.roles == "" {
			k.roles = "\x00none" // tell no roles from no user
		}
	}
	return k
}

// get returns the parts of the page under k, if cached.
func (c *pageCache) get(k pageKey) ([][]byte, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.([][]byte), true
}

// put keeps page, rendered with tokenMark for its token, under k, and
// returns its parts.
func (c *pageCache) put(k pageKey, page []byte) [][]byte {
	parts := bytes.Split(bytes.Clone(page), []byte(tokenMark))
	if c.n.Add(1) > maxCachedPages {
		// Puts racing with this one may land before or after the clear;
		// the cache holds at most a few pages more than its bound.
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(k, parts)
	return parts
}
