package signature

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Verifier checks one request. Verify returns nil when the request is
// authentic. A non-nil error's text is a short, safe reason that the ingest
// handler sends to the client in the 401 body; it never contains a secret, a
// key or the expected signature. An *UnavailableError means the request could
// not be checked yet (the key could not be fetched) and should be retried.
// Implementations are safe for concurrent use. It is an alias of an
// interface literal, as router.Verifier is, so that the two are one type
// and the wiring package builds verifiers without importing the router.
type Verifier = interface {
	Verify(ctx context.Context, h http.Header, body []byte) error
}

// UnavailableError reports that a request could not be verified because the
// verification key is unavailable (it could not be fetched). The request may
// be authentic: the handler should answer 503 with Retry-After so that the
// sender retries. Its text names the failure with URLs redacted and never
// contains the API key.
type UnavailableError struct {
	// Err is the cause: a transport error, an unexpected status or an
	// unusable key.
	Err error
}

// Error implements error.
func (e *UnavailableError) Error() string { return "public key unavailable: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Prefetcher is a Verifier that gets what it verifies with from elsewhere
// (Lago's public key from its API). Prefetch gets it now, so that a
// problem shows when the configuration loads rather than as 503s on the
// first webhooks.
type Prefetcher interface {
	Prefetch(ctx context.Context) error
}

// errSignatureMismatch is the answer for a well-formed signature that does
// not match; it deliberately says nothing about the expected value.
var errSignatureMismatch = errors.New("signature mismatch")

// Option changes how a verifier is built.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes a verifier read the current time from now instead of
// time.Now. Tests use it to check timestamp tolerances.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// oneHeader returns the single value of header name. A missing or empty
// header yields "", nil; repeated headers are an error because a proxy or
// attacker could make the two layers read different values.
func oneHeader(h http.Header, name string) (string, error) {
	vals := h.Values(name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	default:
		return "", errors.New("more than one " + name + " header")
	}
}

// requireHeader is oneHeader for a header that must be present.
func requireHeader(h http.Header, name string) (string, error) {
	v, err := oneHeader(h, name)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", errors.New("missing " + name)
	}
	return v, nil
}
