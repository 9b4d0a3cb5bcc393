package testpeer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
)

// Request is one request a Receiver recorded.
type Request struct {
	Method string
	// Path is decoded ("/hooks/a/b"); EscapedPath is as sent
	// ("/hooks/a%2Fb").
	Path        string
	EscapedPath string
	RawQuery    string
	Header      http.Header
	Body        []byte
	// Received is when the request arrived.
	Received time.Time
}

// VerifySignature checks the request's Standard Webhooks headers against
// secret ("whsec_…"), with the default tolerance around the time the
// request arrived.
func (q Request) VerifySignature(secret string) error {
	key, err := standardwebhooks.ParseKey(secret)
	if err != nil {
		return err
	}
	return key.Verify(
		q.Header.Get(standardwebhooks.HeaderID),
		q.Header.Get(standardwebhooks.HeaderTimestamp),
		q.Header.Get(standardwebhooks.HeaderSignature),
		q.Body, q.Received, standardwebhooks.DefaultTolerance)
}

// Reply is a scripted answer of a Receiver. The zero Reply is 200 with an
// empty body.
type Reply struct {
	// Status defaults to 200.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header (seconds or
	// an HTTP date).
	RetryAfter string
	// Header holds extra response headers (Location for a redirect).
	Header http.Header
	Body   string
	// Hang blocks the answer until the request's context ends (the client
	// gave up) or the Receiver closes.
	Hang bool
}

// Receiver is an HTTP server on 127.0.0.1 that records every request and
// answers with scripted replies: first the queued ones (Enqueue), in
// order, then 503 while a FailFor window lasts, then the default reply
// (SetDefault; 200 unless changed). It is safe for concurrent use and is
// closed when the test ends.
type Receiver struct {
	t         testing.TB
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every recorded request
	reqs      []Request
	queue     []Reply
	def       Reply
	failUntil time.Time
}

// NewReceiver starts a Receiver that answers 200 and closes with the test.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{t: t, closed: make(chan struct{}), changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// URL is the Receiver's base URL, "http://127.0.0.1:<port>", without a
// trailing slash.
func (r *Receiver) URL() string { return r.srv.URL }

// Close releases hanging requests and stops the server. It is called
// automatically when the test ends; calling it again does nothing.
func (r *Receiver) Close() {
	r.closeOnce.Do(func() {
		close(r.closed)
		r.srv.Close()
	})
}

// Enqueue adds replies used, one per request and in order, before any
// other behaviour.
func (r *Receiver) Enqueue(replies ...Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, replies...)
}

// SetDefault sets the reply used once the queue is empty and no FailFor
// window is open.
func (r *Receiver) SetDefault(rep Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = rep
}

// FailFor answers 503 (without Retry-After) to every request arriving in
// the next d, then the default reply again.
func (r *Receiver) FailFor(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failUntil = time.Now().Add(d)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	received := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		// The client went away mid-body: nothing was delivered.
		return
	}

	r.mu.Lock()
	r.reqs = append(r.reqs, Request{
		Method:      req.Method,
		Path:        req.URL.Path,
		EscapedPath: req.URL.EscapedPath(),
		RawQuery:    req.URL.RawQuery,
		Header:      req.Header.Clone(),
		Body:        body,
		Received:    received,
	})
	close(r.changed)
	r.changed = make(chan struct{})
	var rep Reply
	switch {
	case len(r.queue) > 0:
		rep = r.queue[0]
		r.queue = r.queue[1:]
	case received.Before(r.failUntil):
		rep = Reply{Status: http.StatusServiceUnavailable}
	default:
		rep = r.def
	}
	r.mu.Unlock()

	if rep.Hang {
		select {
		case <-req.Context().Done():
		case <-r.closed:
		}
		return
	}
	for k, vs := range rep.Header {
		w.Header()[k] = vs
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, rep.Body)
}

// Requests returns a copy of every request recorded so far, in arrival
// order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Count is the number of requests recorded so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// WaitFor waits until at least n requests were recorded and returns all of
// them. After timeout it fails the test, so call it from the test's
// goroutine.
func (r *Receiver) WaitFor(n int, timeout time.Duration) []Request {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, changed := len(r.reqs), r.changed
		if got >= n {
			out := append([]Request(nil), r.reqs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			r.t.Fatalf("receiver: got %d requests after %s, want at least %d", got, timeout, n)
			return nil
		}
	}
}

// IDs counts the webhook-id values of the recorded requests: how many are
// distinct and how many requests carried one. total-distinct is the number
// of duplicate deliveries.
func (r *Receiver) IDs() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(r.reqs))
	for _, q := range r.reqs {
		id := q.Header.Get(standardwebhooks.HeaderID)
		if id == "" {
			continue
		}
		total++
		seen[id] = true
	}
	return len(seen), total
}

// Duplicates returns each webhook-id received more than once, with how
// many times it was received.
func (r *Receiver) Duplicates() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[string]int, len(r.reqs))
	for _, q := range r.reqs {
		if id := q.Header.Get(standardwebhooks.HeaderID); id != "" {
			counts[id]++
		}
	}
	for id, c := range counts {
		if c < 2 {
			delete(counts, id)
		}
	}
	return counts
}

// CheckSignatures verifies the Standard Webhooks signature of every
// recorded request with secret and returns one error per request that
// fails. It is an error to have recorded no request.
func (r *Receiver) CheckSignatures(secret string) error {
	reqs := r.Requests()
	if len(reqs) == 0 {
		return errors.New("receiver: no request recorded")
	}
	var errs []error
	for i, q := range reqs {
		if err := q.VerifySignature(secret); err != nil {
			errs = append(errs, fmt.Errorf("request %d (webhook-id %s): %w", i, strconv.Quote(q.Header.Get(standardwebhooks.HeaderID)), err))
		}
	}
	return errors.Join(errs...)
}

// Verify fails t unless every recorded request carries a valid Standard
// Webhooks signature made with secret.
func (r *Receiver) Verify(t testing.TB, secret string) {
	t.Helper()
	if err := r.CheckSignatures(secret); err != nil {
		t.Errorf("signatures: %v", err)
	}
}
