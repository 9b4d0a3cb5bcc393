package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

func TestOutcomes(t *testing.T) {
	always := func(status int, retryAfter string) func(int) (int, string) {
		return func(int) (int, string) { return status, retryAfter }
	}
	tests := []struct {
		name      string
		script    func(n int) (int, string)
		maxAtt    int
		maxAge    time.Duration
		backoff   time.Duration
		state     string
		requests  int
		outcomes  []string // attempt history
		lastError string   // substring
	}{
		{name: "delivered", script: always(200, ""), state: store.StateDelivered, requests: 1,
			outcomes: []string{"success"}},
		{name: "503 twice then delivered", script: func(n int) (int, string) {
			if n <= 2 {
				return 503, ""
			}
			return 204, ""
		}, state: store.StateDelivered, requests: 3, outcomes: []string{"retry", "retry", "success"}},
		{name: "permanent is dead at once", script: always(404, ""), state: store.StateDead, requests: 1,
			outcomes: []string{"permanent"}, lastError: "unexpected status 404: answer 404"},
		{name: "max attempts", script: always(500, ""), maxAtt: 3, state: store.StateDead, requests: 3,
			outcomes: []string{"retry", "retry", "retry"}, lastError: "gave up after 3 attempts: unexpected status 500"},
		{name: "max age", script: always(500, ""), maxAge: time.Second, backoff: time.Hour, state: store.StateDead,
			requests: 1, outcomes: []string{"retry"}, lastError: "the next attempt would fall after the retry window (max_age 1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.script)
			chs := &channels{}
			chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Timeout: 5 * time.Second,
				MaxAttempts: tt.maxAtt, MaxAge: tt.maxAge})
			e := newEnv(t, openStore(t, store.Options{}), chs, func(o *delivery.Options) {
				if tt.backoff > 0 {
					o.Backoff = func(int) time.Duration { return tt.backoff }
				}
			})
			e.run(t)
			ds := e.ingest(t, "crm")
			d, history := e.waitState(t, ds[0].ID, tt.state)

			reqs := rcv.requests()
			if len(reqs) != tt.requests {
				t.Fatalf("receiver got %d requests, want %d", len(reqs), tt.requests)
			}
			for _, r := range reqs {
				if r.id != ds[0].ID || r.body != ds[0].Parts.Body {
					t.Errorf("request id %q body %q, want %q %q", r.id, r.body, ds[0].ID, ds[0].Parts.Body)
				}
			}
			var got []string
			for i, a := range history {
				got = append(got, a.Outcome)
				if a.No != i+1 || a.Owner != e.opts.Owner || a.StartedAt.IsZero() || a.Duration <= 0 {
					t.Errorf("attempt %d: %+v", i+1, a)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.outcomes, ",") {
				t.Errorf("attempt outcomes %v, want %v", got, tt.outcomes)
			}
			if d.Attempts != tt.requests {
				t.Errorf("Attempts = %d, want %d", d.Attempts, tt.requests)
			}
			if !strings.Contains(d.LastError, tt.lastError) || (tt.lastError == "" && d.LastError != "") {
				t.Errorf("LastError = %q, want %q", d.LastError, tt.lastError)
			}
			if tt.state == store.StateDelivered && d.DeliveredAt == nil {
				t.Error("DeliveredAt not set")
			}
			// Nothing is left leased.
			if d.LeaseOwner != "" {
				t.Errorf("lease owner %q left on a finished delivery", d.LeaseOwner)
			}

			outcome := map[string]string{store.StateDelivered: "delivered", store.StateDead: "dead"}[tt.state]
			waitFor(t, 10*time.Second, func() bool {
				return counter(t, e.reg, "switchboard_deliveries_total", map[string]string{"channel": "crm", "outcome": outcome}) == 1
			}, func() string { return "deliveries_total not counted" })
			if n := counter(t, e.reg, "switchboard_delivery_duration_seconds", map[string]string{"channel": "crm"}); n != float64(tt.requests) {
				t.Errorf("delivery_duration_seconds has %v samples, want %d", n, tt.requests)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, `"delivery":"`+ds[0].ID+`"`) || !strings.Contains(logs, `"rule":"large-invoice"`) {
				t.Errorf("outcome not logged with the delivery and rule:\n%s", logs)
			}
			if strings.Contains(logs, "private content") {
				t.Errorf("delivery content leaked into the log:\n%s", logs)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rcv := newReceiver(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusTooManyRequests, "2"
		}
		return http.StatusOK, ""
	})
	chs := &channels{}
	chs.set("slack", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Timeout: 5 * time.Second})
	// The backoff would retry after 10 ms: Retry-After must win.
	e := newEnv(t, openStore(t, store.Options{}), chs, func(o *delivery.Options) {
		o.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	})
	e.run(t)
	ds := e.ingest(t, "slack")
	_, history := e.waitState(t, ds[0].ID, store.StateDelivered)
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 2*time.Second {
		t.Fatalf("second attempt %v after the first, Retry-After asked for 2s", gap)
	} else {
		t.Logf("second attempt %v after the first", gap)
	}
	if len(history) != 2 || !strings.Contains(history[0].Error, "unexpected status 429") ||
		!strings.Contains(history[0].Error, "retry after 2s") {
		t.Fatalf("history %+v", history)
	}
}

func TestUnknownChannelIsDeadAndReplayable(t *testing.T) {
	rcv := newReceiver(t, nil)
	chs := &channels{}
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)
	ds := e.ingest(t, "crm")
	d, history := e.waitState(t, ds[0].ID, store.StateDead)
	if d.LastError != `channel "crm" is not configured` || len(history) != 0 || d.Attempts != 0 {
		t.Fatalf("dead delivery: error %q attempts %d history %v", d.LastError, d.Attempts, history)
	}
	if len(rcv.requests()) != 0 {
		t.Fatal("something was sent for an unknown channel")
	}
	// The configuration is fixed; the dead letter is replayed.
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := e.st.Replay(ctx, []string{ds[0].ID}); err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	e.disp.Wake()
	e.waitState(t, ds[0].ID, store.StateDelivered)
	if reqs := rcv.requests(); len(reqs) != 1 || reqs[0].id != ds[0].ID {
		t.Fatalf("after replay the receiver got %+v", reqs)
	}
}

type panicNotifier struct{}

func (panicNotifier) Notify(context.Context, notifiers.Notification) error { panic("boom") }

func TestPanickingNotifierIsDead(t *testing.T) {
	chs := &channels{}
	chs.set("bad", delivery.Channel{Notifier: panicNotifier{}})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)
	ds := e.ingest(t, "bad")
	d, _ := e.waitState(t, ds[0].ID, store.StateDead)
	if d.LastError != "notifier panicked: boom" {
		t.Fatalf("LastError = %q", d.LastError)
	}
}

func TestPollerDeliversPendingAndReplayed(t *testing.T) {
	rcv := newReceiver(t, nil)
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL)})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	// Committed before the dispatcher starts, not leased: only the poller
	// can find them.
	ds := e.enqueue(t, false, "crm", "crm", "crm")
	e.run(t)
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDelivered)
	}
	if got := len(rcv.requests()); got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}
}

func TestRateLimit(t *testing.T) {
	rcv := newReceiver(t, nil)
	chs := &channels{}
	const n, perSecond, burst = 8, 5, 2
	chs.set("slack", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 4,
		Rate: perSecond, Burst: burst})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)
	var ds []store.StoredDelivery
	for range n {
		ds = append(ds, e.ingest(t, "slack")...)
	}
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDelivered)
	}
	reqs := rcv.requests()
	if len(reqs) != n {
		t.Fatalf("%d requests, want %d", len(reqs), n)
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].at.Before(reqs[j].at) })
	span := reqs[n-1].at.Sub(reqs[0].at)
	// The first burst goes at once, then one every 1/5 s: (8-2)/5 = 1.2 s.
	// A little slack for the receiver's clock readings.
	if min := time.Duration(float64(n-burst)/perSecond*float64(time.Second)) - 50*time.Millisecond; span < min {
		t.Fatalf("%d sends took %v, the rate limit allows no less than %v", n, span, min)
	}
	t.Logf("%d sends over %v", n, span)
}

func TestConcurrencyBoundFollowsReload(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.hold = 150 * time.Millisecond
	chs := &channels{}
	notifier := newPostNotifier(t, rcv.srv.URL)
	chs.set("crm", delivery.Channel{Notifier: notifier, Concurrency: 2})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)

	tests := []struct {
		name        string
		concurrency int
	}{
		{name: "two", concurrency: 2},
		{name: "raised to five on reload", concurrency: 5},
		{name: "lowered to one on reload", concurrency: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chs.set("crm", delivery.Channel{Notifier: notifier, Concurrency: tt.concurrency})
			rcv.mu.Lock()
			rcv.max = 0
			rcv.mu.Unlock()
			var ds []store.StoredDelivery
			for range 12 {
				ds = append(ds, e.ingest(t, "crm")...)
			}
			for _, d := range ds {
				e.waitState(t, d.ID, store.StateDelivered)
			}
			if got := rcv.maxConcurrent(); got != tt.concurrency {
				t.Fatalf("at most %d requests at once at the receiver, want %d", got, tt.concurrency)
			}
		})
	}
}

func TestWindowOverflowGoesBackToTheQueue(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.hold = 50 * time.Millisecond
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 1})
	e := newEnv(t, openStore(t, store.Options{}), chs, func(o *delivery.Options) { o.Window = 2 })
	e.run(t)
	ds := e.enqueue(t, true, "crm", "crm", "crm", "crm", "crm", "crm")
	e.disp.Submit(ds)
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDelivered)
	}
	reqs := rcv.requests()
	if len(reqs) != len(ds) {
		t.Fatalf("%d requests for %d deliveries", len(reqs), len(ds))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.id] {
			t.Errorf("delivery %s sent twice", r.id)
		}
		seen[r.id] = true
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Run("sends finish within the grace period", func(t *testing.T) {
		rcv := newReceiver(t, nil)
		rcv.hold = 300 * time.Millisecond
		chs := &channels{}
		chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 2})
		e := newEnv(t, openStore(t, store.Options{}), chs, func(o *delivery.Options) { o.ShutdownGrace = 20 * time.Second })
		e.run(t)
		ds := e.ingest(t, "crm", "crm")
		waitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) == 2 }, func() string { return "sends did not start" })
		if err := e.stop(t); err != nil {
			t.Fatalf("Run = %v", err)
		}
		for _, d := range ds {
			if got, _ := e.get(t, d.ID); got.State != store.StateDelivered {
				t.Errorf("%s is %s after shutdown, want delivered", d.ID, got.State)
			}
		}
	})

	t.Run("slow sends are cut off, everything is released", func(t *testing.T) {
		rcv := newReceiver(t, nil)
		rcv.block = make(chan struct{}) // never answers
		chs := &channels{}
		chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 1, Timeout: time.Minute})
		st := openStore(t, store.Options{})
		e := newEnv(t, st, chs, func(o *delivery.Options) { o.ShutdownGrace = 300 * time.Millisecond })
		e.run(t)
		ds := e.ingest(t, "crm", "crm", "crm")
		// Committed leased but never submitted (the process stopped in
		// between): released too.
		orphan := e.enqueue(t, true, "crm")
		waitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) == 1 }, func() string { return "send did not start" })

		start := time.Now()
		if err := e.stop(t); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("shutdown took %v with a 300ms grace period", took)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		inFlight, err := st.List(ctx, store.Filter{Status: store.StateInFlight})
		if err != nil || len(inFlight) != 0 {
			t.Fatalf("in flight after shutdown: %d, %v", len(inFlight), err)
		}
		interrupted := rcv.requests()[0].id
		for _, d := range append(ds, orphan...) {
			got, history := e.get(t, d.ID)
			if got.State != store.StatePending || got.LeaseOwner != "" {
				t.Errorf("%s: %s owned by %q, want pending", d.ID, got.State, got.LeaseOwner)
			}
			if d.ID == interrupted {
				if len(history) != 1 || !strings.Contains(history[0].Error, "interrupted by shutdown") {
					t.Errorf("interrupted send's history: %+v", history)
				}
			} else if len(history) != 0 {
				t.Errorf("%s was never sent but has history %+v", d.ID, history)
			}
		}

		// Submitted after Run returned: released at once.
		late := e.enqueue(t, true, "crm")
		e.disp.Submit(late)
		if got, _ := e.get(t, late[0].ID); got.State != store.StatePending {
			t.Errorf("delivery submitted after shutdown is %s, want pending", got.State)
		}
	})
}

// TestTwoReplicasNeverSendTwice runs two dispatchers on one database. The
// first holds deliveries queued behind a rate limit (2/s: about 3.5 s for
// all) for longer than their 2.5 s leases; renewing them must keep the
// second, polling fast, from taking them over, and no delivery may be sent
// twice.
func TestTwoReplicasNeverSendTwice(t *testing.T) {
	backends := []struct {
		name string
		opts func(t *testing.T) store.Options
	}{
		{name: "sqlite", opts: func(t *testing.T) store.Options { return store.Options{DataDir: t.TempDir()} }},
		{name: "postgres", opts: func(t *testing.T) store.Options { return store.Options{DatabaseURL: pg.DSN(t)} }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			o := b.opts(t)
			rcv := newReceiver(t, nil)
			chs := &channels{}
			const n = 8
			chs.set("slack", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Timeout: time.Second,
				Concurrency: 4, Rate: 2, Burst: 1})
			tune := func(o *delivery.Options) { o.LeaseMargin = 1500 * time.Millisecond }
			a := newEnv(t, openStore(t, o), chs, tune)
			bb := newEnv(t, openStore(t, o), chs, tune)
			// Leased as ingest does: the channel's timeout plus the margin.
			a.lease = time.Second + 1500*time.Millisecond
			a.run(t)
			// a takes everything first.
			var ds []store.StoredDelivery
			for range n {
				ds = append(ds, a.ingest(t, "slack")...)
			}
			bb.run(t)
			for _, d := range ds {
				// Renewed leases never expire, so a keeps them all.
				_, history := a.waitState(t, d.ID, store.StateDelivered)
				if len(history) != 1 || history[0].Owner != a.opts.Owner {
					t.Errorf("delivery %s: attempts %+v, want one by %s", d.ID, history, a.opts.Owner)
				}
			}
			seen := map[string]int{}
			for _, r := range rcv.requests() {
				seen[r.id]++
			}
			for _, d := range ds {
				if seen[d.ID] != 1 {
					t.Errorf("delivery %s sent %d times", d.ID, seen[d.ID])
				}
			}
			if t.Failed() {
				t.Logf("a: %s\nb: %s", a.logs.String(), bb.logs.String())
			}
		})
	}
}

// Every attempt is counted by outcome (the queue gauges are the
// maintenance package's).
func TestAttemptsCounted(t *testing.T) {
	rcv := newReceiver(t, func(int) (int, string) { return 404, "" })
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL)})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)
	ds := e.ingest(t, "crm", "crm")
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDead)
	}
	if got := counter(t, e.reg, "switchboard_delivery_attempts_total", map[string]string{"channel": "crm", "outcome": "permanent"}); got != 2 {
		t.Errorf("delivery_attempts_total{outcome=permanent} = %v, want 2", got)
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		nominal time.Duration
	}{
		{1, 5 * time.Second}, {2, 25 * time.Second}, {3, 125 * time.Second}, {4, 625 * time.Second},
		{5, 3125 * time.Second}, {6, 15625 * time.Second}, {7, 8 * time.Hour}, {40, 8 * time.Hour}, {0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			lo, hi := tt.nominal*4/5, min(tt.nominal*6/5, 8*time.Hour)
			seen := map[bool]bool{}
			for range 200 {
				d := delivery.DefaultBackoff(tt.attempt)
				if d < lo || d > hi {
					t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", tt.attempt, d, lo, hi)
				}
				seen[d > tt.nominal] = true
			}
			if tt.nominal < 8*time.Hour && len(seen) != 2 {
				t.Errorf("DefaultBackoff(%d) has no jitter around %v", tt.attempt, tt.nominal)
			}
		})
	}
	// With the default max_age (24 h), the 9th attempt is the last: the
	// waits before it add up to about 21 h.
	var total time.Duration
	for n := 1; n <= 8; n++ {
		total += min(5*time.Second*time.Duration(math.Pow(5, float64(n-1))), 8*time.Hour)
	}
	if total < 20*time.Hour || total > 22*time.Hour {
		t.Errorf("the 8 nominal waits before the 9th attempt add up to %v, want about 21h", total)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		o    delivery.Options
	}{
		{name: "no store", o: delivery.Options{Resolve: func(string) (delivery.Channel, bool) { return delivery.Channel{}, false }, Owner: "a"}},
		{name: "no owner", o: delivery.Options{Store: &store.Store{}, Resolve: func(string) (delivery.Channel, bool) { return delivery.Channel{}, false }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := delivery.New(tt.o).Run(context.Background()); err == nil {
				t.Fatal("Run started without required options")
			}
		})
	}
	e := newEnv(t, openStore(t, store.Options{}), &channels{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.disp.Run(ctx); err != nil {
		t.Fatalf("Run with a cancelled context = %v, want a clean shutdown", err)
	}
	if err := e.disp.Run(ctx); err == nil {
		t.Fatal("second Run returned no error")
	}
}

type echoNotifier struct{ msg string }

func (n echoNotifier) Notify(context.Context, notifiers.Notification) error {
	return notifiers.Permanent(errors.New(n.msg))
}

// TestErrorsAreScrubbed: a peer or a resolver that echoes a configured
// value (a host expanded from ${VAR}) has it removed from the stored
// error and the attempt history.
func TestErrorsAreScrubbed(t *testing.T) {
	chs := &channels{}
	chs.set("leaky", delivery.Channel{
		Notifier: echoNotifier{"dial tcp: lookup secret-host-value.internal: no such host"},
		Scrub:    func(s string) string { return strings.ReplaceAll(s, "secret-host-value.internal", "<secret>") },
	})
	e := newEnv(t, openStore(t, store.Options{}), chs, nil)
	e.run(t)
	ds := e.ingest(t, "leaky")
	d, history := e.waitState(t, ds[0].ID, store.StateDead)
	if d.LastError != "dial tcp: lookup <secret>: no such host" || len(history) != 1 || strings.Contains(history[0].Error, "secret-host") {
		t.Fatalf("LastError = %q, history %+v", d.LastError, history)
	}
}
