package hallpass

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/twofa"
)

// TwoFAFreshFor is how recently the password must have been entered to
// enable or disable TOTP, or make new recovery codes, through
// TwoFAHandler.
const TwoFAFreshFor = 10 * time.Minute

// twofaEnrolKey keeps the secret offered by TwoFAHandler's enrol until
// enable confirms it.
const twofaEnrolKey = "_hallpass_totp_enrol"

var errBadBody error = &autherr.Error{Kind: autherr.Invalid, Code: "bad_request",
	Message: "Send the code as JSON {\"code\": \"123456\"} or as a form field.", Err: errors.New("hallpass: unreadable request body")}

// TwoFAHandler returns mountable JSON endpoints for second factors, for an
// app that draws its own pages (with its own users table, too): mount it
// under a prefix, such as
//
//	mux.Handle("/2fa/", http.StripPrefix("/2fa", auth.TwoFAHandler()))
//
// Its routes take the code as JSON {"code": "..."} or a form field:
//
//	GET  /enrol           {"secret", "uri"}: a new secret, kept in the session (login required)
//	GET  /qr.png          that secret as a QR code
//	POST /enable          {"recovery_codes": [...]}: confirms it (fresh login); other sessions end
//	POST /verify          {"user_id", "username"}: finishes a login that Login left pending
//	POST /disable         204 (fresh login plus a current code); other sessions end
//	POST /recovery-codes  {"recovery_codes": [...]} (fresh login)
//
// Errors are Config.ErrorHandler's (401 invalid_code, 401
// login_expired, 401 fresh_login_required, 429 when throttled). Without
// Config.TwoFA every route answers 404.
func (a *Auth) TwoFAHandler() http.Handler {
	mux := http.NewServeMux()
	if a.twofa == nil {
		return a.guard("TwoFAHandler", mux)
	}
	lm := a.login
	fresh := lm.RequireFresh(TwoFAFreshFor)
	mux.Handle("GET /enrol", lm.RequireLogin(http.HandlerFunc(a.twofaEnrol)))
	mux.Handle("GET /qr.png", lm.RequireLogin(http.HandlerFunc(a.twofaQR)))
	mux.Handle("POST /enable", fresh(http.HandlerFunc(a.twofaEnable)))
	mux.Handle("POST /verify", http.HandlerFunc(a.twofaVerify))
	mux.Handle("POST /disable", fresh(http.HandlerFunc(a.twofaDisable)))
	mux.Handle("POST /recovery-codes", fresh(http.HandlerFunc(a.twofaNewCodes)))
	return a.guard("TwoFAHandler", mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// code reads the "code" of a JSON body or a form.
func code(r *http.Request) (string, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var body struct {
			Code string `json:"code"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil {
			return "", errBadBody
		}
		return body.Code, nil
	}
	return r.PostFormValue("code"), nil
}

func (a *Auth) enrolment(r *http.Request, create bool) (*twofa.Enrolment, error) {
	return a.twofa.SessionEnrolment(session.FromRequest(r), twofaEnrolKey, a.CurrentUser(r).Username, create)
}

func (a *Auth) twofaEnrol(w http.ResponseWriter, r *http.Request) {
	e, err := a.enrolment(r, true)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "uri": e.URL})
}

func (a *Auth) twofaQR(w http.ResponseWriter, r *http.Request) {
	e, err := a.enrolment(r, false)
	var png []byte
	if err == nil {
		png, err = e.QR(256)
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

func (a *Auth) twofaEnable(w http.ResponseWriter, r *http.Request) {
	c, err := code(r)
	var e *twofa.Enrolment
	if err == nil {
		e, err = a.enrolment(r, false)
	}
	var codes []string
	if err == nil {
		codes, err = a.twofa.Enable(r.Context(), a.CurrentUser(r).ID, e.Secret, c)
	}
	if err == nil {
		session.FromRequest(r).Delete(twofaEnrolKey)
		if _, err = a.login.SecondFactorChanged(w, r, true); err != nil {
			// The other sessions could not be ended (a store failed),
			// and the codes cannot be shown: undone, to be done again.
			if rerr := a.twofa.Reset(context.WithoutCancel(r.Context()), a.CurrentUser(r).ID, a.CurrentUser(r).ID); rerr != nil {
				a.log.ErrorContext(r.Context(), "hallpass: cannot undo a two-factor enrolment that failed", "err", rerr)
			}
		}
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

func (a *Auth) twofaVerify(w http.ResponseWriter, r *http.Request) {
	c, err := code(r)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	user, err := a.login.CompleteSecondFactor(w, r, c)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user_id": user.ID, "username": user.Username})
}

func (a *Auth) twofaDisable(w http.ResponseWriter, r *http.Request) {
	c, err := code(r)
	if err == nil {
		err = a.twofa.Disable(r.Context(), a.CurrentUser(r).ID, c)
	}
	if err == nil {
		_, err = a.login.SecondFactorChanged(w, r, false)
	}
	if err != nil {
		a.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) twofaNewCodes(w http.ResponseWriter, r *http.Request) {
	codes, err := a.twofa.NewRecoveryCodes(r.Context(), a.CurrentUser(r).ID)
	if err != nil {
		a.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}
