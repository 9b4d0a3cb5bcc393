package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

const secret = "6a2f1f5e-3c8b-4d7e-9b1a-0f4c2d8e7a31"

// recorder is the other side of the hand-off: it records what ingest
// committed, deduplicating on (source, key) and (source, body hash) as the
// store does.
type recorder struct {
	mu      sync.Mutex
	msgs    []store.Message
	dels    [][]store.RoutedDelivery
	keys    map[string]bool
	fail    error
	submits int
}

func (r *recorder) Enqueue(_ context.Context, m store.Message, _ string, ds []store.RoutedDelivery) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return false, r.fail
	}
	if r.keys == nil {
		r.keys = map[string]bool{}
	}
	k, b := m.Source+"\x00k\x00"+m.Key, m.Source+"\x00b\x00"+m.BodyHash
	if (m.Key != "" && r.keys[k]) || (m.BodyHash != "" && r.keys[b]) {
		return true, nil
	}
	if m.Key != "" {
		r.keys[k] = true
	}
	if m.BodyHash != "" {
		r.keys[b] = true
	}
	// As the store does for deliveries without alert-fatigue settings.
	for i := range ds {
		switch {
		case ds[i].DeadError != "":
			ds[i].Decided = store.StateDead
		case !ds[i].LeaseUntil.IsZero():
			ds[i].Decided = store.StateInFlight
		default:
			ds[i].Decided = store.StatePending
		}
	}
	r.msgs = append(r.msgs, m)
	r.dels = append(r.dels, ds)
	return false, nil
}

func (r *recorder) Submit(ds []store.StoredDelivery) {
	r.mu.Lock()
	r.submits += len(ds)
	r.mu.Unlock()
}

func ruleset(t testing.TB) *router.Ruleset {
	t.Helper()
	rules := `
sources:
  lago:
    lago: {hmac_secret: "` + secret + `"}
  small:
    max_body: 32
rules:
  - name: all
    when: "true"
    send: [{to: hook}]
  - name: broken-template
    when: webhook_type == "render.fails"
    send: [{to: hook, message: '{{ required "no number" .number }}'}]
channels:
  hook:
    http: {url: "http://127.0.0.1:1/in"}
`
	return loadRules(t, rules)
}

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func newHandler(t testing.TB, rec *recorder) *Handler {
	rs := ruleset(t)
	return New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test"})
}

func serve(h http.Handler, method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", h)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w
}

// TestAnswers walks DESIGN §4's order: 404, 413, 401, 400, 200 duplicate,
// 202 queued, and 503 when the store fails.
func TestAnswers(t *testing.T) {
	rec := &recorder{}
	h := newHandler(t, rec)
	good := `{"webhook_type":"wallet.created","wallet":{"lago_id":"w1"}}`
	other := `{"webhook_type":"wallet.created","wallet":{"lago_id":"w2"}}`
	lago := func(body, key string) map[string]string {
		return map[string]string{"X-Lago-Signature": sign(body), "X-Lago-Signature-Algorithm": "hmac", "X-Lago-Unique-Key": key}
	}
	tests := []struct {
		name, method, path, body string
		headers                  map[string]string
		code                     int
		reason                   string
	}{
		{"unknown source", "POST", "/webhooks/nope", good, nil, 404, "unknown source"},
		{"wrong method", "GET", "/webhooks/lago", "", nil, 405, "use POST"},
		{"too large", "POST", "/webhooks/small", `{"a":"` + strings.Repeat("x", 64) + `"}`, nil, 413, "body too large"},
		{"too large beats bad signature", "POST", "/webhooks/lago", strings.Repeat(" ", 9<<20), nil, 413, "body too large"},
		{"no signature", "POST", "/webhooks/lago", good, nil, 401, ""},
		{"wrong signature", "POST", "/webhooks/lago", good, map[string]string{"X-Lago-Signature": sign(good + " "), "X-Lago-Signature-Algorithm": "hmac"}, 401, ""},
		{"signed but not json", "POST", "/webhooks/lago", "[1]", lago("[1]", "k0"), 400, "not a JSON object"},
		{"json null", "POST", "/webhooks/small", "null", nil, 400, "not a JSON object"},
		{"queued", "POST", "/webhooks/lago", good, lago(good, "k1"), 202, ""},
		{"duplicate", "POST", "/webhooks/lago", good, lago(good, "k1"), 200, ""},
		{"same signed body, fresh key (a replay)", "POST", "/webhooks/lago", good, lago(good, "k2"), 200, "duplicate"},
		{"same signed body, no key (a replay)", "POST", "/webhooks/lago", good, lago(good, ""), 200, "duplicate"},
		{"other signed body, no key", "POST", "/webhooks/lago", other, lago(other, ""), 202, ""},
		{"and again, no key (a replay)", "POST", "/webhooks/lago", other, lago(other, ""), 200, "duplicate"},
		{"unsigned, no key: never deduplicated", "POST", "/webhooks/small", `{"a":1}`, nil, 202, ""},
		{"unsigned, no key, again", "POST", "/webhooks/small", `{"a":1}`, nil, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(h, tt.method, tt.path, tt.body, tt.headers)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.reason) {
				t.Fatalf("%d %s, want %d %q", w.Code, w.Body, tt.code, tt.reason)
			}
		})
	}
	if len(rec.msgs) != 4 {
		t.Fatalf("%d messages committed, want 4", len(rec.msgs))
	}
	if rec.msgs[0].Key != "k1" || rec.msgs[0].Source != "lago" || rec.msgs[0].WebhookType != "wallet.created" || string(rec.msgs[0].Body) != good {
		t.Fatalf("message %+v", rec.msgs[0])
	}
	if rec.submits != 4 {
		t.Fatalf("%d deliveries submitted to the workers, want 4", rec.submits)
	}

	rec.fail = errors.New("disk full")
	w := serve(h, "POST", "/webhooks/small", `{"b":2}`, nil)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("store failure: %d %v", w.Code, w.Header())
	}
	rec.fail = nil

	h.Drain()
	if w := serve(h, "POST", "/webhooks/small", `{"b":2}`, nil); w.Code != 503 {
		t.Fatalf("draining: %d", w.Code)
	}
}

// TestRenderFailureIsCommittedDead: a delivery whose template fails is
// stored dead with the error, not dropped, and not submitted.
func TestRenderFailureIsCommittedDead(t *testing.T) {
	rec := &recorder{}
	h := newHandler(t, rec)
	if w := serve(h, "POST", "/webhooks/small", `{"webhook_type":"render.fails"}`, nil); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	ds := rec.dels[0]
	if len(ds) != 2 || ds[0].DeadError != "" || !strings.Contains(ds[1].DeadError, "no number") || !ds[1].LeaseUntil.IsZero() {
		t.Fatalf("deliveries %+v", ds)
	}
	if rec.submits != 1 {
		t.Fatalf("submitted %d", rec.submits)
	}
}

// TestOverloaded: past MaxInFlight concurrent requests, answer 429.
func TestOverloaded(t *testing.T) {
	rec := &recorder{}
	rs := ruleset(t)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, MaxInFlight: 1})
	h.sem <- struct{}{} // one request in flight
	w := serve(h, "POST", "/webhooks/small", `{}`, nil)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("%d", w.Code)
	}
}

// FuzzIngest throws arbitrary bodies and signature headers at the
// handler: never a panic or a 5xx, and nothing is committed unless the
// request was signed and a JSON object.
func FuzzIngest(f *testing.F) {
	f.Add([]byte(`{"webhook_type":"invoice.created"}`), "sig", "hmac", "lago")
	f.Add([]byte(`{"a":`), "", "", "small")
	f.Add([]byte("\xff\xfe"), sign("\xff\xfe"), "hmac", "lago")
	f.Add([]byte(`{"webhook_type":"render.fails"}`), sign(`{"webhook_type":"render.fails"}`), "hmac", "lago")
	f.Add([]byte(`[]`), sign(`[]`), "jwt", "lago")
	rec := &recorder{}
	h := newHandler(f, rec)
	f.Fuzz(func(t *testing.T, body []byte, sig, algo, source string) {
		rec.mu.Lock()
		before := len(rec.msgs)
		rec.mu.Unlock()
		req := httptest.NewRequest("POST", "/webhooks/x", bytes.NewReader(body))
		req.SetPathValue("source", source)
		req.Header.Set("X-Lago-Signature", sig)
		req.Header.Set("X-Lago-Signature-Algorithm", algo)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%d for %q", w.Code, body)
		}
		rec.mu.Lock()
		committed := len(rec.msgs) > before
		rec.mu.Unlock()
		if committed != (w.Code == 202) {
			t.Fatalf("answered %d but committed=%v", w.Code, committed)
		}
		if w.Code == 202 && source == "lago" && sig != sign(string(body)) {
			t.Fatalf("accepted a Lago message with a wrong signature")
		}
	})
}
