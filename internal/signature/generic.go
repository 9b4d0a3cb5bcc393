package signature

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
)

// DefaultHMACHeader is the header GenericHMAC reads when none is configured.
const DefaultHMACHeader = "X-Signature"

// HMACOptions configures GenericHMAC.
type HMACOptions struct {
	// Secret is the shared HMAC key, used as-is as bytes. Required.
	Secret secret.String
	// Header holds the signature; default X-Signature.
	Header string
	// Hash is sha256 (default), sha1 or sha512.
	Hash string
	// Encoding of the signature: hex (default; upper or lower case) or
	// base64 (standard alphabet, padded).
	Encoding string
	// Prefix precedes the encoded signature in the header, e.g. "sha256="
	// (GitHub style); it is stripped before decoding.
	Prefix string
}

// GenericHMAC returns a Verifier that requires Header to hold Prefix
// followed by the encoded HMAC of the raw body. It returns an error for an
// empty secret or an unknown hash or encoding.
func GenericHMAC(o HMACOptions) (Verifier, error) {
	if o.Secret.IsZero() {
		return nil, errors.New("secret is empty")
	}
	v := &genericHMAC{key: []byte(o.Secret.Reveal()), prefix: o.Prefix}
	v.header = strings.TrimSpace(o.Header)
	if v.header == "" {
		v.header = DefaultHMACHeader
	}
	if strings.ContainsAny(v.header, " \t\r\n:") {
		return nil, fmt.Errorf("header %q is not a header name", v.header)
	}
	v.header = http.CanonicalHeaderKey(v.header)
	switch strings.ToLower(o.Hash) {
	case "", "sha256":
		v.hash = sha256.New
	case "sha1":
		v.hash = sha1.New
	case "sha512":
		v.hash = sha512.New
	default:
		return nil, fmt.Errorf("unknown hash %q (want sha256, sha1 or sha512)", o.Hash)
	}
	switch strings.ToLower(o.Encoding) {
	case "", "hex":
		v.decode, v.encoding = hex.DecodeString, "hex"
	case "base64":
		v.decode, v.encoding = base64.StdEncoding.DecodeString, "base64"
	default:
		return nil, fmt.Errorf("unknown encoding %q (want hex or base64)", o.Encoding)
	}
	return v, nil
}

type genericHMAC struct {
	key      []byte
	header   string
	prefix   string
	hash     func() hash.Hash
	decode   func(string) ([]byte, error)
	encoding string
}

// Verify implements Verifier.
func (v *genericHMAC) Verify(_ context.Context, h http.Header, body []byte) error {
	sig, err := requireHeader(h, v.header)
	if err != nil {
		return err
	}
	if v.prefix != "" {
		if len(sig) < len(v.prefix) || !strings.EqualFold(sig[:len(v.prefix)], v.prefix) {
			return fmt.Errorf("%s does not start with %q", v.header, v.prefix)
		}
		sig = sig[len(v.prefix):]
	}
	got, err := v.decode(sig)
	if err != nil {
		return fmt.Errorf("%s is not %s", v.header, v.encoding)
	}
	mac := hmac.New(v.hash, v.key)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errSignatureMismatch
	}
	return nil
}

// StandardWebhooks returns a Verifier for the Standard Webhooks scheme
// (headers webhook-id, webhook-timestamp, webhook-signature) keyed with a
// "whsec_…" secret. A timestamp further than tolerance from now is rejected;
// tolerance <= 0 means standardwebhooks.DefaultTolerance (5 minutes). The
// error is a configuration error: the secret is not valid base64 or too
// short.
func StandardWebhooks(key secret.String, tolerance time.Duration, opts ...Option) (Verifier, error) {
	if key.IsZero() {
		return nil, errors.New("secret is empty")
	}
	k, err := standardwebhooks.ParseKey(key.Reveal())
	if err != nil {
		return nil, err
	}
	if tolerance <= 0 {
		tolerance = standardwebhooks.DefaultTolerance
	}
	o := buildOptions(opts)
	return &standardWebhooks{key: k, tolerance: tolerance, now: o.now}, nil
}

type standardWebhooks struct {
	key       standardwebhooks.Key
	tolerance time.Duration
	now       func() time.Time
}

// Verify implements Verifier.
func (v *standardWebhooks) Verify(_ context.Context, h http.Header, body []byte) error {
	return v.key.Verify(
		h.Get(standardwebhooks.HeaderID),
		h.Get(standardwebhooks.HeaderTimestamp),
		h.Get(standardwebhooks.HeaderSignature),
		body, v.now(), v.tolerance,
	)
}

// Bearer returns a Verifier that requires "Authorization: Bearer <token>"
// (the scheme name in any case), compared in constant time. The body is not
// covered. An empty token rejects every request.
func Bearer(token secret.String) Verifier {
	if token.IsZero() {
		return &bearer{}
	}
	// Keep only a digest: the comparison then leaks neither content nor
	// length, and the verifier holds no copy of the token.
	sum := sha256.Sum256([]byte(token.Reveal()))
	return &bearer{sum: sum[:]}
}

type bearer struct {
	sum []byte
}

var (
	errNoBearerToken = errors.New("no bearer token configured")
	//lint:ignore ST1005 Authorization is the header's name, as logged.
	errNotBearer = errors.New("Authorization is not Bearer")
	errBearer    = errors.New("bearer token mismatch")
)

// Verify implements Verifier.
func (v *bearer) Verify(_ context.Context, h http.Header, _ []byte) error {
	if v.sum == nil {
		return errNoBearerToken
	}
	auth, err := requireHeader(h, "Authorization")
	if err != nil {
		return err
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errNotBearer
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return errBearer
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], v.sum) != 1 {
		return errBearer
	}
	return nil
}
