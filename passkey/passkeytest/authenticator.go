package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator is a software passkey authenticator for tests: it answers
// the options of navigator.credentials.create and .get (as JSON, the way a
// server sends them) with the JSON a browser would post back, using ES256
// keys, attestation "none", user presence and verification, and a
// signature counter that grows by one with every assertion. It is what a
// browser and a security key do together, without either, so that HTTP
// tests can register passkeys and sign in with them.
//
// It is not an authenticator to trust with anything: its keys live in
// memory, unprotected.
type Authenticator struct {
	// Origin is the origin written into the client data, as a browser
	// writes the page's origin. Change it to test a phishing site.
	Origin string

	mu    sync.Mutex
	creds []*SoftCredential
}

// SoftCredential is a passkey the Authenticator holds. Tests may change
// Counter between assertions (to replay an older counter, for example).
type SoftCredential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Counter    uint32
	key        *ecdsa.PrivateKey
}

// NewAuthenticator returns an Authenticator without passkeys whose
// answers name origin.
func NewAuthenticator(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// Credentials returns the passkeys the Authenticator holds, oldest first.
func (a *Authenticator) Credentials() []*SoftCredential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*SoftCredential(nil), a.creds...)
}

var b64 = base64.RawURLEncoding

// creationOptions is the part of PublicKeyCredentialCreationOptions the
// Authenticator reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptions the
// Authenticator reads.
type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// Create makes a new passkey for the options (the JSON of a
// CredentialCreation, {"publicKey": {...}}) and returns the JSON of the
// PublicKeyCredential to post back. A passkey listed in the options'
// excludeCredentials is an error, as in a browser.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	p := o.PublicKey
	handle, err := b64.DecodeString(p.User.ID)
	if err != nil || p.Challenge == "" || p.RP.ID == "" {
		return nil, errors.New("passkeytest: creation options lack a challenge, rp.id or user.id")
	}
	for _, ex := range p.Exclude {
		for _, c := range a.Credentials() {
			if ex.ID == b64.EncodeToString(c.ID) {
				return nil, errors.New("passkeytest: InvalidStateError: this authenticator holds an excluded passkey")
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &SoftCredential{ID: make([]byte, 32), RPID: p.RP.ID, UserHandle: handle, key: key}
	rand.Read(c.ID)

	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pad32(key.X.Bytes()), -3: pad32(key.Y.Bytes())})
	if err != nil {
		return nil, err
	}
	var ad bytes.Buffer
	ad.Write(authData(c.RPID, 0x01|0x04|0x40, 0))
	ad.Write(make([]byte, 16)) // AAGUID: none
	binary.Write(&ad, binary.BigEndian, uint16(len(c.ID)))
	ad.Write(c.ID)
	ad.Write(cose)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad.Bytes()})
	if err != nil {
		return nil, err
	}
	cd := a.clientData("webauthn.create", p.Challenge)
	a.mu.Lock()
	a.creds = append(a.creds, c)
	a.mu.Unlock()
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Get signs the options' challenge (the JSON of a CredentialAssertion,
// {"publicKey": {...}}) with a passkey for their rpId: the newest one
// listed in allowCredentials or, without a list (a discoverable sign-in),
// the newest one of the relying party. It returns the JSON of the
// PublicKeyCredential to post back.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	p := o.PublicKey
	a.mu.Lock()
	var c *SoftCredential
	for _, cand := range a.creds {
		if cand.RPID != p.RPID {
			continue
		}
		allowed := len(p.Allow) == 0
		for _, al := range p.Allow {
			allowed = allowed || al.ID == b64.EncodeToString(cand.ID)
		}
		if allowed {
			c = cand
		}
	}
	if c == nil {
		a.mu.Unlock()
		return nil, errors.New("passkeytest: NotAllowedError: no passkey for this site")
	}
	c.Counter++
	ad := authData(c.RPID, 0x01|0x04, c.Counter)
	a.mu.Unlock()
	return a.Assert(c, ad, p.Challenge)
}

// Assert returns the JSON of an assertion by c over authenticatorData ad
// and challenge, for tests that forge their own authenticator data.
func (a *Authenticator) Assert(c *SoftCredential, ad []byte, challenge string) ([]byte, error) {
	cd := a.clientData("webauthn.get", challenge)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(c.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// authData returns authenticator data without attested credential data:
// the hash of rpID, flags and counter.
func authData(rpID string, flags byte, counter uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := append(h[:], flags)
	return binary.BigEndian.AppendUint32(b, counter)
}

// AuthData returns authenticator data for rpID with user presence and
// verification and the given counter, for Assert.
func AuthData(rpID string, counter uint32) []byte { return authData(rpID, 0x01|0x04, counter) }

func pad32(b []byte) []byte {
	if len(b) >= 32 {
		return b
	}
	return append(make([]byte, 32-len(b)), b...)
}
