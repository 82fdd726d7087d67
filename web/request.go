package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
)

// Reading requests and answering forms: what every resource's handlers share.

// Messages of the HTML pages.
const (
	msgUnreadable   = "This contains characters that could not be read. Please type it again."
	msgFreshLogin   = "Please enter your password again to continue."
	msgLoggedOut    = "You have been logged out."
	maxRedisplayLen = 256 // runes of a field shown again in a form
	maxIDLen        = 128 // longer session, token and user IDs are not looked up
)

// readForm parses r's form: a body over the limit is a 413, anything
// unreadable a 400.
func readForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("The form could not be read. Please reload the page and try again.")
	}
	return nil
}

// redisplay returns a field's value as it is shown again in a form:
// valid UTF-8 and not absurdly long.
func redisplay(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if utf8.RuneCountInString(v) > maxRedisplayLen {
		v = string([]rune(v)[:maxRedisplayLen])
	}
	return v
}

// formProblem classifies err for a form that is shown again with a
// message. It returns the status and message, and false when err is not
// one of the form's expected outcomes (allowed), so the caller answers it
// with fail instead. A 429 gets its Retry-After header here.
func (s *Server) formProblem(w http.ResponseWriter, r *http.Request, err error, allowed ...int) (int, string, bool) {
	p := classify(err)
	if !slices.Contains(allowed, p.status) {
		return 0, "", false
	}
	logError(s.log, r, p, err)
	if p.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(autherr.RetryAfterSeconds(err)))
	}
	return p.status, p.message, true
}

// redirect answers a form submission with 303 See Other to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// flash queues a message for the next page. A session that cannot take it
// loses the message, not the request.
func (s *Server) flash(r *http.Request, category, msg string) {
	if err := session.FromRequest(r).AddFlash(category, msg); err != nil {
		s.log.Warn("web: cannot queue a flash message", "err", err)
	}
}

// pathID returns the path parameter name when it may be an ID.
func pathID(r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	return id, id != "" && len(id) <= maxIDLen && utf8.ValidString(id)
}

// decodeJSON reads r's JSON body into dst. Unknown fields are ignored;
// a body that is not JSON, has a value of the wrong type or trails data
// after the value is a 400 with a message naming the problem, one over
// MaxBodyBytes a 413, another content type a 415.
func decodeJSON(r *http.Request, dst any) error {
	if !isJSON(r) {
		return errUnsupportedMediaType
	}
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(dst)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		}
		if err == nil {
			return badRequest("The request body must hold a single JSON object.")
		}
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, io.EOF):
		return badRequest("The request body is empty; it must be a JSON object.")
	case errors.As(err, &ute) && ute.Field != "":
		return badRequest(fmt.Sprintf("The field %q has the wrong type.", ute.Field))
	case errors.As(err, &ute):
		return badRequest("The request body must be a JSON object.")
	}
	return badRequest("The request body is not valid JSON.")
}

// requireFresh reports whether the request's user entered their password
// within FreshFor (a remember-me session or an API token never did). If
// not, it answers: API clients get 401 "fresh_login_required", browsers go
// to the login page, which comes back to back.
func (s *Server) requireFresh(w http.ResponseWriter, r *http.Request, back string) bool {
	if s.login.IsFresh(r, s.freshFor) {
		return true
	}
	if WantsJSON(r) {
		s.fail(w, r, login.ErrNotFresh)
		return false
	}
	s.flash(r, "info", msgFreshLogin)
	redirect(w, r, "/login?next="+url.QueryEscape(back))
	return false
}
