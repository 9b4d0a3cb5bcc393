package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpg"
	"github.com/switchboard-dev/switchboard/notifiers"
)

var pg testpg.Shared

func TestMain(m *testing.M) { testkit.Main(m, &pg) }

// receiver is a real HTTP peer that records what it receives and answers
// as scripted.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	got      []received
	cur, max int
	// script answers the nth request (from 1): status and Retry-After.
	script func(n int) (status int, retryAfter string)
	// hold delays every answer; block, if set, holds requests until it is
	// closed or the client gives up.
	hold  time.Duration
	block chan struct{}
}

type received struct {
	id, body string
	at       time.Time
}

func newReceiver(t *testing.T, script func(n int) (int, string)) *receiver {
	t.Helper()
	r := &receiver{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.mu.Lock()
		if r.block != nil {
			select {
			case <-r.block:
			default:
				close(r.block)
			}
		}
		r.mu.Unlock()
		r.srv.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(req.Body)
	r.mu.Lock()
	r.got = append(r.got, received{id: req.Header.Get("Webhook-Id"), body: body.String(), at: time.Now()})
	n := len(r.got)
	r.cur++
	r.max = max(r.max, r.cur)
	hold, block := r.hold, r.block
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cur--
		r.mu.Unlock()
	}()
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-req.Context().Done():
			return
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-req.Context().Done():
			return
		}
	}
	status, retryAfter := http.StatusOK, ""
	if r.script != nil {
		status, retryAfter = r.script(n)
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "answer %d", status)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) maxConcurrent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.max
}

// postNotifier is a minimal HTTP notifier: it POSTs Parts.Body with the
// delivery ID in Webhook-Id and classifies the answer with
// notifiers.CheckResponse.
type postNotifier struct {
	url    string
	client *http.Client
}

func newPostNotifier(t *testing.T, url string) *postNotifier {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &postNotifier{url: url, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (n *postNotifier) Notify(ctx context.Context, d notifiers.Notification) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, strings.NewReader(d.Parts.Body))
	if err != nil {
		return notifiers.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Id", d.ID)
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	return notifiers.CheckResponse(resp, time.Now())
}

// channels is a configuration that tests can swap, as a reload does.
type channels struct {
	mu sync.Mutex
	m  map[string]delivery.Channel
}

func (c *channels) set(name string, ch delivery.Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]delivery.Channel{}
	}
	c.m[name] = ch
}

func (c *channels) resolve(name string) (delivery.Channel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[name]
	return ch, ok
}

// env is a store, a dispatcher running on it, and what the test needs to
// watch them.
type env struct {
	st       *store.Store
	disp     *delivery.Dispatcher
	opts     delivery.Options
	channels *channels
	reg      *prometheus.Registry
	logs     *testkit.LogBuffer
	cancel   context.CancelFunc
	done     chan error
	// lease is how long ingested deliveries are leased for (default 30 s).
	lease time.Duration
}

var ownerSeq atomic.Int64

func openStore(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	if o.DataDir == "" && o.DatabaseURL == "" {
		o.DataDir = t.TempDir()
	}
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newEnv creates a dispatcher on st with fast test settings, adjusted by
// tune. It does not start it: see run.
func newEnv(t *testing.T, st *store.Store, chs *channels, tune func(*delivery.Options)) *env {
	t.Helper()
	e := &env{st: st, channels: chs, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}}
	e.opts = delivery.Options{
		Store:        st,
		Resolve:      chs.resolve,
		Owner:        fmt.Sprintf("replica-%d", ownerSeq.Add(1)),
		Logger:       e.logs.Logger(),
		Metrics:      metrics.New(e.reg),
		PollInterval: 50 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 50 * time.Millisecond },
	}
	if tune != nil {
		tune(&e.opts)
	}
	e.disp = delivery.New(e.opts)
	return e
}

// run starts the dispatcher; it is stopped at the end of the test.
func (e *env) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.disp.Run(ctx) }()
	t.Cleanup(func() { e.stop(t) })
}

// stop cancels Run and waits for it to return.
func (e *env) stop(t *testing.T) error {
	t.Helper()
	if e.cancel == nil {
		return nil
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of its context being cancelled")
		return nil
	}
}

var idSeq atomic.Int64

// ingest stores a message with one delivery per channel, leased to the
// dispatcher's owner, and submits them as the ingest handler does.
func (e *env) ingest(t *testing.T, chans ...string) []store.StoredDelivery {
	t.Helper()
	ds := e.enqueue(t, true, chans...)
	e.disp.Submit(ds)
	return ds
}

// enqueue stores a message with one delivery per channel, leased or
// pending, and returns them as ingest would submit them.
func (e *env) enqueue(t *testing.T, leased bool, chans ...string) []store.StoredDelivery {
	t.Helper()
	now := time.Now()
	m := store.Message{
		ID: fmt.Sprintf("msg_%d", idSeq.Add(1)), Source: "lago", WebhookType: "invoice.created",
		RulesVersion: "v1", ReceivedAt: now, Body: []byte(`{"webhook_type":"invoice.created"}`),
	}
	var news []store.RoutedDelivery
	var out []store.StoredDelivery
	for _, ch := range chans {
		id := fmt.Sprintf("dlv_%d", idSeq.Add(1))
		nd := store.RoutedDelivery{Notification: notifiers.Notification{
			ID: id, MessageID: m.ID, Rule: "large-invoice", Channel: ch,
			Parts: notifiers.Parts{Body: fmt.Sprintf(`{"delivery":%q}`, id), Text: "private content"},
		}}
		if leased {
			lease := e.lease
			if lease == 0 {
				lease = 30 * time.Second
			}
			nd.LeaseUntil = now.Add(lease)
		}
		news = append(news, nd)
		out = append(out, store.StoredDelivery{
			Notification: nd.Notification, State: store.StateInFlight, CreatedAt: now, QueuedAt: now, NextAttemptAt: now,
			WebhookType: m.WebhookType, Source: m.Source, ReceivedAt: now,
			LeaseOwner: e.opts.Owner, LeaseUntil: nd.LeaseUntil,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if dup, err := e.st.Enqueue(ctx, m, e.opts.Owner, news); err != nil || dup {
		t.Fatalf("Enqueue = %v, %v", dup, err)
	}
	return out
}

func (e *env) get(t *testing.T, id string) (store.StoredDelivery, []store.Attempt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, as, err := e.st.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return d, as
}

// waitState waits until the delivery reaches state.
func (e *env) waitState(t *testing.T, id, state string) (store.StoredDelivery, []store.Attempt) {
	t.Helper()
	var d store.StoredDelivery
	var as []store.Attempt
	waitFor(t, 30*time.Second, func() bool {
		d, as = e.get(t, id)
		return d.State == state
	}, func() string { return fmt.Sprintf("delivery %s is %s (%q), want %s", id, d.State, d.LastError, state) })
	return d, as
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	if !testkit.Poll(timeout, cond) {
		t.Fatalf("after %s: %s", timeout, msg())
	}
}

// counter reads a counter or gauge with the given labels from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// waitIdle waits until no delivery is pending or in flight: every send the
// test caused has been made and recorded, so no more can reach a peer.
func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, "an idle queue", 20*time.Second, func() bool {
		st, err := e.st.Stats(context.Background())
		return err == nil && st.ByState[store.StatePending]+st.ByState[store.StateInFlight] == 0
	})
}

// polled wakes each dispatcher and waits until it has finished two more
// looks at the store, so that one whole look saw the test's last change
// (a clock moved): what was due then is claimed — in flight in the store —
// or, for an escalation, made a delivery and claimed. Tests wait for this,
// then look at the store, instead of sleeping through "a few polls".
func polled(t *testing.T, ds ...*delivery.Dispatcher) {
	t.Helper()
	for _, d := range ds {
		n := d.Polls()
		testkit.Eventually(t, "two polls of the store", 10*time.Second, func() bool {
			d.Wake()
			return d.Polls() >= n+2
		})
	}
}

// inFlight counts the deliveries claimed and not finished.
func inFlight(t *testing.T, st *store.Store) int64 {
	t.Helper()
	s, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.ByState[store.StateInFlight]
}
