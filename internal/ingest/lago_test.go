package ingest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

const (
	pinnedOrg = "0a0a0a0a-1111-4222-8333-444455556666"
	otherOrg  = "0b0b0b0b-7777-4888-9999-aaaabbbbcccc"
)

// lagoJWT signs body the way Lago does: {"alg":"RS256"} over
// {"data": body, "iss": issuer}.
func lagoJWT(t testing.TB, key *rsa.PrivateKey, body string) string {
	t.Helper()
	claims, err := json.Marshal(map[string]string{"data": body, "iss": "https://api.getlago.com"})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func loadRules(t testing.TB, rules string) *router.Ruleset {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestLagoOrganizationPinning: Lago signs every tenant's JWT webhooks with
// the instance's one key, so a correctly signed message from another
// organization must be refused (401, logged with the reason), and one from
// the pinned organization accepted.
func TestLagoOrganizationPinning(t *testing.T) {
	key, pemKey := testkit.RSAKey(t)
	pub := base64.StdEncoding.EncodeToString([]byte(pemKey))
	rs := loadRules(t, `
sources:
  lago:
    lago:
      jwt_public_key: "`+pub+`"
      organization_id: `+pinnedOrg+`
  lago-hmac:
    lago:
      hmac_secret: "`+secret+`"
      organization_id: [`+otherOrg+`, `+pinnedOrg+`]
rules:
  - name: all
    when: "true"
    send: [{to: hook}]
channels:
  hook:
    http: {url: "http://127.0.0.1:1/in"}
`)
	var logs testkit.LogBuffer
	rec := &recorder{}
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	body := func(org string) string {
		return `{"webhook_type":"wallet.created","object_type":"wallet","organization_id":"` + org + `","wallet":{"lago_id":"w1"}}`
	}
	jwtH := func(b, uniq string) map[string]string {
		return map[string]string{"X-Lago-Signature": lagoJWT(t, key, b), "X-Lago-Signature-Algorithm": "jwt", "X-Lago-Unique-Key": uniq}
	}
	hmacH := func(b, uniq string) map[string]string {
		return map[string]string{"X-Lago-Signature": sign(b), "X-Lago-Signature-Algorithm": "hmac", "X-Lago-Unique-Key": uniq}
	}
	noOrg := `{"webhook_type":"wallet.created","object_type":"wallet","wallet":{"lago_id":"w1"}}`
	tests := []struct {
		name, path, body string
		headers          map[string]string
		code             int
		reason           string
	}{
		{"jwt from another organization", "/webhooks/lago", body(otherOrg), jwtH(body(otherOrg), "u1"), 401, "organization_id not accepted"},
		{"jwt without organization_id", "/webhooks/lago", noOrg, jwtH(noOrg, "u2"), 401, "no organization_id"},
		{"jwt from the pinned organization", "/webhooks/lago", body(pinnedOrg), jwtH(body(pinnedOrg), "u3"), 202, "queued"},
		{"bad signature is still a signature error", "/webhooks/lago", body(pinnedOrg), jwtH(body(otherOrg), "u4"), 401, "does not match body"},
		{"hmac, listed organizations", "/webhooks/lago-hmac", body(otherOrg), hmacH(body(otherOrg), "u5"), 202, "queued"},
		{"hmac, unlisted organization", "/webhooks/lago-hmac", body("0c0c0c0c-0000-4000-8000-000000000000"),
			hmacH(body("0c0c0c0c-0000-4000-8000-000000000000"), "u6"), 401, "organization_id not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(h, "POST", tt.path, tt.body, tt.headers)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.reason) {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body, tt.code, tt.reason)
			}
		})
	}
	if len(rec.msgs) != 2 {
		t.Fatalf("%d messages committed, want 2", len(rec.msgs))
	}
	log := logs.String()
	want := fmt.Sprintf("organization_id=%s accepted=[%s] unique_key=u1", otherOrg, pinnedOrg)
	if !strings.Contains(log, "does not accept") || !strings.Contains(log, want) {
		t.Fatalf("log lacks the reason %q:\n%s", want, log)
	}
}

// largeInvoice is a signed-size invoice.created: n fees of about 3 KB each,
// as Lago serializes them.
func largeInvoice(n int) string {
	var b strings.Builder
	b.WriteString(`{"webhook_type":"invoice.created","object_type":"invoice","organization_id":"` + pinnedOrg +
		`","invoice":{"lago_id":"1d1d1d1d-0000-4000-8000-000000000001","number":"ACME-2025-0600","currency":"EUR","total_amount_cents":60000000,"fees":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"lago_id":"fee-%06d","amount_cents":100000,"item":{"type":"charge","code":"api_calls_%d","name":"API calls","description":"%s"}}`,
			i, i, strings.Repeat("d", 2900))
	}
	b.WriteString(`]}}`)
	return b.String()
}

// TestLargeInvoiceOnDefaults: an invoice.created with 600 fees (about
// 1.9 MB) is accepted by a lago source with no max_body set, with either
// signature; a generic source keeps the 1 MiB default.
func TestLargeInvoiceOnDefaults(t *testing.T) {
	key, pub := testkit.RSAKey(t)
	rs := loadRules(t, `
sources:
  lago:
    lago: {hmac_secret: "`+secret+`"}
  lago-jwt:
    lago:
      jwt_public_key: |
`+indent(pub, "        ")+`
      organization_id: `+pinnedOrg+`
  other: {}
rules:
  - name: big
    when: invoice?.total_amount_cents >= 1000000
    send: [{to: hook, message: "{{ .invoice.number }}: {{ money .invoice.total_amount_cents .invoice.currency }}"}]
channels:
  hook:
    http: {url: "http://127.0.0.1:1/in"}
`)
	if got := rs.Sources["lago"].MaxBody; got != 8<<20 {
		t.Fatalf("lago max_body %d", got)
	}
	if got := rs.Sources["other"].MaxBody; got != router.DefaultMaxBody {
		t.Fatalf("generic max_body %d", got)
	}
	rec := &recorder{}
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test"})
	body := largeInvoice(600)
	if len(body) < 1_800_000 || len(body) > 2_100_000 {
		t.Fatalf("body is %d bytes, want about 2 MB", len(body))
	}
	w := serve(h, "POST", "/webhooks/lago", body, map[string]string{
		"X-Lago-Signature": sign(body), "X-Lago-Signature-Algorithm": "hmac", "X-Lago-Unique-Key": "big-1"})
	if w.Code != 202 || !strings.Contains(w.Body.String(), `"deliveries":1`) {
		t.Fatalf("hmac: %d %s", w.Code, w.Body)
	}
	w = serve(h, "POST", "/webhooks/lago-jwt", body, map[string]string{
		"X-Lago-Signature": lagoJWT(t, key, body), "X-Lago-Signature-Algorithm": "jwt", "X-Lago-Unique-Key": "big-2"})
	if w.Code != 202 {
		t.Fatalf("jwt: %d %s", w.Code, w.Body)
	}
	if w := serve(h, "POST", "/webhooks/other", body, nil); w.Code != 413 {
		t.Fatalf("generic source: %d, want 413", w.Code)
	}
	if len(rec.msgs) != 2 || len(rec.msgs[0].Body) != len(body) {
		t.Fatalf("%d messages committed", len(rec.msgs))
	}
	if text := rec.dels[0][0].Parts.Body; text != "ACME-2025-0600: €600,000.00" {
		t.Fatalf("rendered %q", text)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
