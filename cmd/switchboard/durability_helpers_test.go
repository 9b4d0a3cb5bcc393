package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// markerField is the top-level field the durability tests add to a Lago
// fixture so that every message, and the delivery forwarding it, can be
// told apart.
const markerField = "durability_marker"

// hookRules routes every message of the signed Lago source to one HTTP
// channel, which forwards the message as is. channelOptions are extra keys
// of the channel (timeout, concurrency, retry), indented by four spaces.
func hookRules(channelOptions string) string {
	return `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_WEBHOOK_SECRET}
channels:
  hook:
` + channelOptions + `
    http:
      url: ${HOOK_URL}
rules:
  - name: forward
    when: "true"
    send:
      - to: hook
`
}

// hookEnv is the environment hookRules needs.
func hookEnv(hookURL string, extra ...string) []string {
	return append([]string{"LAGO_WEBHOOK_SECRET=" + lagoSecret, "HOOK_URL=" + hookURL}, extra...)
}

// markedBodies returns n copies of the invoice.created fixture, the i-th
// with markerField set to markerOf(prefix, i).
func markedBodies(t *testing.T, prefix string, n int) [][]byte {
	t.Helper()
	var base map[string]any
	if err := json.Unmarshal(fixture(t, "invoice.created"), &base); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		base[markerField] = marker(prefix, i)
		b, err := json.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func marker(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }

// markerIn reads markerField from a forwarded message ("" if absent).
func markerIn(body []byte) string {
	var m struct {
		Marker string `json:"durability_marker"`
	}
	_ = json.Unmarshal(body, &m)
	return m.Marker
}

// lagoSender posts messages the way Lago does: signed with the HMAC
// secret, with an X-Lago-Unique-Key, retried after a connection error or
// any non-2xx answer with short pauses until a 2xx or the context ends.
type lagoSender struct {
	client *http.Client
	// target returns the base URL of the server to send message i to on
	// the given try (from 0): replicas behind a load balancer alternate.
	target func(i, try int) string
}

func newLagoSender(t *testing.T, target func(i, try int) string) *lagoSender {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &lagoSender{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, target: target}
}

// sendResult is how posting one message went.
type sendResult struct {
	code  int // the 2xx that accepted it, 0 if none did
	tries int
	err   error // the last failure, when never accepted
}

func (s *lagoSender) post(ctx context.Context, i int, key string, body []byte) sendResult {
	sig := lagoSign(lagoSecret, body)
	pause := 10 * time.Millisecond
	var res sendResult
	for try := 0; ; try++ {
		res.tries = try + 1
		code, err := s.once(ctx, s.target(i, try), key, sig, body)
		if err == nil && code >= 200 && code < 300 {
			res.code, res.err = code, nil
			return res
		}
		if err == nil {
			err = fmt.Errorf("status %d", code)
		}
		res.err = err
		select {
		case <-ctx.Done():
			return res
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

func (s *lagoSender) once(ctx context.Context, base, key, sig string, body []byte) (int, error) {
	resp, err := s.client.Do(newLagoRequest(ctx, base, key, sig, body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// newLagoRequest is a webhook request as Lago sends it, with the HMAC
// signature sig of body.
func newLagoRequest(ctx context.Context, base, key, sig string, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/lago", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lago-Signature", sig)
	req.Header.Set("X-Lago-Signature-Algorithm", "hmac")
	req.Header.Set("X-Lago-Unique-Key", key)
	return req
}

// sendAll posts bodies[i] with unique key keyPrefix-i from `senders`
// concurrent senders and records each message's result. accepted counts
// the messages accepted so far, for a test that acts on progress.
type sendAll struct {
	results  []sendResult
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func startSending(ctx context.Context, s *lagoSender, senders int, keyPrefix string, bodies [][]byte) *sendAll {
	a := &sendAll{results: make([]sendResult, len(bodies))}
	var next atomic.Int64
	for range senders {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				r := s.post(ctx, i, fmt.Sprintf("%s-%d", keyPrefix, i), bodies[i])
				a.results[i] = r
				if r.code != 0 {
					a.accepted.Add(1)
				}
			}
		}()
	}
	return a
}

// wait waits for every sender and returns the results.
func (a *sendAll) wait() []sendResult {
	a.wg.Wait()
	return a.results
}

// waitAccepted blocks until at least n messages were accepted or every
// sender is done.
func (a *sendAll) waitAccepted(n int64, done <-chan struct{}) {
	for a.accepted.Load() < n {
		select {
		case <-done:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// arrival is one delivery a receiver accepted: its webhook-id and the
// marker of the message it forwarded.
type arrival struct {
	id     string
	marker string
}

// arrivals lists what a testpeer.Receiver accepted (it answers 200 in
// these tests).
func arrivals(reqs []testpeer.Request) []arrival {
	out := make([]arrival, 0, len(reqs))
	for _, q := range reqs {
		out = append(out, arrival{id: q.Header.Get(standardwebhooks.HeaderID), marker: markerIn(q.Body)})
	}
	return out
}

// byMarker maps each message marker to the webhook-ids it arrived with.
func byMarker(as []arrival) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, a := range as {
		if out[a.marker] == nil {
			out[a.marker] = map[string]bool{}
		}
		out[a.marker][a.id] = true
	}
	return out
}

// duplicates counts the arrivals beyond the first of each webhook-id.
func duplicates(as []arrival) (dups int, ids int) {
	seen := map[string]bool{}
	for _, a := range as {
		if seen[a.id] {
			dups++
		}
		seen[a.id] = true
	}
	return dups, len(seen)
}

// window is the time one request spent in progress at a slowReceiver.
type window struct {
	id     string
	marker string
	start  time.Time
	end    time.Time // zero while in progress
	// completed: the full delay passed and 200 was answered with the
	// client still connected.
	completed bool
}

// slowReceiver is an HTTP peer on 127.0.0.1 that takes delay() to answer
// each request with 200 and records, per request, its webhook-id, the
// message marker and the window during which it was in progress.
type slowReceiver struct {
	srv   *httptest.Server
	delay func() time.Duration

	mu      sync.Mutex
	windows []window
}

func newSlowReceiver(t *testing.T, delay func() time.Duration) *slowReceiver {
	r := &slowReceiver{delay: delay}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *slowReceiver) serve(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	var body bytes.Buffer
	if _, err := body.ReadFrom(req.Body); err != nil {
		return
	}
	r.mu.Lock()
	i := len(r.windows)
	r.windows = append(r.windows, window{id: req.Header.Get(standardwebhooks.HeaderID), marker: markerIn(body.Bytes()), start: start})
	r.mu.Unlock()

	completed := false
	t := time.NewTimer(r.delay())
	select {
	case <-t.C:
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		completed = req.Context().Err() == nil
	case <-req.Context().Done():
		t.Stop()
	}
	r.mu.Lock()
	r.windows[i].end, r.windows[i].completed = time.Now(), completed
	r.mu.Unlock()
}

// URL is the receiver's base URL.
func (r *slowReceiver) URL() string { return r.srv.URL }

// snapshot returns every request recorded so far.
func (r *slowReceiver) snapshot() []window {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.windows)
}

// started counts the requests that arrived so far.
func (r *slowReceiver) started() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.windows)
}

// arrivals lists the requests answered 200 in full.
func (r *slowReceiver) arrivals() []arrival {
	var out []arrival
	for _, w := range r.snapshot() {
		if w.completed {
			out = append(out, arrival{id: w.id, marker: w.marker})
		}
	}
	return out
}

// overlaps returns, for every webhook-id, the pairs of requests that were
// in progress at the same time (a request still in progress counts as
// lasting until now).
func overlaps(ws []window) []string {
	byID := map[string][]window{}
	for _, w := range ws {
		byID[w.id] = append(byID[w.id], w)
	}
	now := time.Now()
	var out []string
	for id, list := range byID {
		slices.SortFunc(list, func(a, b window) int { return a.start.Compare(b.start) })
		for i := 1; i < len(list); i++ {
			prevEnd := list[i-1].end
			if prevEnd.IsZero() {
				prevEnd = now
			}
			if list[i].start.Before(prevEnd) {
				out = append(out, fmt.Sprintf("webhook-id %s: request at %s began before the one at %s ended (%s)",
					id, list[i].start.Format("15:04:05.000"), list[i-1].start.Format("15:04:05.000"), prevEnd.Format("15:04:05.000")))
			}
		}
	}
	return out
}

// unexplainedResends returns the webhook-ids sent again with no kill in
// between: sends[id] are the times a delivery reached the receiver, kills
// the times the server was killed. At-least-once allows a resend only of
// a delivery whose outcome a killed process never recorded.
func unexplainedResends(sends map[string][]time.Time, kills []time.Time) []string {
	var out []string
	for id, times := range sends {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(times); i++ {
			if !slices.ContainsFunc(kills, func(k time.Time) bool { return times[i-1].Before(k) && !times[i].Before(k) }) {
				out = append(out, fmt.Sprintf("webhook-id %s at %s and again at %s", id,
					times[i-1].Format("15:04:05.000"), times[i].Format("15:04:05.000")))
			}
		}
	}
	slices.Sort(out)
	return out
}

// reportAll fails t with each problem, up to ten, then their number.
func reportAll(t *testing.T, what string, problems []string) {
	t.Helper()
	for i, p := range problems {
		if i == 10 {
			t.Errorf("… and %d more", len(problems)-i)
			return
		}
		t.Errorf("%s: %s", what, p)
	}
}

// stampProxy is a reverse proxy in front of a peer that records when each
// request arrived, before the peer answers it.
type stampProxy struct {
	srv *httptest.Server

	mu      sync.Mutex
	stamps  []time.Time
	changed chan struct{}
}

func newStampProxy(t *testing.T, target string) *stampProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	p := &stampProxy{changed: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		p.mu.Lock()
		p.stamps = append(p.stamps, now)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.srv.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// waitFor waits until n requests arrived and returns their arrival times.
func (p *stampProxy) waitFor(t *testing.T, n int, timeout time.Duration) []time.Time {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got, changed := slices.Clone(p.stamps), p.changed
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("proxy: %d requests after %s, want %d", len(got), timeout, n)
		}
	}
}

// storedDelivery is a delivery as `switchboard deliveries --json` prints
// it.
type storedDelivery struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// cliDeliveries runs `switchboard deliveries --json` with the given store
// flags and filters.
func cliDeliveries(t *testing.T, args ...string) []storedDelivery {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append([]string{"deliveries", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("switchboard deliveries %v: exit %d\n%s", args, code, errOut)
	}
	var list []storedDelivery
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("switchboard deliveries --json: %v\n%s", err, out)
	}
	return list
}

// apiDelivery is GET /api/v1/deliveries/{id}'s answer.
type apiDelivery struct {
	Delivery struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	} `json:"delivery"`
	Attempts []struct {
		No      int    `json:"attempt"`
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
	} `json:"attempts"`
}

// request makes one request to s on behalf of t (which may be a subtest,
// unlike server.do).
func request(t *testing.T, s *server, method, path string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, string(b), resp.Header}
}

// getDelivery reads one delivery and its attempts through the admin API.
func getDelivery(t *testing.T, s *server, id string) apiDelivery {
	t.Helper()
	r := request(t, s, "GET", "/api/v1/deliveries/"+id, "Authorization", "Bearer "+adminToken)
	if r.code != 200 {
		t.Fatalf("GET /api/v1/deliveries/%s: %d %s", id, r.code, r.body)
	}
	var d apiDelivery
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatalf("GET /api/v1/deliveries/%s: %v\n%s", id, err, r.body)
	}
	return d
}

// listDeliveries returns the IDs GET /api/v1/deliveries lists for a
// status.
func listDeliveries(t *testing.T, s *server, status string) []string {
	t.Helper()
	r := request(t, s, "GET", "/api/v1/deliveries?limit=1000&status="+status, "Authorization", "Bearer "+adminToken)
	if r.code != 200 {
		t.Fatalf("GET /api/v1/deliveries?status=%s: %d %s", status, r.code, r.body)
	}
	var list struct {
		Deliveries []struct {
			ID string `json:"id"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("GET /api/v1/deliveries: %v\n%s", err, r.body)
	}
	var ids []string
	for _, d := range list.Deliveries {
		ids = append(ids, d.ID)
	}
	return ids
}

// metric returns the value of one sample of the server's /metrics ("" if
// absent), e.g. `switchboard_deliveries{state="delivered"}`.
func metric(t *testing.T, s *server, sample string) string {
	t.Helper()
	for _, line := range strings.Split(request(t, s, "GET", "/metrics").body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// waitExit waits up to timeout for the process to exit and returns its
// exit error; the harness's cleanup still sees the exit afterwards.
func (s *server) waitExit(timeout time.Duration) error {
	s.t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(timeout):
		s.t.Fatalf("switchboard did not exit within %s", timeout)
		return nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.t.Helper()
	err := s.stop(syscall.SIGKILL)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		s.t.Fatalf("switchboard did not die of SIGKILL: %v", err)
	}
}

// addr is the server's host:port.
func (s *server) addr() string { return strings.TrimPrefix(s.url, "http://") }

// dataDir is the server's SQLite data directory.
func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }

// seedFromEnv returns the seed in the environment variable name, or a new
// one; the test logs it so that a failing run can be repeated.
func seedFromEnv(t *testing.T, name string) uint64 {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, v, err)
		}
		return seed
	}
	return rand.Uint64()
}

// partialRequest is a connection to the server on which a webhook request
// was begun (its first header lines sent) and not finished: the server
// counts the connection as new, not idle, so a graceful shutdown waits for
// it a while.
type partialRequest struct {
	conn net.Conn
	body []byte
}

func beginRequest(t *testing.T, addr string, body []byte) *partialRequest {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "POST /webhooks/lago HTTP/1.1\r\nHost: %s\r\n", addr); err != nil {
		t.Fatal(err)
	}
	// The server accepts connections in order: once a request on a newer
	// connection is answered, this one was accepted and is tracked.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return &partialRequest{conn: conn, body: body}
}

// finish sends the rest of the request's header and reads the answer; an
// error means the server closed the connection without one. The request
// asks for 100-continue and sends its body only if told to: a server that
// answers at once (as one shutting down does) then closes a connection
// with no unread data, so its answer is never lost to a reset.
func (p *partialRequest) finish(t *testing.T) (*http.Response, error) {
	t.Helper()
	_ = p.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(p.conn, "Content-Type: application/json\r\nX-Lago-Signature: %s\r\nX-Lago-Signature-Algorithm: hmac\r\n"+
		"X-Lago-Unique-Key: during-shutdown\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", lagoSign(lagoSecret, p.body), len(p.body)); err != nil {
		return nil, err
	}
	br := bufio.NewReader(p.conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		return resp, err
	}
	if _, err := p.conn.Write(p.body); err != nil {
		return nil, err
	}
	return http.ReadResponse(br, nil)
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitIdle waits until the server has no delivery pending or in flight:
// every send the test caused has been made (a delivery leaves flight only
// after its peer answered), so a check that nothing more arrived can
// follow without sleeping. In flight is read before and after pending, so
// that a delivery moving between the two is seen.
func waitIdle(t *testing.T, s *server) {
	t.Helper()
	testkit.EventuallyEvery(t, "no delivery pending or in flight", 30*time.Second, 50*time.Millisecond, func() bool {
		return len(listDeliveries(t, s, "in_flight")) == 0 && len(listDeliveries(t, s, "pending")) == 0 &&
			len(listDeliveries(t, s, "in_flight")) == 0
	})
}
