package signature

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// Lago's signature headers.
const (
	// HeaderLagoSignature carries the base64 HMAC digest or the JWT.
	HeaderLagoSignature = "X-Lago-Signature"
	// HeaderLagoAlgorithm is "hmac" or "jwt"; a missing value means "jwt",
	// Lago's default.
	HeaderLagoAlgorithm = "X-Lago-Signature-Algorithm"
	// HeaderLagoUniqueKey identifies a delivery across Lago's retries.
	HeaderLagoUniqueKey = "X-Lago-Unique-Key"
)

// LagoHMAC returns a Verifier for a Lago source configured with the
// organization's HMAC key ("HMAC Signature Token" in Lago's UI). It requires
// X-Lago-Signature-Algorithm: hmac and an X-Lago-Signature equal to the
// standard, padded base64 of HMAC-SHA256(key, raw body). An empty key
// rejects every request.
func LagoHMAC(key secret.String) Verifier {
	return &lagoHMAC{key: []byte(key.Reveal())}
}

type lagoHMAC struct {
	key []byte
}

var (
	errNoHMACKey   = errors.New("no HMAC secret configured")
	errWantHMACAlg = errors.New("expected " + HeaderLagoAlgorithm + ": hmac")
)

// Verify implements Verifier.
func (v *lagoHMAC) Verify(_ context.Context, h http.Header, body []byte) error {
	if len(v.key) == 0 {
		return errNoHMACKey
	}
	sig, err := requireHeader(h, HeaderLagoSignature)
	if err != nil {
		return err
	}
	// Verify as configured: a missing algorithm header means jwt, so only an
	// explicit "hmac" is acceptable here.
	algo, err := oneHeader(h, HeaderLagoAlgorithm)
	if err != nil {
		return err
	}
	if algo != "hmac" {
		return errWantHMACAlg
	}
	mac := hmac.New(sha256.New, v.key)
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	// Comparing the encoded text, not decoded bytes, rejects every other
	// spelling (hex, base64url, unpadded) without a separate check.
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return errSignatureMismatch
	}
	return nil
}

// OrganizationError rejects a correctly signed Lago message whose envelope
// names an organization the source does not accept. Lago signs JWT webhooks
// with one key per Lago instance, so on a shared instance another tenant's
// messages carry a valid signature too; only the envelope's organization_id
// tells them apart.
type OrganizationError struct {
	// Got is the envelope's organization_id; empty when it has none.
	Got string
}

// Error implements error. The text is safe to send to the client.
func (e *OrganizationError) Error() string {
	if e.Got == "" {
		return "no organization_id in the message"
	}
	return "organization_id not accepted by this source"
}

// LagoOrganization wraps a Lago verifier so that, once the signature holds,
// the message must name one of ids in its envelope's organization_id; any
// other organization, or none, is an *OrganizationError. With no ids it
// returns v unchanged.
func LagoOrganization(v Verifier, ids []string) Verifier {
	if len(ids) == 0 {
		return v
	}
	return &lagoOrganization{inner: v, ids: slices.Clone(ids)}
}

type lagoOrganization struct {
	inner Verifier
	ids   []string
}

// Prefetch implements Prefetcher for the verifier it wraps.
func (v *lagoOrganization) Prefetch(ctx context.Context) error {
	if p, ok := v.inner.(Prefetcher); ok {
		return p.Prefetch(ctx)
	}
	return nil
}

// Verify implements Verifier.
func (v *lagoOrganization) Verify(ctx context.Context, h http.Header, body []byte) error {
	if err := v.inner.Verify(ctx, h, body); err != nil {
		return err
	}
	// Only the envelope's key is decoded; the ingest handler parses the
	// whole body afterwards.
	var env struct {
		OrganizationID any `json:"organization_id"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return &OrganizationError{}
	}
	got, _ := env.OrganizationID.(string)
	if got == "" {
		return &OrganizationError{}
	}
	if !slices.Contains(v.ids, got) {
		return &OrganizationError{Got: got}
	}
	return nil
}
