package signature

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

const (
	// fetchTimeout bounds one public-key request.
	fetchTimeout = 10 * time.Second
	// refetchInterval is how often a signature that fails with the cached
	// key may trigger a new fetch (Lago rotates its key only when the
	// operator changes LAGO_RSA_PRIVATE_KEY).
	refetchInterval = time.Minute
	// failedFetchWait is how long a failed first fetch is remembered, so
	// that a burst of requests while Lago is down does not become a burst
	// of fetches.
	failedFetchWait = 2 * time.Second
	// maxKeyResponse caps the public-key response body.
	maxKeyResponse = 64 << 10
)

// LagoJWTOptions configures LagoJWT. Set exactly one of PublicKey and KeyURL.
type LagoJWTOptions struct {
	// PublicKey is Lago's RSA public key as Lago serves it (base64 of a PEM
	// document, with or without line breaks) or as a plain PEM document.
	// Leave it empty to fetch the key from KeyURL.
	PublicKey secret.String
	// KeyURL is where to fetch the key: {LAGO_API_URL}/api/v1/webhooks/public_key
	// (text/plain base64 of a PEM) or …/webhooks/json_public_key
	// ({"webhook":{"public_key":"…"}}). It is fetched on first use, cached,
	// and fetched again at most once a minute when a signature does not
	// verify with the cached key.
	KeyURL secret.URL
	// APIKey is the Lago API key sent as "Authorization: Bearer" to KeyURL.
	APIKey secret.String
	// Issuer, when set, must equal the token's iss claim (Lago sets it to
	// its LAGO_API_URL; Lago Cloud is https://api.getlago.com).
	Issuer string
	// HTTPClient fetches KeyURL; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now returns the current time; nil means time.Now. Tests set it to
	// drive the refetch interval.
	Now func() time.Time
}

// LagoJWT returns a Verifier for a Lago source that signs with JWT (Lago's
// default): X-Lago-Signature holds an RS256 JWS whose data claim is the raw
// body. Only RS256 is accepted whatever the token's header says. A configured
// PublicKey is parsed here, so a bad key is a configuration error; a KeyURL
// is fetched lazily and a fetch failure makes Verify return *UnavailableError.
func LagoJWT(o LagoJWTOptions) (Verifier, error) {
	v := &lagoJWT{
		client:   o.HTTPClient,
		now:      o.Now,
		fetching: make(chan struct{}, 1),
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: fetchTimeout}
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case !o.PublicKey.IsZero() && o.KeyURL != "":
		return nil, errors.New("set a public key or a key URL, not both")
	case !o.PublicKey.IsZero():
		key, err := ParsePublicKey(o.PublicKey.Reveal())
		if err != nil {
			return nil, err
		}
		v.static = key
	case o.KeyURL != "":
		u, err := url.Parse(o.KeyURL.Reveal())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// url.Parse errors quote the URL, which may hold credentials.
			return nil, errors.New("key URL is not an http(s) URL")
		}
		if o.APIKey.IsZero() {
			return nil, errors.New("key URL needs an API key")
		}
		v.keyURL, v.apiKey = o.KeyURL, o.APIKey
	default:
		return nil, errors.New("needs a public key or a key URL")
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(v.now),
	}
	if o.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(o.Issuer))
	}
	v.parser = jwt.NewParser(popts...)
	return v, nil
}

type lagoJWT struct {
	parser *jwt.Parser
	client *http.Client
	now    func() time.Time

	static *rsa.PublicKey // the configured key; nil when fetched
	keyURL secret.URL
	apiKey secret.String

	// fetching holds a token while a fetch runs, so that concurrent
	// requests share one fetch and can give up when their context ends.
	fetching chan struct{}

	mu        sync.Mutex
	key       *rsa.PublicKey // last fetched key
	fetchedAt time.Time      // last fetch attempt, successful or not
	fetchErr  error          // last fetch error, nil after a success
}

var (
	errWantJWTAlg   = errors.New("expected " + HeaderLagoAlgorithm + ": jwt")
	errJWTMalformed = errors.New("jwt: malformed token")
	errJWTSignature = errors.New("jwt: signature mismatch")
	errJWTIssuer    = errors.New("jwt: unexpected issuer")
	errJWTNoData    = errors.New("jwt: data claim missing or not a string")
	errJWTData      = errors.New("jwt: data claim does not match body")
)

// Verify implements Verifier.
func (v *lagoJWT) Verify(ctx context.Context, h http.Header, body []byte) error {
	token, err := requireHeader(h, HeaderLagoSignature)
	if err != nil {
		return err
	}
	algo, err := oneHeader(h, HeaderLagoAlgorithm)
	if err != nil {
		return err
	}
	if algo != "" && algo != "jwt" {
		return errWantJWTAlg
	}
	// Check alg before any key lookup: it gives a precise reason and keeps
	// tokens that can never pass from triggering a key fetch.
	if err := checkAlg(token); err != nil {
		return err
	}
	key, err := v.currentKey(ctx)
	if err != nil {
		return err
	}
	claims, err := v.parse(token, key)
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) && v.static == nil {
		newer, ferr := v.refresh(ctx, key, refetchInterval)
		if ferr != nil {
			return ferr
		}
		if newer != nil && !newer.Equal(key) {
			claims, err = v.parse(token, newer)
		}
	}
	if err != nil {
		return jwtReason(err)
	}
	data, ok := claims["data"].(string)
	if !ok {
		return errJWTNoData
	}
	if data != string(body) {
		return errJWTData
	}
	return nil
}

func (v *lagoJWT) parse(token string, key *rsa.PublicKey) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, errors.New("unexpected signing method")
		}
		return key, nil
	})
	return claims, err
}

// checkAlg reads the token's JOSE header and rejects every alg but RS256.
func checkAlg(token string) error {
	seg, _, ok := strings.Cut(token, ".")
	if !ok {
		return errJWTMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errJWTMalformed
	}
	var hdr struct {
		Alg any `json:"alg"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return errJWTMalformed
	}
	alg, _ := hdr.Alg.(string)
	if alg == "RS256" {
		return nil
	}
	if isShortName(alg) {
		return errors.New("jwt: unexpected algorithm " + alg)
	}
	return errors.New("jwt: unexpected algorithm")
}

// isShortName reports whether s is safe to echo in a reason: a short
// alphanumeric name such as an alg value.
func isShortName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// jwtReason maps a golang-jwt error to a short reason.
func jwtReason(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errJWTMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errJWTSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errJWTIssuer
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("jwt: token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("jwt: token not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return errors.New("jwt: invalid claims")
	default:
		return errors.New("jwt: invalid token")
	}
}

// Prefetch implements Prefetcher: it fetches the key from KeyURL unless
// one is cached (or the key was given).
func (v *lagoJWT) Prefetch(ctx context.Context) error {
	_, err := v.currentKey(ctx)
	return err
}

// currentKey returns the key to verify with, fetching it on first use.
func (v *lagoJWT) currentKey(ctx context.Context) (*rsa.PublicKey, error) {
	if v.static != nil {
		return v.static, nil
	}
	v.mu.Lock()
	key := v.key
	v.mu.Unlock()
	if key != nil {
		return key, nil
	}
	key, err := v.refresh(ctx, nil, failedFetchWait)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, &UnavailableError{Err: errors.New("no key fetched yet")}
	}
	return key, nil
}

// refresh returns a key other than stale: one another request has just
// fetched, or a freshly fetched one. It fetches only when the last attempt
// is at least wait old; otherwise it returns the last fetch error as an
// *UnavailableError if there was one, or a nil key.
func (v *lagoJWT) refresh(ctx context.Context, stale *rsa.PublicKey, wait time.Duration) (*rsa.PublicKey, error) {
	select {
	case v.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, &UnavailableError{Err: ctx.Err()}
	}
	defer func() { <-v.fetching }()

	v.mu.Lock()
	key, at, lastErr := v.key, v.fetchedAt, v.fetchErr
	v.mu.Unlock()
	if key != stale {
		return key, nil
	}
	if !at.IsZero() && v.now().Sub(at) < wait {
		// With a cached key, a recent failure only means "no refetch yet";
		// without one, the request cannot be checked at all.
		if lastErr != nil && stale == nil {
			return nil, &UnavailableError{Err: lastErr}
		}
		return nil, nil
	}

	fetched, err := v.fetch(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fetchedAt, v.fetchErr = v.now(), err
	if err != nil {
		return nil, &UnavailableError{Err: err}
	}
	v.key = fetched
	return fetched, nil
}

// fetch gets the public key from KeyURL.
func (v *lagoJWT) fetch(ctx context.Context) (*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	where := secret.RedactURL(v.keyURL.Reveal())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.keyURL.Reveal(), nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: bad request", where)
	}
	req.Header.Set("Authorization", "Bearer "+v.apiKey.Reveal())
	req.Header.Set("Accept", "text/plain, application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// *url.Error quotes the full URL; keep only its redacted form.
			return nil, fmt.Errorf("get %s: %w", where, ue.Err)
		}
		return nil, fmt.Errorf("get %s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d", where, resp.StatusCode)
	}
	if len(body) > maxKeyResponse {
		return nil, fmt.Errorf("get %s: response larger than %d bytes", where, maxKeyResponse)
	}
	text := string(body)
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Webhook struct {
				PublicKey string `json:"public_key"`
			} `json:"webhook"`
		}
		if err := json.Unmarshal(t, &doc); err != nil || doc.Webhook.PublicKey == "" {
			return nil, fmt.Errorf("get %s: no webhook.public_key in the JSON response", where)
		}
		text = doc.Webhook.PublicKey
	}
	key, err := ParsePublicKey(text)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", where, err)
	}
	return key, nil
}

// ParsePublicKey parses an RSA public key given as Lago serves it (base64
// of a PEM document, with or without line breaks), as a plain PEM document
// ("PUBLIC KEY" or "RSA PUBLIC KEY"), or as base64 DER. Whitespace, CRLF line
// ends and literal "\n" sequences (as left by some .env files) are
// tolerated.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\n`, "\n"))
	if s == "" {
		return nil, errors.New("public key is empty")
	}
	data := []byte(s)
	if !strings.HasPrefix(s, "-----BEGIN") {
		compact := strings.Join(strings.Fields(s), "")
		b, err := base64.StdEncoding.DecodeString(compact)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(compact)
		}
		if err != nil {
			return nil, errors.New("public key is neither PEM nor base64")
		}
		data = bytes.TrimSpace(b)
		// DER starts with a SEQUENCE tag; anything else that happened to be
		// valid base64 is text that is not a key.
		if !bytes.HasPrefix(data, []byte("-----BEGIN")) && (len(data) == 0 || data[0] != 0x30) {
			return nil, errors.New("public key is neither PEM nor base64")
		}
	}
	der := data
	pkcs1 := false
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, errors.New("public key: malformed PEM")
		}
		switch block.Type {
		case "PUBLIC KEY":
		case "RSA PUBLIC KEY":
			pkcs1 = true
		default:
			if isShortName(strings.ReplaceAll(block.Type, " ", "_")) {
				return nil, fmt.Errorf("public key: PEM type %q, want PUBLIC KEY", block.Type)
			}
			return nil, errors.New("public key: unexpected PEM type, want PUBLIC KEY")
		}
		der = block.Bytes
	}
	if pkcs1 {
		key, err := x509.ParsePKCS1PublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		return key, nil
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		if key, err1 := x509.ParsePKCS1PublicKey(der); err1 == nil {
			return key, nil
		}
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("public key is not an RSA key")
	}
	return key, nil
}
