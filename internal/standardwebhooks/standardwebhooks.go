// Package standardwebhooks signs and verifies requests the Standard Webhooks
// way (https://www.standardwebhooks.com): headers webhook-id,
// webhook-timestamp and webhook-signature, where the signature is
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed with the base64
// secret after its "whsec_" prefix.
package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a timestamp may be from now.
const DefaultTolerance = 5 * time.Minute

// Key is a decoded signing secret.
type Key []byte

// ParseKey decodes a "whsec_<base64>" secret. A secret without the prefix is
// accepted as base64 too.
func ParseKey(secret string) (Key, error) {
	s := strings.TrimPrefix(secret, "whsec_")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("signing secret is not whsec_ followed by base64")
	}
	if len(b) < 16 {
		return nil, errors.New("signing secret is shorter than 16 bytes")
	}
	return Key(b), nil
}

// Sign returns the webhook-signature value for id, ts and body.
func (k Key) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(k.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (k Key) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verification errors.
var (
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("webhook-timestamp outside the tolerance")
	ErrSignature      = errors.New("no matching webhook-signature")
)

// Verify checks the three headers against body. sig may hold several
// space-separated "v1,<sig>" entries (key rotation); one match suffices.
func (k Key) Verify(id, ts, sig string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || ts == "" || sig == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: not a unix time", ErrTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := k.mac(id, ts, body)
	for _, part := range strings.Fields(sig) {
		version, b64, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
