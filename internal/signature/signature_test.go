package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m, nil) }

// Lago HMAC test vectors (lago/SIGNATURES.md §8).
const (
	lagoSecret = "6a2f1f5e-3c8b-4d7e-9b1a-0f4c2d8e7a31"

	vector1Body   = `{"webhook_type":"wallet.depleted_ongoing_balance","object_type":"wallet","organization_id":"1a901a90-1a90-1a90-1a90-1a901a901a90","wallet":{"lago_id":"b7ab2926-1de8-4428-9bcd-779314ac129b","external_customer_id":"hooli_1234","currency":"USD","ongoing_balance_cents":0,"credits_ongoing_balance":"0.0"}}`
	vector1SHA256 = "42a8261e82d035d46fe0134be8e99d8bab86b030dbd02a1951f3cd92edede5a1"
	vector1Sig    = "kfTY20ZS1zwoqebnC8d94nESbdlq3aNqe9jGF87EZYI="

	// vector2Body holds `\u0026` as six literal characters, as Rails sends "&".
	vector2Body      = `{"webhook_type":"customer.checkout_url_generated","object_type":"payment_provider_customer_checkout_url","organization_id":"1a901a90-1a90-1a90-1a90-1a901a901a90","payment_provider_customer_checkout_url":{"lago_customer_id":"1a901a90-1a90-1a90-1a90-1a901a901a90","external_customer_id":"hooli_1234","payment_provider":"stripe","payment_provider_code":"stripe_prod","checkout_url":"https://checkout.example.com/c/pay?a=1\u0026b=2"}}`
	vector2Sig       = "8Jc4QleoEKV2fr+2FOW8Z0ue7SyC3PVi5ysh9y0OC8A="
	vector2Reencoded = "Wod2RhvHo7wHgY4oegAvWoFxffipQHW9Wg13d3kOwBw="

	lagoIssuer = "https://api.getlago.com"
	lagoAPIKey = "lago-api-key-3f9c2a71-5d0e"
)

// assertSafe fails when err's text contains one of the secret values.
func assertSafe(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret value %q", err, s)
		}
	}
}

// checkErr compares err with want: "" means success, otherwise err's text
// must contain want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("Verify: %v, want success", err)
	case want != "" && err == nil:
		t.Fatalf("Verify succeeded, want error containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("Verify: %q, want it to contain %q", err, want)
	}
}

func hmacBytes(newHash func() hash.Hash, key, body string) []byte {
	m := hmac.New(newHash, []byte(key))
	m.Write([]byte(body))
	return m.Sum(nil)
}

func lagoSig(key, body string) string {
	return base64.StdEncoding.EncodeToString(hmacBytes(sha256.New, key, body))
}

func lagoHeaders(sig, algo string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(HeaderLagoSignature, sig)
	}
	if algo != "" {
		h.Set(HeaderLagoAlgorithm, algo)
	}
	h.Set(HeaderLagoUniqueKey, "0f5e6c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b")
	return h
}

func TestLagoHMACVectorBytes(t *testing.T) {
	sum := sha256.Sum256([]byte(vector1Body))
	if got := hex.EncodeToString(sum[:]); got != vector1SHA256 || len(vector1Body) != 301 {
		t.Fatalf("vector 1 body: %d bytes, sha256 %s; want 301 bytes, %s", len(vector1Body), got, vector1SHA256)
	}
	if len(vector2Body) != 430 || !strings.Contains(vector2Body, `a=1\u0026b=2`) {
		t.Fatalf("vector 2 body: %d bytes, want 430 with a literal \\u0026", len(vector2Body))
	}
	// The trap: a receiver that decodes the JSON and re-encodes it without
	// HTML escaping signs different bytes.
	reencoded := strings.ReplaceAll(vector2Body, `\u0026`, "&")
	if got := lagoSig(lagoSecret, reencoded); got != vector2Reencoded {
		t.Fatalf("re-encoded vector 2 signs as %s, want %s", got, vector2Reencoded)
	}
}

func TestLagoHMAC(t *testing.T) {
	v := LagoHMAC(secret.String(lagoSecret))
	reencoded := strings.ReplaceAll(vector2Body, `\u0026`, "&")
	mac2 := hmacBytes(sha256.New, lagoSecret, vector2Body)
	tests := []struct {
		name string
		body string
		h    http.Header
		want string
	}{
		{"vector 1", vector1Body, lagoHeaders(vector1Sig, "hmac"), ""},
		{"vector 2 with literal u0026", vector2Body, lagoHeaders(vector2Sig, "hmac"), ""},
		{"vector 2 re-encoded signature", vector2Body, lagoHeaders(vector2Reencoded, "hmac"), "signature mismatch"},
		{"vector 2 body re-encoded", reencoded, lagoHeaders(vector2Sig, "hmac"), "signature mismatch"},
		{"one byte changed", strings.Replace(vector1Body, `"ongoing_balance_cents":0`, `"ongoing_balance_cents":1`, 1), lagoHeaders(vector1Sig, "hmac"), "signature mismatch"},
		{"trailing newline", vector1Body + "\n", lagoHeaders(vector1Sig, "hmac"), "signature mismatch"},
		{"wrong secret", vector1Body, lagoHeaders(lagoSig("6a2f1f5e-3c8b-4d7e-9b1a-0f4c2d8e7a32", vector1Body), "hmac"), "signature mismatch"},
		{"hex signature", vector2Body, lagoHeaders(hex.EncodeToString(mac2), "hmac"), "signature mismatch"},
		{"base64url signature", vector2Body, lagoHeaders(base64.URLEncoding.EncodeToString(mac2), "hmac"), "signature mismatch"},
		{"base64url unpadded signature", vector2Body, lagoHeaders(base64.RawURLEncoding.EncodeToString(mac2), "hmac"), "signature mismatch"},
		{"unpadded base64 signature", vector2Body, lagoHeaders(base64.RawStdEncoding.EncodeToString(mac2), "hmac"), "signature mismatch"},
		{"algorithm jwt on an hmac source", vector1Body, lagoHeaders(vector1Sig, "jwt"), "expected X-Lago-Signature-Algorithm: hmac"},
		{"algorithm missing means jwt", vector1Body, lagoHeaders(vector1Sig, ""), "expected X-Lago-Signature-Algorithm: hmac"},
		{"algorithm in capitals", vector1Body, lagoHeaders(vector1Sig, "HMAC"), "expected X-Lago-Signature-Algorithm: hmac"},
		{"missing signature", vector1Body, lagoHeaders("", "hmac"), "missing X-Lago-Signature"},
		{"two signatures", vector1Body, func() http.Header {
			h := lagoHeaders(vector1Sig, "hmac")
			h.Add(HeaderLagoSignature, "AAAA")
			return h
		}(), "more than one X-Lago-Signature header"},
		{"empty body", "", lagoHeaders(vector1Sig, "hmac"), "signature mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(context.Background(), tc.h, []byte(tc.body))
			checkErr(t, err, tc.want)
			assertSafe(t, err, lagoSecret, lagoSig(lagoSecret, tc.body), hex.EncodeToString(hmacBytes(sha256.New, lagoSecret, tc.body)))
		})
	}
}

func TestLagoHMACEmptySecret(t *testing.T) {
	// With no key, HMAC(empty key) must not become an accepted signature.
	err := LagoHMAC("").Verify(context.Background(), lagoHeaders(lagoSig("", vector1Body), "hmac"), []byte(vector1Body))
	checkErr(t, err, "no HMAC secret configured")
}

// --- JWT ---

type testKeys struct {
	lago, other *rsa.PrivateKey
	ec          *ecdsa.PrivateKey
}

// keys are generated once per test binary: RSA generation is slow under -race.
var keys = sync.OnceValue(func() testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{lago: gen(), other: gen(), ec: ec}
})

// publicPEM is the public half as Lago's PEM document (SubjectPublicKeyInfo).
func publicPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// encode64 is Ruby's Base64.encode64: a line break every 60 characters and
// a final newline — what Lago's public_key endpoint returns.
func encode64(s string) string {
	b := base64.StdEncoding.EncodeToString([]byte(s))
	var out strings.Builder
	for len(b) > 60 {
		out.WriteString(b[:60] + "\n")
		b = b[60:]
	}
	out.WriteString(b + "\n")
	return out.String()
}

// handToken builds a compact JWS the way Lago does: header exactly
// {"alg":"RS256"}, claims {"data":…,"iss":…}, RSASSA-PKCS1-v1_5/SHA-256.
func handToken(t testing.TB, key *rsa.PrivateKey, data, iss string) string {
	t.Helper()
	claims, err := json.Marshal(struct {
		Data string `json:"data"`
		Iss  string `json:"iss,omitempty"`
	}{data, iss})
	if err != nil {
		t.Fatal(err)
	}
	return signRS256(t, key, `{"alg":"RS256"}`, string(claims))
}

func signRS256(t testing.TB, key *rsa.PrivateKey, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// libToken builds a token with golang-jwt (it adds "typ":"JWT").
func libToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwtHeaders(token string) http.Header { return lagoHeaders(token, "jwt") }

func TestLagoJWT(t *testing.T) {
	k := keys()
	pemText := publicPEM(t, &k.lago.PublicKey)
	b64 := encode64(pemText)
	v, err := LagoJWT(LagoJWTOptions{PublicKey: secret.String(b64), Issuer: lagoIssuer})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	valid := handToken(t, k.lago, vector1Body, lagoIssuer)
	parts := strings.Split(valid, ".")
	tests := []struct {
		name  string
		body  string
		h     http.Header
		want  string
		alsoN []string // further values that must not appear in the error
	}{
		{"hand-built token", vector1Body, jwtHeaders(valid), "", nil},
		{"golang-jwt token", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodRS256, k.lago, jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "", nil},
		{"body with literal u0026", vector2Body, jwtHeaders(handToken(t, k.lago, vector2Body, lagoIssuer)), "", nil},
		{"algorithm header missing means jwt", vector1Body, lagoHeaders(valid, ""), "", nil},
		{"data differs by one byte", vector1Body, jwtHeaders(handToken(t, k.lago, strings.Replace(vector1Body, "USD", "USE", 1), lagoIssuer)), "jwt: data claim does not match body", nil},
		{"body altered", strings.Replace(vector1Body, "USD", "EUR", 1), jwtHeaders(valid), "jwt: data claim does not match body", nil},
		{"trailing newline on body", vector1Body + "\n", jwtHeaders(valid), "jwt: data claim does not match body", nil},
		{"body re-encoded", strings.ReplaceAll(vector2Body, `\u0026`, "&"), jwtHeaders(handToken(t, k.lago, vector2Body, lagoIssuer)), "jwt: data claim does not match body", nil},
		{"signed with another key", vector1Body, jwtHeaders(handToken(t, k.other, vector1Body, lagoIssuer)), "jwt: signature mismatch", nil},
		{"claims swapped under a valid signature", vector1Body, jwtHeaders(parts[0] + "." + enc.EncodeToString([]byte(`{"data":"{}","iss":"`+lagoIssuer+`"}`)) + "." + parts[2]), "jwt: signature mismatch", nil},
		{"wrong issuer", vector1Body, jwtHeaders(handToken(t, k.lago, vector1Body, "https://evil.example.com")), "jwt: unexpected issuer", nil},
		{"missing issuer", vector1Body, jwtHeaders(handToken(t, k.lago, vector1Body, "")), "jwt: unexpected issuer", nil},
		{"alg none", vector1Body, jwtHeaders(enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."), "jwt: unexpected algorithm none", nil},
		{"alg missing", vector1Body, jwtHeaders(enc.EncodeToString([]byte(`{"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]), "jwt: unexpected algorithm", nil},
		{"HS256 keyed with the PEM text", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodHS256, []byte(pemText), jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "jwt: unexpected algorithm HS256", nil},
		{"HS256 keyed with the base64 key", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodHS256, []byte(b64), jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "jwt: unexpected algorithm HS256", nil},
		{"RS384", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodRS384, k.lago, jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "jwt: unexpected algorithm RS384", nil},
		{"PS256", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodPS256, k.lago, jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "jwt: unexpected algorithm PS256", nil},
		{"ES256", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodES256, k.ec, jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer})), "jwt: unexpected algorithm ES256", nil},
		{"unprintable alg not echoed", vector1Body, jwtHeaders(enc.EncodeToString([]byte(`{"alg":"<script>alert(1)</script>"}`)) + "." + parts[1] + "." + parts[2]), "jwt: unexpected algorithm", []string{"script"}},
		{"data claim not a string", vector1Body, jwtHeaders(signRS256(t, k.lago, `{"alg":"RS256"}`, `{"data":{"webhook_type":"x"},"iss":"`+lagoIssuer+`"}`)), "jwt: data claim missing or not a string", nil},
		{"data claim missing", vector1Body, jwtHeaders(signRS256(t, k.lago, `{"alg":"RS256"}`, `{"iss":"`+lagoIssuer+`"}`)), "jwt: data claim missing or not a string", nil},
		{"expired token", vector1Body, jwtHeaders(libToken(t, jwt.SigningMethodRS256, k.lago, jwt.MapClaims{"data": vector1Body, "iss": lagoIssuer, "exp": time.Now().Add(-time.Hour).Unix()})), "jwt: token expired", nil},
		{"not a token", vector1Body, jwtHeaders("kfTY20ZS1zwoqebnC8d94nESbdlq3aNqe9jGF87EZYI="), "jwt: malformed token", nil},
		{"signature not base64url", vector1Body, jwtHeaders(parts[0] + "." + parts[1] + ".!!!"), "jwt: malformed token", nil},
		{"missing header", vector1Body, lagoHeaders("", "jwt"), "missing X-Lago-Signature", nil},
		{"algorithm hmac on a jwt source", vector1Body, lagoHeaders(valid, "hmac"), "expected X-Lago-Signature-Algorithm: jwt", nil},
		{"hmac signature on a jwt source", vector1Body, lagoHeaders(vector1Sig, "hmac"), "expected X-Lago-Signature-Algorithm: jwt", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(context.Background(), tc.h, []byte(tc.body))
			checkErr(t, err, tc.want)
			assertSafe(t, err, append([]string{strings.TrimSpace(b64)[:60], "MIIB", "PUBLIC KEY"}, tc.alsoN...)...)
			var ue *UnavailableError
			if errors.As(err, &ue) {
				t.Fatalf("configured key: got *UnavailableError %v", err)
			}
		})
	}
}

func TestLagoJWTWithoutIssuer(t *testing.T) {
	k := keys()
	v, err := LagoJWT(LagoJWTOptions{PublicKey: secret.String(publicPEM(t, &k.lago.PublicKey))})
	if err != nil {
		t.Fatal(err)
	}
	for _, iss := range []string{"", lagoIssuer, "http://lago.internal:3000"} {
		t.Run("iss "+strconv.Quote(iss), func(t *testing.T) {
			checkErr(t, v.Verify(context.Background(), jwtHeaders(handToken(t, k.lago, vector1Body, iss)), []byte(vector1Body)), "")
		})
	}
}

// keyServer is Lago's API serving the public key; it requires the bearer
// API key and records what it saw.
type keyServer struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	auth  []string
	b64   string // what public_key returns
	fail  int    // non-zero: answer this status
	block bool   // hang until the request's context ends
}

func newKeyServer(t *testing.T, pub *rsa.PublicKey) *keyServer {
	t.Helper()
	ks := &keyServer{b64: encode64(publicPEM(t, pub))}
	ks.Server = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) setKey(t *testing.T, pub *rsa.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.b64 = encode64(publicPEM(t, pub))
}

func (ks *keyServer) setFail(status int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.fail = status
}

func (ks *keyServer) setBlock(block bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.block = block
}

func (ks *keyServer) seen() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]string(nil), ks.auth...)
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.hits.Add(1)
	ks.mu.Lock()
	ks.auth = append(ks.auth, r.Header.Get("Authorization"))
	b64, fail, block := ks.b64, ks.fail, ks.block
	ks.mu.Unlock()
	if block {
		<-r.Context().Done()
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+lagoAPIKey {
		http.Error(w, `{"status":401,"error":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if fail != 0 {
		http.Error(w, "oops", fail)
		return
	}
	switch r.URL.Path {
	case "/api/v1/webhooks/public_key":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, b64)
	case "/api/v1/webhooks/json_public_key":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"webhook": map[string]string{"public_key": b64}})
	case "/garbage":
		io.WriteString(w, "this is not a key")
	case "/json-without-key":
		io.WriteString(w, `{"webhook":{}}`)
	default:
		http.NotFound(w, r)
	}
}

// newClock is a settable time source.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func TestLagoJWTKeySources(t *testing.T) {
	k := keys()
	pemText := publicPEM(t, &k.lago.PublicKey)
	ks := newKeyServer(t, &k.lago.PublicKey)
	tests := []struct {
		name    string
		opts    LagoJWTOptions
		fetched bool
	}{
		{"base64 of PEM with 60-char lines", LagoJWTOptions{PublicKey: secret.String(encode64(pemText))}, false},
		{"base64 of PEM on one line", LagoJWTOptions{PublicKey: secret.String(base64.StdEncoding.EncodeToString([]byte(pemText)))}, false},
		{"plain PEM", LagoJWTOptions{PublicKey: secret.String(pemText)}, false},
		{"PEM with CRLF", LagoJWTOptions{PublicKey: secret.String(strings.ReplaceAll(pemText, "\n", "\r\n"))}, false},
		{"fetched from public_key", LagoJWTOptions{KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey, HTTPClient: ks.Client()}, true},
		{"fetched from json_public_key", LagoJWTOptions{KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/json_public_key"), APIKey: lagoAPIKey, HTTPClient: ks.Client()}, true},
		{"fetched with the default client", LagoJWTOptions{KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := ks.hits.Load()
			tc.opts.Issuer = lagoIssuer
			v, err := LagoJWT(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if n := ks.hits.Load() - before; n != 0 {
				t.Fatalf("LagoJWT fetched the key %d times, want lazily on first use", n)
			}
			ctx := context.Background()
			checkErr(t, v.Verify(ctx, jwtHeaders(handToken(t, k.lago, vector1Body, lagoIssuer)), []byte(vector1Body)), "")
			checkErr(t, v.Verify(ctx, jwtHeaders(handToken(t, k.other, vector1Body, lagoIssuer)), []byte(vector1Body)), "jwt: signature mismatch")
			checkErr(t, v.Verify(ctx, jwtHeaders(handToken(t, k.lago, vector2Body, lagoIssuer)), []byte(vector1Body)), "jwt: data claim does not match body")
			want := int64(0)
			if tc.fetched {
				want = 1
			}
			if n := ks.hits.Load() - before; n != want {
				t.Fatalf("key server hit %d times, want %d", n, want)
			}
			if tc.fetched {
				auth := ks.seen()
				if got := auth[len(auth)-1]; got != "Bearer "+lagoAPIKey {
					t.Fatalf("key server saw Authorization %q, want the bearer API key", got)
				}
			}
		})
	}
}

func TestLagoJWTKeyCache(t *testing.T) {
	k := keys()
	ks := newKeyServer(t, &k.lago.PublicKey)
	clk := newClock()
	v, err := LagoJWT(LagoJWTOptions{
		KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey,
		HTTPClient: ks.Client(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	good := jwtHeaders(handToken(t, k.lago, vector1Body, lagoIssuer))
	forged := jwtHeaders(handToken(t, k.other, vector1Body, lagoIssuer))
	ctx := context.Background()

	t.Run("concurrent first use fetches once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- v.Verify(ctx, good, []byte(vector1Body))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if n := ks.hits.Load(); n != 1 {
			t.Fatalf("key server hit %d times for 40 verifications, want 1", n)
		}
	})
	t.Run("failures within a minute do not refetch", func(t *testing.T) {
		for range 10 {
			checkErr(t, v.Verify(ctx, forged, []byte(vector1Body)), "jwt: signature mismatch")
		}
		clk.Add(59 * time.Second)
		checkErr(t, v.Verify(ctx, forged, []byte(vector1Body)), "jwt: signature mismatch")
		if n := ks.hits.Load(); n != 1 {
			t.Fatalf("key server hit %d times, want 1", n)
		}
	})
	t.Run("a failure after a minute refetches once", func(t *testing.T) {
		clk.Add(2 * time.Second)
		for range 5 {
			checkErr(t, v.Verify(ctx, forged, []byte(vector1Body)), "jwt: signature mismatch")
		}
		if n := ks.hits.Load(); n != 2 {
			t.Fatalf("key server hit %d times, want 2", n)
		}
		checkErr(t, v.Verify(ctx, good, []byte(vector1Body)), "")
	})
	t.Run("other failures never refetch", func(t *testing.T) {
		clk.Add(time.Hour)
		checkErr(t, v.Verify(ctx, good, []byte(vector2Body)), "jwt: data claim does not match body")
		checkErr(t, v.Verify(ctx, jwtHeaders(libToken(t, jwt.SigningMethodHS256, []byte("x"), jwt.MapClaims{"data": vector1Body})), []byte(vector1Body)), "jwt: unexpected algorithm HS256")
		if n := ks.hits.Load(); n != 2 {
			t.Fatalf("key server hit %d times, want 2", n)
		}
	})
}

func TestLagoJWTKeyRotation(t *testing.T) {
	k := keys()
	ks := newKeyServer(t, &k.lago.PublicKey)
	clk := newClock()
	v, err := LagoJWT(LagoJWTOptions{
		KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/json_public_key"), APIKey: lagoAPIKey,
		HTTPClient: ks.Client(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	oldToken := jwtHeaders(handToken(t, k.lago, vector1Body, lagoIssuer))
	newToken := jwtHeaders(handToken(t, k.other, vector1Body, lagoIssuer))
	steps := []struct {
		name    string
		advance time.Duration
		h       http.Header
		want    string
		hits    int64
	}{
		{"old key fetched", 0, oldToken, "", 1},
		{"operator rotates; new token within the minute", 10 * time.Second, newToken, "jwt: signature mismatch", 1},
		{"new token after the minute refetches", time.Minute, newToken, "", 2},
		{"new key cached", time.Second, newToken, "", 2},
		{"old token now fails", time.Second, oldToken, "jwt: signature mismatch", 2},
	}
	for i, st := range steps {
		if i == 1 {
			ks.setKey(t, &k.other.PublicKey)
		}
		t.Run(st.name, func(t *testing.T) {
			clk.Add(st.advance)
			checkErr(t, v.Verify(ctx, st.h, []byte(vector1Body)), st.want)
			if n := ks.hits.Load(); n != st.hits {
				t.Fatalf("key server hit %d times, want %d", n, st.hits)
			}
		})
	}
}

func TestLagoJWTFetchErrors(t *testing.T) {
	k := keys()
	const querySecret = "q-secret-7781"
	const password = "pw-secret-5512"
	good := jwtHeaders(handToken(t, k.lago, vector1Body, lagoIssuer))
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name    string
		path    string
		apiKey  string
		fail    int
		block   bool
		baseURL string
		want    string
	}{
		{"server error", "/api/v1/webhooks/public_key", lagoAPIKey, http.StatusInternalServerError, false, "", "status 500"},
		{"wrong API key", "/api/v1/webhooks/public_key", "wrong-api-key-1234", 0, false, "", "status 401"},
		{"not found", "/api/v1/nothing", lagoAPIKey, 0, false, "", "status 404"},
		{"not a key", "/garbage", lagoAPIKey, 0, false, "", "public key is neither PEM nor base64"},
		{"JSON without the key", "/json-without-key", lagoAPIKey, 0, false, "", "no webhook.public_key"},
		{"server hangs", "/api/v1/webhooks/public_key", lagoAPIKey, 0, true, "", "context deadline exceeded"},
		{"connection refused", "/api/v1/webhooks/public_key", lagoAPIKey, 0, false, closedURL, "connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeyServer(t, &k.lago.PublicKey)
			ks.setFail(tc.fail)
			ks.setBlock(tc.block)
			base := ks.URL
			if tc.baseURL != "" {
				base = tc.baseURL
			}
			keyURL := strings.Replace(base, "http://", "http://switchboard:"+password+"@", 1) + tc.path + "?token=" + querySecret
			v, err := LagoJWT(LagoJWTOptions{KeyURL: secret.URL(keyURL), APIKey: secret.String(tc.apiKey), HTTPClient: ks.Client()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if !tc.block {
				ctx = context.Background()
			}
			err = v.Verify(ctx, good, []byte(vector1Body))
			var ue *UnavailableError
			if !errors.As(err, &ue) {
				t.Fatalf("Verify: %v (%T), want *UnavailableError", err, err)
			}
			checkErr(t, err, tc.want)
			if !strings.Contains(err.Error(), "/<secret>") && !strings.Contains(err.Error(), "<secret>@") {
				t.Errorf("error %q does not name the redacted URL", err)
			}
			assertSafe(t, err, querySecret, password, tc.apiKey, lagoAPIKey)
		})
	}
}

func TestLagoJWTFetchRecovers(t *testing.T) {
	k := keys()
	ks := newKeyServer(t, &k.lago.PublicKey)
	ks.setFail(http.StatusBadGateway)
	clk := newClock()
	v, err := LagoJWT(LagoJWTOptions{
		KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey,
		HTTPClient: ks.Client(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	good := jwtHeaders(handToken(t, k.lago, vector1Body, lagoIssuer))
	ctx := context.Background()
	var ue *UnavailableError
	if err := v.Verify(ctx, good, []byte(vector1Body)); !errors.As(err, &ue) {
		t.Fatalf("Verify with Lago down: %v, want *UnavailableError", err)
	}
	ks.setFail(0)
	// A failed fetch is remembered briefly, so a burst does not hammer Lago.
	if err := v.Verify(ctx, good, []byte(vector1Body)); !errors.As(err, &ue) {
		t.Fatalf("Verify right after a failed fetch: %v, want the remembered *UnavailableError", err)
	}
	if n := ks.hits.Load(); n != 1 {
		t.Fatalf("key server hit %d times, want 1", n)
	}
	clk.Add(3 * time.Second)
	checkErr(t, v.Verify(ctx, good, []byte(vector1Body)), "")
	if n := ks.hits.Load(); n != 2 {
		t.Fatalf("key server hit %d times, want 2", n)
	}
}

func TestLagoJWTRefetchFailure(t *testing.T) {
	// A signature failing with the cached key while Lago is unreachable may
	// be a rotation: answer "unavailable" so that Lago retries.
	k := keys()
	ks := newKeyServer(t, &k.lago.PublicKey)
	clk := newClock()
	v, err := LagoJWT(LagoJWTOptions{
		KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey,
		HTTPClient: ks.Client(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checkErr(t, v.Verify(ctx, jwtHeaders(handToken(t, k.lago, vector1Body, "")), []byte(vector1Body)), "")
	ks.setFail(http.StatusServiceUnavailable)
	clk.Add(2 * time.Minute)
	forged := jwtHeaders(handToken(t, k.other, vector1Body, ""))
	var ue *UnavailableError
	if err := v.Verify(ctx, forged, []byte(vector1Body)); !errors.As(err, &ue) {
		t.Fatalf("Verify: %v, want *UnavailableError", err)
	}
	// The cached key keeps working, and the next minute has no fetch.
	checkErr(t, v.Verify(ctx, jwtHeaders(handToken(t, k.lago, vector1Body, "")), []byte(vector1Body)), "")
	checkErr(t, v.Verify(ctx, forged, []byte(vector1Body)), "jwt: signature mismatch")
	if n := ks.hits.Load(); n != 2 {
		t.Fatalf("key server hit %d times, want 2", n)
	}
}

func TestLagoJWTContextCancelledWhileWaiting(t *testing.T) {
	k := keys()
	ks := newKeyServer(t, &k.lago.PublicKey)
	ks.setBlock(true)
	v, err := LagoJWT(LagoJWTOptions{KeyURL: secret.URL(ks.URL + "/api/v1/webhooks/public_key"), APIKey: lagoAPIKey, HTTPClient: ks.Client()})
	if err != nil {
		t.Fatal(err)
	}
	good := jwtHeaders(handToken(t, k.lago, vector1Body, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- v.Verify(ctx, good, []byte(vector1Body))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify: %v, want *UnavailableError wrapping the deadline", err)
		}
	}
}

func TestLagoJWTConfigErrors(t *testing.T) {
	k := keys()
	pemText := publicPEM(t, &k.lago.PublicKey)
	tests := []struct {
		name string
		opts LagoJWTOptions
		want string
	}{
		{"nothing", LagoJWTOptions{}, "needs a public key or a key URL"},
		{"both", LagoJWTOptions{PublicKey: secret.String(pemText), KeyURL: "https://lago.example.com/api/v1/webhooks/public_key", APIKey: lagoAPIKey}, "not both"},
		{"not a key", LagoJWTOptions{PublicKey: "hello world, not a key!"}, "neither PEM nor base64"},
		{"EC key", LagoJWTOptions{PublicKey: secret.String(encode64(publicPEM(t, &k.ec.PublicKey)))}, "not an RSA key"},
		{"private key PEM", LagoJWTOptions{PublicKey: secret.String(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.lago)})))}, `PEM type "RSA PRIVATE KEY"`},
		{"URL without scheme", LagoJWTOptions{KeyURL: "lago.example.com/api/v1/webhooks/public_key?token=q-secret-7781", APIKey: lagoAPIKey}, "not an http(s) URL"},
		{"URL that does not parse", LagoJWTOptions{KeyURL: "http://user:pw-secret-5512@lago example.com/%zz?token=q-secret-7781", APIKey: lagoAPIKey}, "not an http(s) URL"},
		{"URL without API key", LagoJWTOptions{KeyURL: "https://lago.example.com/api/v1/webhooks/public_key"}, "needs an API key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := LagoJWT(tc.opts)
			if err == nil || v != nil {
				t.Fatalf("LagoJWT = %v, %v; want an error", v, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LagoJWT: %q, want it to contain %q", err, tc.want)
			}
			assertSafe(t, err, "q-secret-7781", "pw-secret-5512", lagoAPIKey, "MII")
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	k := keys()
	pub := &k.lago.PublicKey
	pemText := publicPEM(t, pub)
	pkixDER, _ := x509.MarshalPKIXPublicKey(pub)
	pkcs1PEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}))
	tests := []struct {
		name string
		in   string
		want string // "" means it parses to the key
	}{
		{"Base64.encode64 of PEM", encode64(pemText), ""},
		{"base64 of PEM, one line", base64.StdEncoding.EncodeToString([]byte(pemText)), ""},
		{"base64 of PEM with CRLF and indentation", "  " + strings.ReplaceAll(encode64(pemText), "\n", "\r\n  "), ""},
		{"base64 of PEM without padding", base64.RawStdEncoding.EncodeToString([]byte(pemText)), ""},
		{"plain PEM", pemText, ""},
		{"PEM with literal \\n", strings.ReplaceAll(pemText, "\n", `\n`), ""},
		{"base64 with literal \\n", strings.ReplaceAll(encode64(pemText), "\n", `\n`), ""},
		{"PEM with surrounding blank lines", "\n\n" + pemText + "\n\n", ""},
		{"PKCS#1 PEM", pkcs1PEM, ""},
		{"base64 DER", base64.StdEncoding.EncodeToString(pkixDER), ""},
		{"empty", " \n\t", "public key is empty"},
		{"garbage", "not a key at all", "neither PEM nor base64"},
		{"base64 of text", base64.StdEncoding.EncodeToString([]byte("garbage")), "neither PEM nor base64"},
		{"base64 of bad DER", base64.StdEncoding.EncodeToString([]byte{0x30, 0x82, 0x01, 0x22, 0x30}), "parse public key"},
		{"truncated PEM", pemText[:len(pemText)/2], "malformed PEM"},
		{"certificate type", strings.ReplaceAll(pemText, "PUBLIC KEY", "CERTIFICATE"), `PEM type "CERTIFICATE"`},
		{"EC key", publicPEM(t, &k.ec.PublicKey), "not an RSA key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKey(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParsePublicKey: %v", err)
				}
				if !got.Equal(pub) {
					t.Fatal("ParsePublicKey returned a different key")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParsePublicKey: %v, want an error containing %q", err, tc.want)
			}
			assertSafe(t, err, "MII", strings.TrimSpace(tc.in))
		})
	}
}

// largeBody is a Lago-shaped JSON body of at least n bytes.
func largeBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"webhook_type":"invoice.created","object_type":"invoice","organization_id":"1a901a90-1a90-1a90-1a90-1a901a901a90","invoice":{"lago_id":"0d3b9b4e-7a55-4c49-9d1a-2f6d7e5c3b10","fees":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"lago_id":"fee-%06d","amount_cents":%d,"item":{"type":"charge","code":"api_calls","name":"API calls \u003e 1000"},"units":"%d.0"}`, i, i*7, i)
	}
	b.WriteString(`]}}`)
	return b.String()
}

func TestLagoJWTLargeBody(t *testing.T) {
	k := keys()
	v, err := LagoJWT(LagoJWTOptions{PublicKey: secret.String(encode64(publicPEM(t, &k.lago.PublicKey))), Issuer: lagoIssuer})
	if err != nil {
		t.Fatal(err)
	}
	// A real server with Go's default MaxHeaderBytes (1 MiB) in front of the
	// verifier: the whole body travels in X-Lago-Signature.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Context(), r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"200 KB fits in the header limit", 200 << 10, http.StatusAccepted},
		{"800 KB exceeds Go's 1 MiB header limit", 800 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := largeBody(tc.size)
			token := handToken(t, k.lago, body, lagoIssuer)
			ratio := float64(len(token)) / float64(len(body))
			t.Logf("body %d bytes, X-Lago-Signature %d bytes (%.2fx)", len(body), len(token), ratio)
			if ratio < 1.3 || ratio > 1.8 {
				t.Errorf("header/body ratio %.2f, want 4/3 plus JSON escaping (about 1.4-1.7)", ratio)
			}
			if tc.status == http.StatusAccepted {
				checkErr(t, v.Verify(context.Background(), jwtHeaders(token), []byte(body)), "")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = jwtHeaders(token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, bytes.TrimSpace(msg), tc.status)
			}
		})
	}
}

// --- generic HMAC, Standard Webhooks, bearer ---

func TestGenericHMAC(t *testing.T) {
	const key = "generic-secret-0b8e41"
	body := `{"event":"invoice.paid","id":"evt_1"}`
	hexOf := func(h func() hash.Hash, k, b string) string { return hex.EncodeToString(hmacBytes(h, k, b)) }
	b64Of := func(h func() hash.Hash, k, b string) string {
		return base64.StdEncoding.EncodeToString(hmacBytes(h, k, b))
	}
	github := HMACOptions{Secret: "It's a Secret to Everybody", Header: "X-Hub-Signature-256", Prefix: "sha256="}
	sha1b64 := HMACOptions{Secret: key, Hash: "sha1", Encoding: "base64"}
	sha512hex := HMACOptions{Secret: key, Hash: "sha512", Header: "x-body-signature"}
	hdr := func(name, value string) http.Header {
		h := http.Header{}
		h.Set(name, value)
		return h
	}
	tests := []struct {
		name string
		opts HMACOptions
		body string
		h    http.Header
		want string
	}{
		// GitHub's published example (docs: validating webhook deliveries).
		{"sha256 hex with prefix", github, "Hello, World!", hdr("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), ""},
		{"upper-case hex", github, "Hello, World!", hdr("X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"), ""},
		{"prefix missing", github, "Hello, World!", hdr("X-Hub-Signature-256", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), `X-Hub-Signature-256 does not start with "sha256="`},
		{"body changed", github, "Hello, World?", hdr("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), "signature mismatch"},
		{"sha1 signature on sha256 source", github, "Hello, World!", hdr("X-Hub-Signature-256", "sha256="+hexOf(sha1.New, "It's a Secret to Everybody", "Hello, World!")), "signature mismatch"},
		{"not hex", github, "Hello, World!", hdr("X-Hub-Signature-256", "sha256="+b64Of(sha256.New, "It's a Secret to Everybody", "Hello, World!")), "X-Hub-Signature-256 is not hex"},
		{"missing header", github, "Hello, World!", http.Header{}, "missing X-Hub-Signature-256"},
		{"base64 sha1", sha1b64, body, hdr("X-Signature", b64Of(sha1.New, key, body)), ""},
		{"base64 sha1 wrong secret", sha1b64, body, hdr("X-Signature", b64Of(sha1.New, key+"x", body)), "signature mismatch"},
		{"base64 sha1 body changed", sha1b64, body + " ", hdr("X-Signature", b64Of(sha1.New, key, body)), "signature mismatch"},
		{"hex on a base64 source", sha1b64, body, hdr("X-Signature", hexOf(sha1.New, key, body)+"!"), "X-Signature is not base64"},
		{"sha512 hex", sha512hex, body, hdr("X-Body-Signature", hexOf(sha512.New, key, body)), ""},
		{"sha256 on a sha512 source", sha512hex, body, hdr("X-Body-Signature", hexOf(sha256.New, key, body)), "signature mismatch"},
		{"truncated sha512", sha512hex, body, hdr("X-Body-Signature", hexOf(sha512.New, key, body)[:64]), "signature mismatch"},
		{"empty body signed", sha512hex, "", hdr("X-Body-Signature", hexOf(sha512.New, key, "")), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := GenericHMAC(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(context.Background(), tc.h, []byte(tc.body))
			checkErr(t, err, tc.want)
			k := tc.opts.Secret.Reveal()
			assertSafe(t, err, k,
				hexOf(sha256.New, k, tc.body), hexOf(sha1.New, k, tc.body), hexOf(sha512.New, k, tc.body),
				b64Of(sha256.New, k, tc.body), b64Of(sha1.New, k, tc.body), b64Of(sha512.New, k, tc.body))
		})
	}
}

func TestGenericHMACConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		opts HMACOptions
		want string
	}{
		{"empty secret", HMACOptions{}, "secret is empty"},
		{"unknown hash", HMACOptions{Secret: "s3cret-value", Hash: "md5"}, `unknown hash "md5"`},
		{"unknown encoding", HMACOptions{Secret: "s3cret-value", Encoding: "base32"}, `unknown encoding "base32"`},
		{"bad header name", HMACOptions{Secret: "s3cret-value", Header: "X Signature"}, "not a header name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenericHMAC(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GenericHMAC: %v, want an error containing %q", err, tc.want)
			}
			assertSafe(t, err, "s3cret-value")
		})
	}
}

func TestStandardWebhooks(t *testing.T) {
	// The Standard Webhooks specification's example.
	const specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const specBody = `{"test": 2432232314}`
	specTime := time.Unix(1614265330, 0)
	swHeaders := func(id string, ts time.Time, sig string) http.Header {
		h := http.Header{}
		h.Set(standardwebhooks.HeaderID, id)
		h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(standardwebhooks.HeaderSignature, sig)
		return h
	}
	specKey, err := standardwebhooks.ParseKey(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := standardwebhooks.Key(bytes.Repeat([]byte{7}, 24))
	const specSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	tests := []struct {
		name string
		now  time.Time
		body string
		h    http.Header
		want string
	}{
		{"specification example", specTime, specBody, swHeaders(id, specTime, specSig), ""},
		{"within tolerance", specTime.Add(4 * time.Minute), specBody, swHeaders(id, specTime, specSig), ""},
		{"expired", specTime.Add(6 * time.Minute), specBody, swHeaders(id, specTime, specSig), "webhook-timestamp outside the tolerance"},
		{"from the future", specTime.Add(-6 * time.Minute), specBody, swHeaders(id, specTime, specSig), "webhook-timestamp outside the tolerance"},
		{"tampered body", specTime, `{"test": 2432232315}`, swHeaders(id, specTime, specSig), "no matching webhook-signature"},
		{"tampered id", specTime, specBody, swHeaders("msg_other", specTime, specSig), "no matching webhook-signature"},
		{"tampered timestamp", specTime.Add(time.Second), specBody, swHeaders(id, specTime.Add(time.Second), specSig), "no matching webhook-signature"},
		{"other secret", specTime, specBody, swHeaders(id, specTime, otherKey.Sign(id, specTime, []byte(specBody))), "no matching webhook-signature"},
		{"several signatures, one valid", specTime, specBody, swHeaders(id, specTime, otherKey.Sign(id, specTime, []byte(specBody))+" "+specSig), ""},
		{"unknown version", specTime, specBody, swHeaders(id, specTime, strings.Replace(specSig, "v1,", "v2,", 1)), "no matching webhook-signature"},
		{"missing headers", specTime, specBody, http.Header{}, "missing webhook-id"},
		{"timestamp not a number", specTime, specBody, func() http.Header {
			h := swHeaders(id, specTime, specSig)
			h.Set(standardwebhooks.HeaderTimestamp, "yesterday")
			return h
		}(), "not a unix time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := StandardWebhooks(specSecret, standardwebhooks.DefaultTolerance, WithClock(func() time.Time { return tc.now }))
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(context.Background(), tc.h, []byte(tc.body))
			checkErr(t, err, tc.want)
			assertSafe(t, err, specSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", specSig[3:],
				specKey.Sign(tc.h.Get(standardwebhooks.HeaderID), tc.now, []byte(tc.body))[3:])
		})
	}
}

func TestStandardWebhooksConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		secret secret.String
		want   string
	}{
		{"empty", "", "secret is empty"},
		{"not base64", "whsec_not*base64!", "not whsec_ followed by base64"},
		{"too short", "whsec_" + secret.String(base64.StdEncoding.EncodeToString([]byte("short"))), "shorter than 16 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StandardWebhooks(tc.secret, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StandardWebhooks: %v, want an error containing %q", err, tc.want)
			}
			assertSafe(t, err, strings.TrimPrefix(tc.secret.Reveal(), "whsec_"))
		})
	}
}

func TestStandardWebhooksDefaultTolerance(t *testing.T) {
	key := standardwebhooks.Key(bytes.Repeat([]byte{9}, 32))
	secretText := secret.String("whsec_" + base64.StdEncoding.EncodeToString(key))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v, err := StandardWebhooks(secretText, 0, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		age  time.Duration
		want string
	}{
		{"4m59s old", 4*time.Minute + 59*time.Second, ""},
		{"5m01s old", 5*time.Minute + time.Second, "outside the tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := now.Add(-tc.age)
			h := http.Header{}
			h.Set(standardwebhooks.HeaderID, "msg_1")
			h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
			h.Set(standardwebhooks.HeaderSignature, key.Sign("msg_1", ts, []byte("{}")))
			checkErr(t, v.Verify(context.Background(), h, []byte("{}")), tc.want)
		})
	}
}

func TestBearer(t *testing.T) {
	const token = "bearer-token-9d7c55e1"
	auth := func(v ...string) http.Header {
		h := http.Header{}
		for _, s := range v {
			h.Add("Authorization", s)
		}
		return h
	}
	tests := []struct {
		name  string
		token secret.String
		h     http.Header
		want  string
	}{
		{"ok", token, auth("Bearer " + token), ""},
		{"scheme in lower case", token, auth("bearer " + token), ""},
		{"extra spaces", token, auth("Bearer   " + token + " "), ""},
		{"wrong token", token, auth("Bearer bearer-token-9d7c55e2"), "bearer token mismatch"},
		{"prefix of the token", token, auth("Bearer bearer-token"), "bearer token mismatch"},
		{"token plus suffix", token, auth("Bearer " + token + "x"), "bearer token mismatch"},
		{"empty token", token, auth("Bearer "), "bearer token mismatch"},
		{"missing", token, auth(), "missing Authorization"},
		{"Basic", token, auth("Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+token))), "Authorization is not Bearer"},
		{"token without scheme", token, auth(token), "Authorization is not Bearer"},
		{"two Authorization headers", token, auth("Bearer nope", "Bearer "+token), "more than one Authorization header"},
		{"no token configured", "", auth("Bearer "), "no bearer token configured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Bearer(tc.token).Verify(context.Background(), tc.h, []byte("{}"))
			checkErr(t, err, tc.want)
			assertSafe(t, err, token)
		})
	}
}

// --- fuzzing ---

// Verifier kinds exercised by FuzzVerify.
const (
	fuzzLagoHMAC = iota
	fuzzLagoJWT
	fuzzGenericHex
	fuzzGenericBase64
	fuzzStandardWebhooks
	fuzzBearer
	fuzzKinds
)

// fuzzRig holds one verifier of each kind and knows how to sign for it.
type fuzzRig struct {
	verifiers [fuzzKinds]Verifier
	jwtKey    *rsa.PrivateKey
	swKey     standardwebhooks.Key
	now       time.Time
	secrets   []string
}

const (
	fuzzGenericSecret = "fuzz-generic-secret-51c1"
	fuzzBearerToken   = "fuzz-bearer-token-0a9d"
)

func newFuzzRig(t testing.TB) *fuzzRig {
	k := keys()
	r := &fuzzRig{jwtKey: k.lago, swKey: standardwebhooks.Key(bytes.Repeat([]byte{0x5a}, 32)), now: time.Unix(1772366400, 0)}
	swSecret := "whsec_" + base64.StdEncoding.EncodeToString(r.swKey)
	must := func(v Verifier, err error) Verifier {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	r.verifiers[fuzzLagoHMAC] = LagoHMAC(lagoSecret)
	r.verifiers[fuzzLagoJWT] = must(LagoJWT(LagoJWTOptions{PublicKey: secret.String(encode64(publicPEM(t, &k.lago.PublicKey))), Issuer: lagoIssuer}))
	r.verifiers[fuzzGenericHex] = must(GenericHMAC(HMACOptions{Secret: fuzzGenericSecret, Prefix: "sha256="}))
	r.verifiers[fuzzGenericBase64] = must(GenericHMAC(HMACOptions{Secret: fuzzGenericSecret, Hash: "sha1", Encoding: "base64"}))
	r.verifiers[fuzzStandardWebhooks] = must(StandardWebhooks(secret.String(swSecret), 0, WithClock(func() time.Time { return r.now })))
	r.verifiers[fuzzBearer] = Bearer(fuzzBearerToken)
	r.secrets = []string{lagoSecret, fuzzGenericSecret, fuzzBearerToken, swSecret[len("whsec_"):]}
	return r
}

// headers builds a request's headers for kind from two fuzzed values: the
// signature and an auxiliary header (Lago's algorithm, the Standard Webhooks
// timestamp).
func (r *fuzzRig) headers(kind int, sig, aux string) http.Header {
	h := http.Header{}
	switch kind {
	case fuzzLagoHMAC, fuzzLagoJWT:
		h.Set(HeaderLagoSignature, sig)
		if aux != "" {
			h.Set(HeaderLagoAlgorithm, aux)
		}
	case fuzzGenericHex, fuzzGenericBase64:
		h.Set(DefaultHMACHeader, sig)
	case fuzzStandardWebhooks:
		h.Set(standardwebhooks.HeaderID, "msg_fuzz")
		h.Set(standardwebhooks.HeaderTimestamp, aux)
		h.Set(standardwebhooks.HeaderSignature, sig)
	case fuzzBearer:
		h.Set("Authorization", sig)
	}
	return h
}

// signed returns the signature and auxiliary header a genuine sender of kind
// would send with body.
func (r *fuzzRig) signed(t testing.TB, kind int, body []byte) (sig, aux string) {
	switch kind {
	case fuzzLagoHMAC:
		return lagoSig(lagoSecret, string(body)), "hmac"
	case fuzzLagoJWT:
		return handToken(t, r.jwtKey, string(body), lagoIssuer), "jwt"
	case fuzzGenericHex:
		return "sha256=" + hex.EncodeToString(hmacBytes(sha256.New, fuzzGenericSecret, string(body))), ""
	case fuzzGenericBase64:
		return base64.StdEncoding.EncodeToString(hmacBytes(sha1.New, fuzzGenericSecret, string(body))), ""
	case fuzzStandardWebhooks:
		return r.swKey.Sign("msg_fuzz", r.now, body), strconv.FormatInt(r.now.Unix(), 10)
	default:
		return "Bearer " + fuzzBearerToken, ""
	}
}

// mutate returns body with one byte changed or, when pos points past the
// end, one byte appended. The result always differs from body.
func mutate(body []byte, pos uint16) []byte {
	out := bytes.Clone(body)
	i := int(pos) % (len(body) + 1)
	if i == len(body) {
		return append(out, '\n')
	}
	out[i] ^= 0x20
	return out
}

func FuzzVerify(f *testing.F) {
	rig := newFuzzRig(f)
	f.Add(uint8(fuzzLagoHMAC), vector1Sig, "hmac", []byte(vector1Body), uint16(57))
	f.Add(uint8(fuzzLagoHMAC), vector2Sig, "hmac", []byte(vector2Body), uint16(400))
	f.Add(uint8(fuzzLagoHMAC), vector2Reencoded, "hmac", []byte(vector2Body), uint16(0))
	f.Add(uint8(fuzzLagoHMAC), vector1Sig, "", []byte(vector1Body), uint16(301))
	for _, body := range []string{vector1Body, vector2Body} {
		for kind := range fuzzKinds {
			sig, aux := rig.signed(f, kind, []byte(body))
			f.Add(uint8(kind), sig, aux, []byte(body), uint16(len(body)/2))
		}
	}
	f.Add(uint8(fuzzLagoJWT), "eyJhbGciOiJub25lIn0.e30.", "jwt", []byte("{}"), uint16(1))
	f.Add(uint8(fuzzLagoJWT), "a.b.c", "", []byte(""), uint16(0))
	f.Add(uint8(fuzzGenericHex), "sha256=zz", "", []byte("x"), uint16(0))
	f.Add(uint8(fuzzStandardWebhooks), "v1,AAAA v1 ,", "-1", []byte{0xff, 0xfe}, uint16(9))
	f.Add(uint8(fuzzBearer), "Bearer", "", []byte(nil), uint16(0))

	f.Fuzz(func(t *testing.T, kindByte uint8, sig, aux string, body []byte, pos uint16) {
		kind := int(kindByte) % fuzzKinds
		v := rig.verifiers[kind]
		ctx := context.Background()
		coversBody := kind != fuzzBearer

		// Arbitrary headers: no panic, no leaked secret, and an accepted
		// request stops being accepted once its body changes.
		h := rig.headers(kind, sig, aux)
		err := v.Verify(ctx, h, body)
		assertSafe(t, err, rig.secrets...)
		if err == nil && coversBody {
			if err := v.Verify(ctx, h, mutate(body, pos)); err == nil {
				t.Fatalf("kind %d: fuzzed headers verify both a body and its mutation", kind)
			}
		}

		// A genuine signature passes for its body and fails for any mutation.
		if kind == fuzzLagoJWT && !utf8.Valid(body) {
			return // a JSON claim cannot carry invalid UTF-8, and Lago's bodies are JSON
		}
		sig, aux = rig.signed(t, kind, body)
		h = rig.headers(kind, sig, aux)
		if err := v.Verify(ctx, h, body); err != nil {
			t.Fatalf("kind %d: genuine signature rejected: %v", kind, err)
		}
		if coversBody {
			if err := v.Verify(ctx, h, mutate(body, pos)); err == nil {
				t.Fatalf("kind %d: genuine signature accepted for a mutated body", kind)
			}
		}
	})
}
