package ingest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/router"
)

// TestSlowBodyHoldsNoSlot: with a single slot, a client that sends its
// headers and then trickles nothing neither blocks a signed webhook nor
// keeps its connection past the body deadline: it gets 408.
func TestSlowBodyHoldsNoSlot(t *testing.T) {
	rec := &recorder{}
	rs := ruleset(t)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test",
		MaxInFlight: 1, BodyTimeout: 300 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	slow, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "POST /webhooks/lago HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()

	good := `{"webhook_type":"wallet.created","wallet":{"lago_id":"w-slow"}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/lago", strings.NewReader(good))
	req.Header.Set("X-Lago-Signature", sign(good))
	req.Header.Set("X-Lago-Signature-Algorithm", "hmac")
	req.Header.Set("X-Lago-Unique-Key", "k-slow")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed webhook beside a slow body: %d, want 202", resp.StatusCode)
	}

	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	sr, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("slow client got no answer: %v", err)
	}
	sr.Body.Close()
	if sr.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow client: %d, want 408", sr.StatusCode)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("slow client answered after %v, want about the 300ms body deadline", took)
	}
}

// TestBodyBudget: a body that does not fit the request memory budget
// answers 429 with Retry-After, and every byte taken is given back.
func TestBodyBudget(t *testing.T) {
	rec := &recorder{}
	rs := ruleset(t)
	b := admission.NewBudget(64)
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: rec, Dispatch: rec, Owner: "test", Budget: b})
	w := serve(h, "POST", "/webhooks/lago", `{"a":"`+strings.Repeat("x", 200)+`"}`, nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("body over the budget: %d %v", w.Code, w.Header())
	}
	good := `{"webhook_type":"wallet.created"}`
	w = serve(h, "POST", "/webhooks/lago", good, map[string]string{"X-Lago-Signature": sign(good), "X-Lago-Signature-Algorithm": "hmac"})
	if w.Code != http.StatusAccepted {
		t.Fatalf("body within the budget: %d %s", w.Code, w.Body)
	}
	if u := b.Used(); u != 0 {
		t.Fatalf("%d bytes still charged after the requests", u)
	}
}
