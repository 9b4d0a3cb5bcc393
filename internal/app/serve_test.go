package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // read the store's file after Serve returns

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

var hostileSeed = flag.Uint64("seed", 0, "seed of TestServeHostileInput's requests (0: a new one, printed)")

const (
	hostileLagoSecret  = "hostile-lago-hmac-5e1f0c77"
	hostileGenSecret   = "hostile-generic-hmac-a9d4e2"
	hostileAdminToken  = "hostile-admin-token-33b7f1-9a0c4e2d"
	hostileSmallMax    = 256
	hostileDefaultMax  = 1 << 20
	hostileCases       = 520
	hostileHugeHeader  = 900_000
	hostileUnknownName = "<unknown>"
)

// hostileRules has a Lago source with an HMAC secret, a generic source with
// HMAC verification and an idempotency header, and an unsigned generic
// source with a small body limit. Every accepted message is forwarded
// as is; Lago and generic ones also go through templates that put the
// message's webhook_type into a URL path, a query and a header.
func hostileRules(receiver string) string {
	return `
sources:
  lago:
    max_body: 1MiB   # as the generic sources: the cases share one limit
    lago:
      hmac_secret: "` + hostileLagoSecret + `"
  gen:
    generic:
      idempotency_header: X-Request-Id
      hmac: {secret: "` + hostileGenSecret + `", header: X-Signature, prefix: "sha256="}
  small:
    max_body: ` + strconv.Itoa(hostileSmallMax) + `
    generic: {}
channels:
  forward:
    http:
      url: "` + receiver + `/in"
  typed:
    http:
      url: "` + receiver + `/typed/{{ .webhook_type }}?t={{ .webhook_type }}"
      headers: {X-Type: "{{ .webhook_type }}"}
rules:
  - name: forward
    when: "true"
    send: [{to: forward}]
  - name: typed
    when: meta.source != "small"
    send:
      - to: typed
        message: "type={{ .webhook_type }} nonce={{ .nonce }}"
`
}

// hostileSource is what the test knows of a configured source.
type hostileSource struct {
	maxBody int
	signed  bool
	// key is the idempotency header, "" when there is none.
	key string
}

// send is one request and what must come of it.
type send struct {
	kind    string
	method  string
	target  string // request target as sent: escaped path and query
	header  http.Header
	body    []byte
	chunked bool

	// raw, when set, is written as is on a new connection, which is then
	// half-closed if halfClose is set.
	raw       []byte
	halfClose bool

	// want lists the statuses expected, in order: several only for raw
	// requests that hold more than one request.
	want []int
	// location is the expected Location of a 307.
	location string
	// protocol marks raw requests that net/http itself must refuse
	// before any handler runs (malformed HTTP).
	protocol bool
	// source and outcome are the messages_received_total labels the
	// ingest handler counts for this request ("" when it never runs).
	// With several requests on one connection they describe each.
	counted []metricKey
	// queued describes the message when the request must be queued (202);
	// with several requests on one connection, the one at queuedAt.
	queued   *queuedMsg
	queuedAt int
}

type metricKey struct{ source, outcome string }

// queuedMsg is a message the server must accept, store and deliver.
type queuedMsg struct {
	source string
	body   []byte
	// typed is set for messages the "typed" rule renders; webhookType and
	// nonce are what the templates read.
	typed       bool
	webhookType string
	nonce       string
	// id is the message ID from the 202 answer.
	id string
}

// answer is one response as received.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// outcome is what came back for one send.
type outcome struct {
	answers []answer
	err     error
}

// generator makes the random requests. It is used from one goroutine.
type generator struct {
	rng      *rand.Rand
	sources  map[string]hostileSource
	fixtures [][]byte
	seq      int
}

func (g *generator) intn(n int) int { return g.rng.IntN(n) }

func pick[T any](g *generator, vs ...T) T { return vs[g.intn(len(vs))] }

func (g *generator) next() string {
	g.seq++
	return fmt.Sprintf("n%05d", g.seq)
}

func (g *generator) knownSource() string {
	return pick(g, "lago", "gen", "small")
}

func (g *generator) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.intn(256))
	}
	return b
}

// printable returns n random printable ASCII characters.
func (g *generator) printable(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(' ' + g.intn(95))
	}
	return string(b)
}

func (g *generator) alnum(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.intn(len(chars))]
	}
	return string(b)
}

// percentEncode escapes every byte of s, in random letter case.
func (g *generator) percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		h := fmt.Sprintf("%%%02X", s[i])
		if g.intn(2) == 0 {
			h = strings.ToLower(h)
		}
		b.WriteString(h)
	}
	return b.String()
}

// segment escapes name as one path segment, so that the server's decoded
// segment is name again.
func (g *generator) segment(name string) string {
	e := url.PathEscape(name)
	if g.intn(4) == 0 || e == "." || e == ".." {
		e = g.percentEncode(name)
	}
	return e
}

// pathFor is the path of a known source, now and then spelled with
// percent-encoding or followed by a query: the handler must see the
// same source.
func (g *generator) pathFor(src string) string {
	p := "/webhooks/" + src
	switch g.intn(8) {
	case 0:
		p = "/webhooks/" + g.percentEncode(src)
	case 1:
		p += "?" + pick(g, "source=gen", "x=../../api", "a=%00%ff", "", strings.Repeat("q", 3000))
	}
	return p
}

// fixture returns a Lago fixture's bytes, trimmed.
func (g *generator) fixture() []byte {
	return g.fixtures[g.intn(len(g.fixtures))]
}

// hostileBody returns a body of one of many hostile shapes; limit is the
// body limit of the source it is meant for, to make oversized ones.
func (g *generator) hostileBody(limit int) []byte {
	switch g.intn(17) {
	case 0:
		return nil
	case 1:
		return g.randomBytes(g.intn(2048))
	case 2:
		return []byte(g.printable(g.intn(512)))
	case 3:
		return []byte(pick(g, `{"a":`, `{"a":1,}`, `{'a':1}`, `{"a":1}}`, `{"a":1} x`, `{"a" 1}`, `{a:1}`,
			`{"a":tru}`, `{"a":"\x"}`, `{"a":"unterminated}`, `{"a":1e999999}`, `{"a":-}`, "{\"a\":\"\x01\"}",
			"{\"a\":1}\x00", `{"a":01}`, `{"a":NaN}`, `{"a":.5}`, "\ufeff{}"))
	case 4:
		b := g.fixture()
		return b[:g.intn(len(b))]
	case 5:
		return []byte(pick(g, `[]`, `[{"webhook_type":"invoice.created"}]`, `"str"`, `1`, `-0.5e3`, `null`, `true`, `false`, `""`, ` `, `[null]`))
	case 6:
		n := 100 + g.intn(min(limit/2, 300_000))
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	case 7:
		// Deeper than encoding/json accepts.
		n := 10_001 + g.intn(20_000)
		return []byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
	case 8:
		n := 20 + g.intn(400)
		return []byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
	case 9:
		return []byte(pick(g, "{\"webhook_type\":\"\xff\xfe\",\"x\":\"\xc3\x28\"}", "\xef\xbb\xbf{\"a\":1}",
			"\xfe\xff\x00{\x00}", "{\"\xff\":1}", "\x00\x00\x00{"))
	case 10:
		n := limit + 1 + g.intn(32<<10)
		return []byte(`{"pad":"` + strings.Repeat("p", n) + `"}`)
	case 11:
		return []byte(`{"a":123456789012345678901234567890,"b":-1e308,"c":"\u0000\ud800\udfff\ud800","d":1E+2}`)
	case 12:
		return []byte(`{"webhook_type":"a","webhook_type":{"x":1},"__proto__":{"admin":true},"constructor":null}`)
	case 13:
		var b strings.Builder
		b.WriteString("{")
		for i := range 2000 + g.intn(3000) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		b.WriteString("}")
		return []byte(b.String())
	case 14:
		return []byte(fmt.Sprintf(`{"webhook_type":%q,"n":%d}`, g.printable(g.intn(40)), g.intn(1000)))
	case 15:
		return []byte(`{"s":"` + strings.Repeat(`\\`, g.intn(100)) + `","u":"\u00e9\u65e5\ud83d\ude80"}`)
	default:
		return []byte(`{}`)
	}
}

func isDotSegment(s string) bool { return s == "." || s == ".." }

// hostileTypes are webhook_type values that must reach URLs, headers and
// bodies as data, never as structure.
func hostileTypes() []string {
	return []string{
		"invoice.created", "..", ".", "../../admin", "a/b", "%2e%2e%2f", "?x=1#frag", "line\r\nX-Injected: yes",
		"tab\there", "<script>alert(1)</script>", "{{ .nonce }}", "${LAGO_WEBHOOK_SECRET}", "unicode-é-日本-🚀",
		"nul\x00byte", strings.Repeat("w", 5000), "", " spaced ", "semi;colon,comma", "quote\"'`", "back\\slash",
	}
}

func lagoSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func genericMAC(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

func isObject(body []byte) bool {
	var m map[string]any
	return json.Unmarshal(body, &m) == nil && m != nil
}

// expect is DESIGN §4's order of checks for a request that reaches the
// ingest handler.
func (g *generator) expect(method, src string, body []byte, signed, duplicate bool) (int, metricKey) {
	s, ok := g.sources[src]
	switch {
	case !ok:
		return http.StatusNotFound, metricKey{hostileUnknownName, "unknown_source"}
	case method != http.MethodPost:
		return http.StatusMethodNotAllowed, metricKey{src, "bad_request"}
	case len(body) > s.maxBody:
		return http.StatusRequestEntityTooLarge, metricKey{src, "too_large"}
	case s.signed && !signed:
		return http.StatusUnauthorized, metricKey{src, "unauthorized"}
	case !isObject(body):
		return http.StatusBadRequest, metricKey{src, "bad_request"}
	case duplicate:
		return http.StatusOK, metricKey{src, "duplicate"}
	}
	return http.StatusAccepted, metricKey{src, "queued"}
}

// finish fills in what the ingest handler must answer to s.
func (g *generator) finish(s *send, src string, signed bool) *send {
	code, key := g.expect(s.method, src, s.body, signed, false)
	s.want = []int{code}
	s.counted = []metricKey{key}
	if code == http.StatusAccepted {
		s.queued = g.queuedFor(src, s.body)
	}
	return s
}

func (g *generator) queuedFor(src string, body []byte) *queuedMsg {
	q := &queuedMsg{source: src, body: body, typed: src != "small"}
	if q.typed {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		q.webhookType, _ = m["webhook_type"].(string)
		q.nonce, _ = m["nonce"].(string)
	}
	return q
}

// noise adds random headers: garbage, misleading and, now and then, a
// 1.5 MB one.
func (g *generator) noise(h http.Header) {
	for range g.intn(4) {
		v := []byte(g.printable(g.intn(80)))
		if g.intn(4) == 0 {
			v = append(v, byte(0x80+g.intn(0x80)))
		}
		h.Add("X-N-"+g.alnum(1+g.intn(12)), string(v))
	}
	switch g.intn(12) {
	case 0:
		h.Set("Content-Type", pick(g, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "garbage/;;;"))
	case 1:
		h.Set("Content-Encoding", "gzip")
	case 2:
		h.Set("Expect", "100-continue")
	case 3:
		h.Set("Connection", "close")
	case 4:
		h.Set("X-Forwarded-For", "10.0.0.1, 127.0.0.1")
		h.Set("X-Forwarded-Host", "evil.example")
	}
	if g.intn(50) == 0 {
		h.Set("X-Huge", strings.Repeat("h", hostileHugeHeader))
	}
}

func (g *generator) newSend(kind, method, target string, body []byte) *send {
	s := &send{kind: kind, method: method, target: target, header: http.Header{}, body: body, chunked: g.intn(6) == 0}
	g.noise(s.header)
	return s
}

func (g *generator) unknownSource() []*send {
	name := pick(g,
		"x-"+g.alnum(1+g.intn(30)),
		"x"+g.alnum(1000+g.intn(60_000)),
		"\x00"+string(g.randomBytes(1+g.intn(20))),
		"日本-🚀", "..", ".", "../api/v1/status", "lago/..", "lago\x00", "lago ", " lago", "LAGO", "Lago", "lago.",
		"lago\n", "gen/../small", "%2e%2e", "webhooks", "-", "_",
	)
	method := http.MethodPost
	if g.intn(4) == 0 {
		method = pick(g, http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead, "PROPFIND")
	}
	body := g.hostileBody(64 << 10)
	s := g.newSend("unknown source", method, "/webhooks/"+g.segment(name), body)
	return []*send{g.finish(s, name, false)}
}

// cleanPath is net/http's ServeMux canonical form of a path.
func cleanPath(p string) string {
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

func (g *generator) uncleanPath() []*send {
	p := pick(g, "/webhooks/../webhooks/lago", "/webhooks/./lago", "//webhooks/lago", "/webhooks//lago",
		"/webhooks/lago/..", "/webhooks/lago/.", "/webhooks/../api/v1/status", "/webhooks/../../../../etc/passwd",
		"/webhooks/..", "/webhooks/small/../gen", "//evil.example/webhooks/lago", "/webhooks/x/../../-/reload")
	s := g.newSend("unclean path", pick(g, http.MethodPost, http.MethodPost, http.MethodGet), p, g.hostileBody(4096))
	s.want = []int{http.StatusTemporaryRedirect}
	s.location = cleanPath(p)
	return []*send{s}
}

func (g *generator) noRoute() []*send {
	p := pick(g, "/webhooks/", "/webhooks", "/webhooks/lago/", "/webhooks/lago/extra", "/webhooks/gen/x/y",
		"/webhook/lago", "/WEBHOOKS/lago", "/webhooks/lago/%2e%2e/api")
	s := g.newSend("no route", http.MethodPost, p, g.hostileBody(4096))
	s.want = []int{http.StatusNotFound}
	return []*send{s}
}

func (g *generator) wrongMethod() []*send {
	src := g.knownSource()
	method := pick(g, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead,
		http.MethodOptions, http.MethodTrace, "PROPFIND", "FOO-BAR")
	s := g.newSend("wrong method", method, g.pathFor(src), g.hostileBody(4096))
	if src == "lago" {
		s.header.Set("X-Lago-Signature", lagoSignature(hostileLagoSecret, s.body))
		s.header.Set("X-Lago-Signature-Algorithm", "hmac")
	}
	return []*send{g.finish(s, src, true)}
}

func (g *generator) badLagoSignature() []*send {
	body := g.hostileBody(hostileDefaultMax)
	s := g.newSend("bad lago signature", http.MethodPost, g.pathFor("lago"), body)
	const sig, alg = "X-Lago-Signature", "X-Lago-Signature-Algorithm"
	right := lagoSignature(hostileLagoSecret, body)
	mac, _ := base64.StdEncoding.DecodeString(right)
	h := s.header
	switch g.intn(13) {
	case 0:
		// No signature at all.
	case 1:
		h.Set(sig, base64.StdEncoding.EncodeToString(g.randomBytes(32)))
		h.Set(alg, "hmac")
	case 2:
		h.Set(sig, g.printable(1+g.intn(200)))
	case 3:
		h.Set(sig, right) // no algorithm header: Lago's default is jwt
	case 4:
		h.Set(sig, right)
		h.Set(alg, pick(g, "jwt", "HMAC", "hmac-sha256", "", "none"))
	case 5:
		h.Set(sig, right)
		h[alg] = []string{"hmac", "hmac"}
	case 6:
		h.Set(sig, lagoSignature(hostileLagoSecret, append(bytes.Clone(body), ' ')))
		h.Set(alg, "hmac")
	case 7:
		h[sig] = []string{right, "bm9wZQ=="}
		if g.intn(2) == 0 {
			h[sig] = []string{"bm9wZQ==", right}
		}
		h.Set(alg, "hmac")
	case 8:
		h.Del("X-Huge") // one 0.9 MB header per request: two exceed the header limit (1 MiB)
		h.Set(sig, strings.Repeat("A", hostileHugeHeader))
		h.Set(alg, "hmac")
	case 9:
		h.Set(sig, hex.EncodeToString(mac))
		h.Set(alg, "hmac")
	case 10:
		h.Set(sig, base64.RawURLEncoding.EncodeToString(mac))
		h.Set(alg, "hmac")
	case 11:
		h.Set(sig, lagoSignature(hostileGenSecret, body))
		h.Set(alg, "hmac")
	case 12:
		h.Set(sig, "eyJhbGciOiJub25lIn0.eyJkYXRhIjoie30ifQ.")
		h.Set(alg, "jwt")
	}
	if g.intn(2) == 0 {
		h.Set("X-Lago-Unique-Key", "key-"+g.next())
	}
	return []*send{g.finish(s, "lago", false)}
}

func (g *generator) badGenericSignature() []*send {
	body := g.hostileBody(hostileDefaultMax)
	s := g.newSend("bad generic signature", http.MethodPost, g.pathFor("gen"), body)
	const sig = "X-Signature"
	mac := genericMAC(hostileGenSecret, body)
	right := "sha256=" + hex.EncodeToString(mac)
	h := s.header
	switch g.intn(12) {
	case 0:
	case 1:
		h.Set(sig, "sha256="+hex.EncodeToString(g.randomBytes(32)))
	case 2:
		h.Set(sig, hex.EncodeToString(mac))
	case 3:
		h.Set(sig, "sha1="+hex.EncodeToString(mac))
	case 4:
		h.Set(sig, right[:len(right)-1])
	case 5:
		h.Set(sig, "sha256="+hex.EncodeToString(genericMAC(hostileGenSecret, append(bytes.Clone(body), '\n'))))
	case 6:
		h[sig] = []string{right, right}
	case 7:
		h.Del("X-Huge")
		h.Set(sig, "sha256="+strings.Repeat("0", hostileHugeHeader))
	case 8:
		h.Set(sig, "sha256="+base64.StdEncoding.EncodeToString(mac))
	case 9:
		h.Set(sig, "sha256="+hex.EncodeToString(genericMAC(hostileLagoSecret, body)))
	case 10:
		h.Set(sig, "sha256=")
	case 11:
		h.Set(sig, g.printable(1+g.intn(100)))
	}
	if g.intn(2) == 0 {
		h.Set("X-Request-Id", "req-"+g.next())
	}
	return []*send{g.finish(s, "gen", false)}
}

func (g *generator) smallSource() []*send {
	s := g.newSend("unsigned small source", http.MethodPost, g.pathFor("small"), g.hostileBody(hostileSmallMax))
	if g.intn(3) == 0 {
		s.header.Set("X-Lago-Signature", g.printable(20))
		s.header.Set("X-Signature", "sha256=00")
	}
	return []*send{g.finish(s, "small", false)}
}

// signedMalformed sends correctly signed bodies that are not JSON
// objects (or are too large): the signature is right, the content is not.
func (g *generator) signedMalformed() []*send {
	var body []byte
	for range 20 {
		body = g.hostileBody(hostileDefaultMax)
		if !isObject(body) || len(body) > hostileDefaultMax {
			break
		}
		body = []byte(`[]`)
	}
	src := pick(g, "lago", "gen")
	s := g.newSend("signed, not an object", http.MethodPost, g.pathFor(src), body)
	g.sign(s, src)
	return []*send{g.finish(s, src, true)}
}

func (g *generator) sign(s *send, src string) {
	switch src {
	case "lago":
		s.header.Set("X-Lago-Signature", lagoSignature(hostileLagoSecret, s.body))
		s.header.Set("X-Lago-Signature-Algorithm", "hmac")
	case "gen":
		s.header.Set("X-Signature", "sha256="+hex.EncodeToString(genericMAC(hostileGenSecret, s.body)))
	}
}

// valid sends a correctly signed message that must be queued, sometimes
// followed by the same message again (a duplicate: 200, nothing queued).
func (g *generator) valid() []*send {
	src := pick(g, "lago", "gen")
	nonce := g.next()
	var body []byte
	key := ""
	switch src {
	case "lago":
		var m map[string]any
		if err := json.Unmarshal(g.fixture(), &m); err != nil {
			panic(err)
		}
		m["nonce"] = nonce
		body, _ = json.Marshal(m)
		key = "key-" + nonce
	default:
		wt := g.printable(1 + g.intn(60))
		if g.intn(3) > 0 {
			wt = pick(g, hostileTypes()...)
		}
		return g.validGeneric(wt)
	}
	return g.signedSends("valid", src, body, key)
}

// validGeneric sends a correctly signed generic message whose
// webhook_type is wt.
func (g *generator) validGeneric(wt string) []*send {
	nonce := g.next()
	body, _ := json.Marshal(map[string]any{"webhook_type": wt, "nonce": nonce, "amount_cents": g.intn(1_000_000)})
	key := ""
	if g.intn(4) > 0 {
		key = "req-" + nonce
	}
	return g.signedSends("valid", "gen", body, key)
}

// oddValid sends correctly signed objects of unusual shape (deep, wide,
// non-UTF-8, large, odd escapes): they are valid messages and must be
// queued and delivered byte for byte.
func (g *generator) oddValid() []*send {
	src := pick(g, "lago", "gen")
	nonce := g.next()
	head := `{"nonce":"` + nonce + `","webhook_type":"` + pick(g, "odd.deep", "odd\xff\xfe.bytes", `odd\u0000\ud800`, "odd.wide", "odd.large") + `"`
	var rest string
	switch g.intn(5) {
	case 0:
		n := 100 + g.intn(5000)
		rest = `,"deep":` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	case 1:
		rest = ",\"bytes\":\"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\""
	case 2:
		rest = `,"big":` + strings.Repeat("9", 400) + `,"neg":-0.0e-0,"e":"\ud83d\ude80\u2028\u2029"`
	case 3:
		var b strings.Builder
		for i := range 3000 {
			fmt.Fprintf(&b, `,"k%d":[%d,"v"]`, i, i)
		}
		rest = b.String()
	default:
		rest = `,"pad":"` + strings.Repeat("x", 200_000+g.intn(700_000)) + `"`
	}
	body := []byte(head + rest + "}")
	key := ""
	if src == "lago" {
		key = "key-" + nonce
	}
	return g.signedSends("odd but valid", src, body, key)
}

func (g *generator) signedSends(kind, src string, body []byte, key string) []*send {
	s := &send{kind: kind, method: http.MethodPost, target: g.pathFor(src), header: http.Header{}, body: body, chunked: g.intn(6) == 0}
	g.sign(s, src)
	if key != "" {
		s.header.Set(g.sources[src].key, key)
	}
	g.finish(s, src, true)
	out := []*send{s}
	if key != "" && g.intn(3) == 0 {
		d := &send{kind: kind + " (resent)", method: s.method, target: s.target, header: s.header.Clone(), body: body}
		code, mk := g.expect(d.method, src, body, true, true)
		d.want, d.counted = []int{code}, []metricKey{mk}
		out = append(out, d)
	}
	return out
}

// rawRequest builds a request by hand, for framing no client would send.
func rawRequest(requestLine string, headers []string, body string) []byte {
	var b strings.Builder
	b.WriteString(requestLine + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// rawCases are requests with broken framing, written on a bare TCP
// connection: Content-Length lies, broken chunking, malformed request
// lines, pipelining.
func (g *generator) rawCases() [][]*send {
	var out [][]*send
	add := func(s *send) { out = append(out, []*send{s}) }
	host := "Host: 127.0.0.1"
	obj := func() string {
		return fmt.Sprintf(`{"nonce":%q,"webhook_type":"raw.%s"}`, g.next(), g.alnum(8))
	}

	// Content-Length larger than the body, then the client stops sending.
	for range 4 {
		src := g.knownSource()
		body := obj()
		cl := len(body) + 1 + g.intn(400)
		s := &send{kind: "raw: Content-Length longer than body", halfClose: true,
			raw: rawRequest("POST /webhooks/"+src+" HTTP/1.1", []string{host, "Content-Length: " + strconv.Itoa(cl)}, body)}
		if cl > g.sources[src].maxBody {
			s.want, s.counted = []int{413}, []metricKey{{src, "too_large"}}
		} else {
			s.want, s.counted = []int{400}, []metricKey{{src, "bad_request"}}
		}
		add(s)
	}
	add(&send{kind: "raw: Content-Length longer than body, unknown source", halfClose: true,
		raw:  rawRequest("POST /webhooks/nope HTTP/1.1", []string{host, "Content-Length: 500"}, `{}`),
		want: []int{404}, counted: []metricKey{{hostileUnknownName, "unknown_source"}}})

	// Content-Length shorter than the body: the rest is read as the next
	// request, which is malformed.
	for range 4 {
		src := g.knownSource()
		body := obj()
		k := 1 + g.intn(len(body)-1)
		code, mk := g.expect(http.MethodPost, src, []byte(body[:k]), false, false)
		add(&send{kind: "raw: Content-Length shorter than body",
			raw:     rawRequest("POST /webhooks/"+src+" HTTP/1.1", []string{host, "Content-Length: " + strconv.Itoa(k)}, body+"\r\n\r\n"),
			want:    []int{code, 400},
			counted: []metricKey{mk}})
	}

	// Content-Length that is not a length.
	for _, cl := range [][]string{{"abc"}, {"-1"}, {"1e3"}, {"0x10"}, {"99999999999999999999999"}, {"+5"}, {"5", "6"}, {"2, 3"}} {
		var hs []string
		for _, v := range cl {
			hs = append(hs, "Content-Length: "+v)
		}
		add(&send{kind: "raw: invalid Content-Length", protocol: true,
			raw:  rawRequest("POST /webhooks/"+g.knownSource()+" HTTP/1.1", append([]string{host}, hs...), `{}`),
			want: []int{400}})
	}

	// Broken chunked bodies reach the handler, which cannot read them.
	for _, body := range []string{"zz\r\nabc\r\n0\r\n\r\n", "5\r\nab", "3\r\nabcdef\r\n0\r\n\r\n", "ffffffffffffffffff\r\n"} {
		src := g.knownSource()
		add(&send{kind: "raw: broken chunked body", halfClose: true,
			raw:  rawRequest("POST /webhooks/"+src+" HTTP/1.1", []string{host, "Transfer-Encoding: chunked"}, body),
			want: []int{400}, counted: []metricKey{{src, "bad_request"}}})
	}
	// A well-formed chunked body over the limit, and one under it.
	big := `{"pad":"` + strings.Repeat("c", 900) + `"}`
	add(&send{kind: "raw: chunked body over the limit",
		raw:  rawRequest("POST /webhooks/small HTTP/1.1", []string{host, "Transfer-Encoding: chunked"}, fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)),
		want: []int{413}, counted: []metricKey{{"small", "too_large"}}})
	small := obj()
	add(&send{kind: "raw: chunked body in pieces, with extensions and a trailer",
		raw: rawRequest("POST /webhooks/small HTTP/1.1", []string{host, "Transfer-Encoding: chunked"},
			fmt.Sprintf("%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n", 5, small[:5], len(small)-5, small[5:])),
		want: []int{202}, counted: []metricKey{{"small", "queued"}}, queued: g.queuedFor("small", []byte(small))})

	// Transfer codings net/http does not implement: 501, as RFC 9112
	// §6.1 asks, before any handler.
	for _, te := range []string{"gzip, chunked", "identity", "chunked, chunked"} {
		add(&send{kind: "raw: unsupported Transfer-Encoding", protocol: true,
			raw:  rawRequest("POST /webhooks/lago HTTP/1.1", []string{host, "Transfer-Encoding: " + te}, "2\r\n{}\r\n0\r\n\r\n"),
			want: []int{501}})
	}
	// Malformed requests: net/http answers 400 itself.
	for _, raw := range [][]byte{
		[]byte("GARBAGE\r\n\r\n"),
		rawRequest("POST /webhooks/%zz HTTP/1.1", []string{host, "Content-Length: 2"}, "{}"),
		rawRequest("POST /webhooks/lago HTTP/1.1", []string{"Content-Length: 2"}, "{}"),
		rawRequest("POST /webhooks/lago HTTP/1.1", []string{host, "X-A: a\x00b", "Content-Length: 2"}, "{}"),
		rawRequest("POST /webhooks/lago HTTP/1.1", []string{host, "Bad Name: y", "Content-Length: 2"}, "{}"),
		rawRequest("POST * HTTP/1.1", []string{host, "Content-Length: 2"}, "{}"),
		rawRequest("POST /webhooks/lago HTTP/1.1", []string{host, host, "Content-Length: 2"}, "{}"),
		rawRequest("POST webhooks/lago HTTP/1.1", []string{host, "Content-Length: 2"}, "{}"),
	} {
		add(&send{kind: "raw: malformed request", protocol: true, raw: raw, want: []int{400}})
	}
	// An obsolete line folding is unfolded (RFC 9112 §5.2 allows it): the
	// folded signature is just wrong.
	add(&send{kind: "raw: folded header line",
		raw:  rawRequest("POST /webhooks/lago HTTP/1.1", []string{host, "X-Lago-Signature: a", " folded", "X-Lago-Signature-Algorithm: hmac", "Content-Length: 2"}, "{}"),
		want: []int{401}, counted: []metricKey{{"lago", "unauthorized"}}})
	for _, proto := range []string{"HTTP/2.0", "HTTP/3.0"} {
		add(&send{kind: "raw: unsupported HTTP version", protocol: true,
			raw: rawRequest("POST /webhooks/lago "+proto, []string{host, "Content-Length: 2"}, "{}"), want: []int{505}})
	}
	// The absolute form of a request target, and HTTP/1.0, are HTTP: the
	// path decides.
	add(&send{kind: "raw: absolute-form target",
		raw:  rawRequest("POST http://evil.example/webhooks/lago HTTP/1.1", []string{host, "Content-Length: 2"}, "{}"),
		want: []int{401}, counted: []metricKey{{"lago", "unauthorized"}}})
	add(&send{kind: "raw: HTTP/1.0 without Host",
		raw:  rawRequest("POST /webhooks/gen HTTP/1.0", []string{"Content-Length: 2"}, "{}"),
		want: []int{401}, counted: []metricKey{{"gen", "unauthorized"}}})
	// Pipelining: an unknown source, then a valid unsigned message.
	p := obj()
	add(&send{kind: "raw: pipelined requests",
		raw: append(rawRequest("POST /webhooks/nope HTTP/1.1", []string{host, "Content-Length: 2"}, "{}"),
			rawRequest("POST /webhooks/small HTTP/1.1", []string{host, "Content-Length: " + strconv.Itoa(len(p))}, p)...),
		want:    []int{404, 202},
		counted: []metricKey{{hostileUnknownName, "unknown_source"}, {"small", "queued"}},
		queued:  g.queuedFor("small", []byte(p)), queuedAt: 1})
	return out
}

// cases returns every request of the run, shuffled: the random ones, the
// raw ones and the valid ones interleaved.
func (g *generator) cases() [][]*send {
	kinds := []struct {
		weight int
		make   func() []*send
	}{
		{10, g.unknownSource},
		{4, g.uncleanPath},
		{3, g.noRoute},
		{8, g.wrongMethod},
		{18, g.badLagoSignature},
		{14, g.badGenericSignature},
		{14, g.smallSource},
		{7, g.signedMalformed},
		{12, g.valid},
		{3, g.oddValid},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	var out [][]*send
	for range hostileCases {
		n := g.intn(total)
		for _, k := range kinds {
			if n < k.weight {
				out = append(out, k.make())
				break
			}
			n -= k.weight
		}
	}
	// Every hostile webhook_type at least once, whatever the seed.
	for _, wt := range hostileTypes() {
		out = append(out, g.validGeneric(wt))
	}
	out = append(out, g.rawCases()...)
	g.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// streamLimit is the body size above which a request answered 413 is
// written by hand: the server answers without reading the whole body and
// closes, and net/http's client may then report its failed write instead
// of the answer that came first (golang.org/issue/11745).
const streamLimit = 64 << 10

// do sends s and collects every answer.
func do(client *http.Client, addr string, s *send) outcome {
	if s.raw != nil {
		return doRaw(addr, s.raw, s.halfClose, len(s.want))
	}
	u := &url.URL{Scheme: "http", Host: addr}
	p, q, _ := strings.Cut(s.target, "?")
	if strings.HasPrefix(p, "//") {
		// Opaque would turn "//x" into an absolute URL with host x.
		pu, err := url.Parse("http://" + addr + s.target)
		if err != nil {
			return outcome{err: err}
		}
		u = pu
	} else {
		u.Opaque, u.RawQuery = p, q
	}
	var body io.Reader = bytes.NewReader(s.body)
	if s.chunked {
		body = io.NopCloser(bytes.NewReader(s.body))
	}
	req, err := http.NewRequest(s.method, "http://"+addr+"/", body)
	if err != nil {
		return outcome{err: err}
	}
	req.URL = u
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	if len(s.body) > streamLimit && s.want[0] == http.StatusRequestEntityTooLarge {
		var raw bytes.Buffer
		if err := req.Write(&raw); err != nil {
			return outcome{err: err}
		}
		return doRaw(addr, raw.Bytes(), false, 1)
	}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{err: fmt.Errorf("read answer: %w", err)}
	}
	return outcome{answers: []answer{{resp.StatusCode, resp.Header, b}}}
}

// doRaw writes raw on a new connection while it reads n answers, so
// that an answer sent before the request was fully written is read.
func doRaw(addr string, raw []byte, halfClose bool, n int) outcome {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return outcome{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(raw)
		if err == nil && halfClose {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	out := readAnswers(bufio.NewReader(conn), n)
	_ = conn.Close()
	if werr := <-wrote; out.err != nil && werr != nil {
		out.err = fmt.Errorf("%w (write: %v)", out.err, werr)
	}
	return out
}

func readAnswers(br *bufio.Reader, n int) outcome {
	var out outcome
	for len(out.answers) < n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			out.err = fmt.Errorf("answer %d: %w", len(out.answers)+1, err)
			return out
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			out.err = fmt.Errorf("answer %d body: %w", len(out.answers)+1, err)
			return out
		}
		if resp.StatusCode == http.StatusContinue {
			continue
		}
		out.answers = append(out.answers, answer{resp.StatusCode, resp.Header, b})
	}
	return out
}

// describe names a send in failure messages without dumping megabytes.
func describe(s *send) string {
	if s.raw != nil {
		r := string(s.raw)
		if len(r) > 200 {
			r = r[:200] + "…"
		}
		return fmt.Sprintf("%s %q", s.kind, r)
	}
	target := s.target
	if len(target) > 120 {
		target = target[:120] + "…"
	}
	body := string(s.body)
	if len(body) > 120 {
		body = body[:120] + fmt.Sprintf("…(%d bytes)", len(s.body))
	}
	var hs []string
	for k, vs := range s.header {
		for _, v := range vs {
			if len(v) > 60 {
				v = v[:60] + fmt.Sprintf("…(%d bytes)", len(v))
			}
			hs = append(hs, k+": "+v)
		}
	}
	sort.Strings(hs)
	return fmt.Sprintf("%s: %s %s chunked=%v headers=%q body=%q", s.kind, s.method, target, s.chunked, hs, body)
}

// TestServeHostileInput runs Serve in-process and sends it several hundred
// random and malformed requests (methods, paths, bodies, headers, framing)
// interleaved with valid signed ones. Every request must get an answer with
// the status DESIGN §4 gives it, only the valid ones may be stored and
// delivered, and nothing may outlive Serve.
func TestServeHostileInput(t *testing.T) {
	seed := *hostileSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test -race -run TestServeHostileInput ./internal/app -seed %d", seed)
		}
	})

	g := &generator{
		rng: rand.New(rand.NewPCG(seed, 0x5b)),
		sources: map[string]hostileSource{
			"lago":  {maxBody: hostileDefaultMax, signed: true, key: "X-Lago-Unique-Key"},
			"gen":   {maxBody: hostileDefaultMax, signed: true, key: "X-Request-Id"},
			"small": {maxBody: hostileSmallMax},
		},
	}
	for _, name := range []string{"invoice.created", "wallet.depleted_ongoing_balance", "customer.created", "subscription.terminated", "credit_note.created"} {
		b, err := os.ReadFile(filepath.Join("..", "lago", "testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		g.fixtures = append(g.fixtures, bytes.TrimSpace(b))
	}
	cases := g.cases()

	recv := testpeer.NewReceiver(t)
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(hostileRules(recv.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	templates := filepath.Join(dir, "templates")
	if err := os.Mkdir(templates, 0o700); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")

	// Everything running now (the receiver, the test runner) is not
	// Serve's to stop.
	running := goleak.IgnoreCurrent()

	logs := &testkit.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	served := make(chan error, 1)
	stopped := make(chan struct{})
	// Whatever happens to the test, Serve is stopped before the receiver
	// and the data directory go away.
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
	go func() {
		defer close(stopped)
		served <- app.Serve(ctx, app.ServeOptions{
			Rules: rulesPath, Templates: templates, Listen: "127.0.0.1:0", DataDir: dataDir,
			AdminToken: secret.String(hostileAdminToken), ShutdownGrace: 10 * time.Second,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Ready:  func(addr string) { ready <- addr },
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("Serve returned at start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("Serve did not start\n%s", logs.String())
	}

	transport := &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: 8, DisableCompression: true,
		ExpectContinueTimeout: time.Second, ResponseHeaderTimeout: 30 * time.Second,
	}
	client := &http.Client{
		Transport: transport, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// Four clients at once; the requests of one case go in order.
	results := make([][]outcome, len(cases))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for _, s := range cases[i] {
					results[i] = append(results[i], do(client, addr, s))
				}
			}
		}()
	}
	for i := range cases {
		work <- i
	}
	close(work)
	wg.Wait()

	secrets := []string{hostileLagoSecret, hostileGenSecret, hostileAdminToken}
	wantMetrics := map[metricKey]int{}
	var queued []*queuedMsg
	counts := map[int]int{}
	answered := true // every request got the statuses it should
	for i, c := range cases {
		for j, s := range c {
			res := results[i][j]
			what := describe(s)
			if res.err != nil {
				t.Errorf("no answer (%v) to %s", res.err, what)
				answered = false
				continue
			}
			var got []int
			for _, a := range res.answers {
				got = append(got, a.code)
				counts[a.code]++
				if a.code >= 500 && !s.protocol {
					t.Errorf("%d to %s: %s", a.code, what, a.body)
				}
				for _, sec := range secrets {
					if bytes.Contains(a.body, []byte(sec)) {
						t.Errorf("a secret in the answer to %s", what)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(s.want) {
				t.Errorf("got %v, want %v, for %s; first answer: %.300s", got, s.want, what, res.answers[0].body)
				answered = false
				continue
			}
			for _, mk := range s.counted {
				wantMetrics[mk]++
			}
			first := res.answers[0]
			switch first.code {
			case http.StatusTemporaryRedirect:
				loc := first.header.Get("Location")
				if loc != s.location || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Errorf("Location %q, want %q, for %s", loc, s.location, what)
				}
			case http.StatusMethodNotAllowed:
				if a := first.header.Get("Allow"); a != http.MethodPost {
					t.Errorf("Allow %q for %s", a, what)
				}
			}
			if len(s.counted) > 0 && s.method != http.MethodHead {
				checkIngestAnswer(t, first, what)
			}
			if s.queued != nil {
				var rep struct{ ID string }
				_ = json.Unmarshal(res.answers[s.queuedAt].body, &rep)
				s.queued.id = rep.ID
				queued = append(queued, s.queued)
			}
		}
	}
	t.Logf("%d requests in %d cases; statuses %v; %d messages queued", sumValues(counts), len(cases), counts, len(queued))
	if len(queued) == 0 || counts[http.StatusUnauthorized] == 0 || counts[http.StatusBadRequest] == 0 || counts[http.StatusRequestEntityTooLarge] == 0 {
		t.Fatalf("the run did not exercise both refusals and acceptance: %v", counts)
	}

	// Every accepted message is delivered, and nothing else is.
	// A webhook_type of "." or ".." would make a dot segment of the typed
	// channel's URL path: the HTTP notifier refuses to send that (dead at
	// once) rather than let a receiver that normalises paths see another
	// resource.
	typed, dots := 0, 0
	for _, q := range queued {
		switch {
		case q.typed && isDotSegment(q.webhookType):
			dots++
		case q.typed:
			typed++
		}
	}
	reqs := recv.WaitFor(len(queued)+typed, 30*time.Second)
	checkDelivered(t, queued, reqs)
	auth := http.Header{"Authorization": {"Bearer " + hostileAdminToken}}
	testkit.Eventually(t, "every delivery to be recorded as delivered", 30*time.Second, func() bool {
		var list struct {
			Deliveries []struct{ Status string } `json:"deliveries"`
		}
		b := get(t, client, "http://"+addr+"/api/v1/deliveries?limit=1000", auth)
		if err := json.Unmarshal(b, &list); err != nil || len(list.Deliveries) != len(queued)+typed+dots {
			return false
		}
		dead := 0
		for _, d := range list.Deliveries {
			switch d.Status {
			case "delivered":
			case "dead":
				dead++
			default:
				return false
			}
		}
		return dead == dots
	})
	if answered {
		// Only meaningful when every request was answered as expected.
		checkMetrics(t, get(t, client, "http://"+addr+"/metrics", nil), wantMetrics)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	transport.CloseIdleConnections()
	goleak.VerifyNone(t, running)

	checkStore(t, filepath.Join(dataDir, "switchboard.db"), queued)
	log := logs.String()
	for _, bad := range append([]string{"panic", "goroutine "}, secrets...) {
		if strings.Contains(log, bad) {
			t.Errorf("the log contains %q", bad)
		}
	}
	if t.Failed() {
		t.Logf("log (last 4000 bytes): %s", tail(log, 4000))
	}
}

func sumValues(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// checkIngestAnswer checks the ingest handler's JSON answer.
func checkIngestAnswer(t *testing.T, a answer, what string) {
	t.Helper()
	var rep struct {
		Status, ID, Error string
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q for %s", ct, what)
	}
	if err := json.Unmarshal(a.body, &rep); err != nil {
		t.Errorf("answer %q is not JSON for %s", a.body, what)
		return
	}
	switch a.code {
	case http.StatusAccepted:
		if rep.Status != "queued" || rep.ID == "" {
			t.Errorf("202 answer %s for %s", a.body, what)
		}
	case http.StatusOK:
		if rep.Status != "duplicate" {
			t.Errorf("200 answer %s for %s", a.body, what)
		}
	default:
		if rep.Status != "rejected" || rep.Error == "" {
			t.Errorf("%d answer %s for %s", a.code, a.body, what)
		}
	}
}

// checkDelivered matches what the receiver got against the queued
// messages: each forwarded byte for byte, and each Lago and generic one
// rendered into the typed channel's path, query, header and body with
// every value escaped for where it went.
func checkDelivered(t *testing.T, queued []*queuedMsg, reqs []testpeer.Request) {
	t.Helper()
	forwarded := map[string]int{}
	typed := map[string]testpeer.Request{}
	for _, r := range reqs {
		if h := r.Header.Get("X-Injected"); h != "" {
			t.Errorf("a message value became a header: X-Injected: %s", h)
		}
		switch {
		case r.Path == "/in":
			forwarded[string(r.Body)]++
		case strings.HasPrefix(r.Path, "/typed/"):
			typed[string(r.Body)] = r
		default:
			t.Errorf("request to unexpected path %q", r.EscapedPath)
		}
	}
	for _, q := range queued {
		if forwarded[string(q.body)] == 0 {
			t.Errorf("message %s from %s (%d bytes) was not forwarded", q.id, q.source, len(q.body))
		}
		forwarded[string(q.body)]--
		if !q.typed {
			continue
		}
		body := "type=" + q.webhookType + " nonce=" + q.nonce
		if isDotSegment(q.webhookType) {
			if _, sent := typed[body]; sent {
				t.Errorf("webhook_type %q was sent as a dot segment of a URL path", q.webhookType)
			}
			continue
		}
		r, ok := typed[body]
		if !ok {
			t.Errorf("message %s: no typed delivery with body %.200q", q.id, body)
			continue
		}
		delete(typed, body)
		wt := q.webhookType
		if r.Path != "/typed/"+wt {
			t.Errorf("typed path %.200q, want %.200q", r.Path, "/typed/"+wt)
		}
		for _, seg := range strings.Split(r.EscapedPath, "/") {
			if seg == "." || seg == ".." {
				t.Errorf("webhook_type %q became a dot-segment of the URL path %q: a receiver that normalises paths sees another resource", wt, r.EscapedPath)
			}
		}
		if q, err := url.ParseQuery(r.RawQuery); err != nil || len(q) != 1 || q.Get("t") != wt {
			t.Errorf("typed query %.200q for webhook_type %.200q", r.RawQuery, wt)
		}
		if got, want := r.Header.Get("X-Type"), strings.Trim(stripControl(wt), " \t"); got != want {
			t.Errorf("X-Type %.200q, want %.200q", got, want)
		}
		if r.Header.Get("X-Switchboard-Rule") != "typed" || r.Header.Get("webhook-id") == "" {
			t.Errorf("typed delivery headers %v", r.Header)
		}
	}
	for body, n := range forwarded {
		if n != 0 {
			t.Errorf("forwarded %d times more than queued: %.200q", n, body)
		}
	}
	for body := range typed {
		t.Errorf("typed delivery of no queued message: %.200q", body)
	}
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

var metricLine = regexp.MustCompile(`^switchboard_messages_received_total\{outcome="([^"]*)",source="([^"]*)"\} (\d+)$`)

// checkMetrics compares messages_received_total with what the ingest
// handler must have counted: net/http's own refusals and the mux's
// redirects and 404s never reach it.
func checkMetrics(t *testing.T, text []byte, want map[metricKey]int) {
	t.Helper()
	got := map[metricKey]int{}
	for _, line := range strings.Split(string(text), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[3])
			if n > 0 {
				got[metricKey{m[2], m[1]}] = n
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("messages_received_total %v, want %v", got, want)
	}
}

func get(t *testing.T, client *http.Client, u string, h http.Header) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

// checkStore reads the store's database file, read-only, after Serve has
// closed it: it must hold exactly the queued messages, each with its
// deliveries, all delivered.
func checkStore(t *testing.T, file string, queued []*queuedMsg) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]*queuedMsg{}
	for _, q := range queued {
		want[q.id] = q
	}
	rows, err := db.Query(`SELECT id, source, body FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, source string
		var body []byte
		if err := rows.Scan(&id, &source, &body); err != nil {
			t.Fatal(err)
		}
		n++
		q, ok := want[id]
		switch {
		case !ok:
			t.Errorf("stored message %s from %s was never answered 202: %.200q", id, source, body)
		case q.source != source || !bytes.Equal(q.body, body):
			t.Errorf("stored message %s: source %s, body %.200q; want %s, %.200q", id, source, body, q.source, q.body)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if n != len(queued) {
		t.Errorf("%d messages stored, want %d", n, len(queued))
	}
	rows, err = db.Query(`SELECT message_id, rule, state FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]string{}
	for rows.Next() {
		var msg, rule, state string
		if err := rows.Scan(&msg, &rule, &state); err != nil {
			t.Fatal(err)
		}
		wantState := "delivered"
		if q, ok := want[msg]; ok && rule == "typed" && isDotSegment(q.webhookType) {
			wantState = "dead"
		}
		if state != wantState {
			t.Errorf("delivery of message %s by rule %s is %s, want %s", msg, rule, state, wantState)
		}
		per[msg] = append(per[msg], rule)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	for id, rules := range per {
		q, ok := want[id]
		if !ok {
			t.Errorf("deliveries %v of a message never answered 202 (%s)", rules, id)
			continue
		}
		sort.Strings(rules)
		wantRules := "[forward]"
		if q.typed {
			wantRules = "[forward typed]"
		}
		if fmt.Sprint(rules) != wantRules {
			t.Errorf("message %s has deliveries %v, want %s", id, rules, wantRules)
		}
	}
	if len(per) != len(queued) {
		t.Errorf("%d messages have deliveries, want %d", len(per), len(queued))
	}
}
