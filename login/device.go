package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// Device cookies follow OWASP's "device cookies" scheme against lockout
// abuse. A browser in which a user has logged in with their password gets
// a long-lived cookie holding a random nonce and an expiry, signed with
// HMAC-SHA256 over the nonce, the expiry and the user's ID under a subkey
// of each of the server's session keys (HMAC(key, "hallpass device cookie
// v1"), so no other MAC of the server is ever valid as one; the first key
// signs, every key verifies). The throttle judges a browser holding a
// valid cookie for the account being logged in to by that browser's own
// failures only (throttle.Attempt.Device), so failures elsewhere, anyone's,
// lock the account for unknown clients but never for its owner's usual
// browser. The cookie outlives logout and grants nothing else; a cookie
// for another user, forged or expired, is ignored.

const (
	deviceNonceLen = 16
	deviceBodyLen  = deviceNonceLen + 8 // nonce, expiry (Unix seconds, big-endian)
	devicePurpose  = "hallpass device cookie v1"
)

var deviceCookieLen = base64.RawURLEncoding.EncodedLen(deviceBodyLen + sha256.Size)

// deviceKeys derives the device cookie's subkeys from the server's keys.
func deviceKeys(keys [][]byte) [][]byte {
	sub := make([][]byte, len(keys))
	for i, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(devicePurpose))
		sub[i] = mac.Sum(nil)
	}
	return sub
}

// deviceTag is the MAC of a device cookie's body for userID under key.
func deviceTag(key, body []byte, userID string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	mac.Write([]byte(userID))
	return mac.Sum(nil)
}

// issueDevice sets a new device cookie for userID, unless device cookies
// are off.
func (m *Manager) issueDevice(w http.ResponseWriter, userID string) {
	if len(m.devKeys) == 0 {
		return
	}
	buf := make([]byte, deviceBodyLen, deviceBodyLen+sha256.Size)
	rand.Read(buf[:deviceNonceLen])
	binary.BigEndian.PutUint64(buf[deviceNonceLen:], uint64(m.now().Add(m.cfg.DeviceFor).Unix()))
	buf = append(buf, deviceTag(m.devKeys[0], buf, userID)...)
	http.SetCookie(w, &http.Cookie{Name: m.cfg.DeviceCookie, Value: base64.RawURLEncoding.EncodeToString(buf),
		Path: "/", MaxAge: int(m.cfg.DeviceFor / time.Second), HttpOnly: true, Secure: m.cfg.Secure,
		SameSite: http.SameSiteLaxMode})
}

// deviceCookie returns the decoded device cookie of r, or nil when r has
// none that is well-formed and unexpired (or device cookies are off). Its
// signature is checked by knownDevice, which needs the user's ID.
func (m *Manager) deviceCookie(r *http.Request) []byte {
	if len(m.devKeys) == 0 {
		return nil
	}
	c, err := r.Cookie(m.cfg.DeviceCookie)
	if err != nil || len(c.Value) != deviceCookieLen {
		return nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c.Value)
	if err != nil || len(b) != deviceBodyLen+sha256.Size {
		return nil
	}
	if exp := int64(binary.BigEndian.Uint64(b[deviceNonceLen:deviceBodyLen])); m.now().Unix() >= exp {
		return nil
	}
	return b
}

// knownDevice returns the device ID (the nonce, base64url) of cookie, a
// value from deviceCookie, if it was issued to userID under any of the
// keys; "" otherwise.
func (m *Manager) knownDevice(cookie []byte, userID string) string {
	if cookie == nil {
		return ""
	}
	body, tag := cookie[:deviceBodyLen], cookie[deviceBodyLen:]
	for _, k := range m.devKeys {
		if hmac.Equal(deviceTag(k, body, userID), tag) {
			return base64.RawURLEncoding.EncodeToString(body[:deviceNonceLen])
		}
	}
	return ""
}
