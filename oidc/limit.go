package oidc

import (
	"fmt"
	"io"
	"net/http"
)

// maxResponseBytes bounds every response read from a provider: the
// discovery document, the keys (JWKS), the token and UserInfo responses.
// It is the bound golang.org/x/oauth2 puts on the token endpoint's alone
// (an internal 1<<20); go-oidc reads the others whole.
const maxResponseBytes = 1 << 20

// errTooLarge reports a provider's response over maxResponseBytes.
var errTooLarge = fmt.Errorf("oidc: the provider's response is over the limit of %d bytes", maxResponseBytes)

// limitClient returns a copy of c whose responses fail with errTooLarge
// past limit bytes: at once when their Content-Length says so, else when
// reading past the limit. So a hostile or broken provider cannot make the
// server read (and hold in memory) a response of any size.
func limitClient(c *http.Client, limit int64) *http.Client {
	cc := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = limitTransport{base: base, max: limit}
	return &cc
}

// limitTransport bounds the body of each response of base.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, errTooLarge
	}
	resp.Body = &limitBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

// CloseIdleConnections closes base's, so that http.Client's does.
func (t limitTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// limitBody is a response body that fails with errTooLarge past left
// bytes (the bytes up to the limit are returned first).
type limitBody struct {
	io.ReadCloser
	left int64
	err  error
}

func (b *limitBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte more than is left tells a body that ends at the limit
	// from one that goes on.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n, b.left, b.err = int(b.left), 0, errTooLarge
	return n, b.err
}
