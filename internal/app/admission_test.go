package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// floodSecret signs the webhooks of the flood tests.
const floodSecret = "flood-lago-hmac-0c4a9e3b"

// floodRules has one Lago source and no rules: a message is queued with
// no deliveries, which is all ingest needs.
const floodRules = `
sources:
  lago:
    lago:
      hmac_secret: "` + floodSecret + `"
rules: []
`

// served is a Serve running in the test process.
type served struct {
	addr    string
	dataDir string
	logs    *testkit.LogBuffer
	cancel  context.CancelFunc
	done    chan error
}

// startServe runs Serve on 127.0.0.1 with rules, until the test ends.
func startServe(t *testing.T, rules string, adjust func(*app.ServeOptions)) *served {
	t.Helper()
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &served{dataDir: filepath.Join(dir, "data"), logs: &testkit.LogBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan string, 1)
	o := app.ServeOptions{
		Rules: rulesPath, Templates: filepath.Join(dir, "templates"), Listen: "127.0.0.1:0", DataDir: s.dataDir,
		ShutdownGrace: 5 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready:         func(addr string) { ready <- addr },
	}
	if adjust != nil {
		adjust(&o)
	}
	go func() { s.done <- app.Serve(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		t.Fatalf("Serve returned at start: %v\n%s", err, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("Serve did not start\n%s", s.logs.String())
	}
	return s
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (any 127.0.0.0/8 address works on Linux), so that
// a test can play several client addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		Timeout:   20 * time.Second,
	}
}

// signedRequest is signed Lago webhook number n.
func signedRequest(t *testing.T, addr string, n int) *http.Request {
	t.Helper()
	body := fmt.Appendf(nil, `{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"lago_id":"inv-flood-%d"}}`, n)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/lago", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lago-Signature-Algorithm", "hmac")
	req.Header.Set("X-Lago-Signature", lagoSignature(floodSecret, body))
	req.Header.Set("X-Lago-Unique-Key", fmt.Sprintf("flood-key-%d", n))
	return req
}

// postSigned sends signed Lago webhook number n and returns the status
// and how long the answer took.
func postSigned(t *testing.T, c *http.Client, addr string, n int) (int, time.Duration) {
	t.Helper()
	req := signedRequest(t, addr, n)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestSlowBodyFloodKeepsSignedWebhooksAnswered floods ingest with
// connections that send headers announcing a 1000-byte body and then
// nothing, from several addresses (so that the per-client bound alone
// does not save the day): more connections than ingest has slots. Signed
// webhooks sent meanwhile from another address must still be queued,
// each answered at once, well within Lago's ~21 s.
func TestSlowBodyFloodKeepsSignedWebhooksAnswered(t *testing.T) {
	s := startServe(t, floodRules, nil)
	var flood []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range flood {
			c.Close()
		}
	}()
	head := "POST /webhooks/lago HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/json\r\n" +
		"X-Lago-Signature-Algorithm: hmac\r\nX-Lago-Signature: AAAA\r\nContent-Length: 1000\r\n\r\n"
	const addrs, perAddr = 8, 36 // 288 connections, 256 slots
	var wg sync.WaitGroup
	for a := range addrs {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+a))}, Timeout: 5 * time.Second}
		for range perAddr {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := d.Dial("tcp", s.addr)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				mu.Lock()
				flood = append(flood, c)
				mu.Unlock()
				if _, err := io.WriteString(c, head); err != nil {
					t.Errorf("write: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	signed := clientFrom("127.0.0.2")
	for n := range 5 {
		// Spread over a second: the flood has had time to reach the
		// handler, and stays there (its bodies never come).
		time.Sleep(200 * time.Millisecond)
		code, took := postSigned(t, signed, s.addr, n)
		if code != http.StatusAccepted || took > 2*time.Second {
			t.Errorf("signed webhook %d during the flood: status %d after %v, want 202 within 2s", n, code, took.Round(time.Millisecond))
		}
	}
}
