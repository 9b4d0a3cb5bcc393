package delivery_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
)

func newTestClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
}

// breakerOf reads a channel's shared breaker.
func breakerOf(t *testing.T, st *store.Store, channel string) store.Breaker {
	t.Helper()
	all, err := st.Breakers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return all[channel]
}

// countLines counts log lines holding every one of subs.
func countLines(logs string, subs ...string) int {
	n := 0
line:
	for _, l := range strings.Split(logs, "\n") {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue line
			}
		}
		n++
	}
	return n
}

// TestBreakerOpensProbesAndCloses takes a receiver down: after three
// failures in a row the channel opens, later deliveries wait without an
// attempt (and without attempt rows), one probe goes out per interval
// (30 s, then 60 s after a failed probe), and the first success closes the
// channel and sends everything that waited. The on_failure channel hears
// of the opening and the recovery; the log has one line for each.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	var up atomic.Bool
	rcv := newReceiver(t, func(int) (int, string) {
		if up.Load() {
			return http.StatusOK, ""
		}
		return http.StatusServiceUnavailable, ""
	})
	ops := newReceiver(t, nil)
	clock := newTestClock()
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Timeout: 5 * time.Second,
		Concurrency: 1, Kind: "http", OnFailure: "ops",
		Breaker: store.BreakerPolicy{Failures: 3, Probe: 30 * time.Second}})
	chs.set("ops", delivery.Channel{Notifier: newPostNotifier(t, ops.srv.URL), Kind: "http"})
	st := openStore(t, store.Options{Now: clock.Now})
	e := newEnv(t, st, chs, func(o *delivery.Options) { o.Now = clock.Now })
	e.run(t)

	// Three failures: the first delivery's first attempt, then its
	// retries as the clock moves on.
	first := e.ingest(t, "crm")[0]
	for i := 1; i <= 3; i++ {
		waitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) >= i },
			func() string { return "attempt not made" })
		if i < 3 {
			waitFor(t, 10*time.Second, func() bool {
				d, _ := e.get(t, first.ID)
				return d.State == store.StatePending && d.Attempts == i
			}, func() string { return "retry not scheduled" })
			clock.Add(time.Second)
			e.disp.Wake()
		}
	}
	waitFor(t, 10*time.Second, func() bool { return breakerOf(t, st, "crm").IsOpen() },
		func() string { return "breaker did not open" })

	// While open: new deliveries and the first one's retry wait, unsent,
	// with no attempt rows.
	var later []store.StoredDelivery
	for range 5 {
		later = append(later, e.ingest(t, "crm")...)
	}
	clock.Add(5 * time.Second) // the first delivery's retry falls due
	e.disp.Wake()
	for _, d := range append(later, first) {
		waitFor(t, 10*time.Second, func() bool {
			got, _ := e.get(t, d.ID)
			return got.State == store.StatePending && got.NextAttemptAt.Equal(store.Parked)
		}, func() string { return "delivery " + d.ID + " not parked" })
	}
	for _, d := range later {
		got, history := e.get(t, d.ID)
		if got.Attempts != 0 || len(history) != 0 {
			t.Errorf("delivery %s attempted while open: %d attempts, %d rows", d.ID, got.Attempts, len(history))
		}
	}
	if n := len(rcv.requests()); n != 3 {
		t.Fatalf("receiver got %d requests while open, want the 3 that opened it", n)
	}

	// The probe is due after 30 s: exactly one request, which fails and
	// doubles the interval.
	clock.Add(26 * time.Second)
	waitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) == 4 },
		func() string { return "no probe after 30 s" })
	waitFor(t, 10*time.Second, func() bool { return breakerOf(t, st, "crm").ProbeEvery == time.Minute },
		func() string { return "probe interval did not double" })
	waitFor(t, 10*time.Second, func() bool { return inFlight(t, st) == 0 }, func() string { return "the probe still in flight" })
	clock.Add(59 * time.Second)
	// A probe claimed by this look would be sent before it left flight.
	polled(t, e.disp)
	waitFor(t, 10*time.Second, func() bool { return inFlight(t, st) == 0 }, func() string { return "deliveries still in flight" })
	if n := len(rcv.requests()); n != 4 {
		t.Fatalf("%d requests before the second probe was due, want 4", n)
	}

	// The receiver is back: the next probe succeeds, the channel closes
	// and the backlog drains.
	up.Store(true)
	clock.Add(2 * time.Second)
	for _, d := range append(later, first) {
		e.waitState(t, d.ID, store.StateDelivered)
	}
	if b := breakerOf(t, st, "crm"); b.IsOpen() || b.Failures != 0 || b.Opens != 1 {
		t.Fatalf("breaker after recovery: %+v", b)
	}

	logs := e.logs.String()
	if n := countLines(logs, `"channel open`, `"channel":"crm"`); n != 1 {
		t.Errorf("%d 'channel open' lines, want 1:\n%s", n, logs)
	}
	if n := countLines(logs, `"channel closed`, `"channel":"crm"`, `"open_for":"1m`); n != 1 {
		t.Errorf("%d 'channel closed' lines with the open duration, want 1:\n%s", n, logs)
	}
	if n := countLines(logs, `"level":"WARN"`, "delivery failed"); n != 0 {
		t.Errorf("%d attempt failures logged above debug level", n)
	}
	if got := counter(t, e.reg, "switchboard_channel_open_total", map[string]string{"channel": "crm"}); got != 1 {
		t.Errorf("channel_open_total = %v, want 1", got)
	}
	waitFor(t, 10*time.Second, func() bool {
		return counter(t, e.reg, "switchboard_channel_state", map[string]string{"channel": "crm"}) == 0
	}, func() string { return "channel_state not back to 0" })

	// The ops channel heard of both events.
	var events []string
	waitFor(t, 10*time.Second, func() bool { return len(ops.requests()) == 2 }, func() string { return "notices not sent" })
	for _, r := range ops.requests() {
		var n struct{ Type, Channel, Text string }
		if err := json.Unmarshal([]byte(r.body), &n); err != nil {
			t.Fatalf("notice body %q: %v", r.body, err)
		}
		events = append(events, n.Type+": "+n.Text)
	}
	want := []string{
		"switchboard.channel_opened: crm is failing: sending paused after 3 failures in a row; 1 waiting",
		"switchboard.channel_closed: crm recovered after 2 min; 5 waiting deliveries are being sent",
	}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}

// TestRateLimitPausesTheChannel answers the first request with 429 and
// Retry-After: 60. The channel pauses: the other deliveries wait for the
// pause without an attempt, the breaker stays closed, and everything goes
// out once the minute is over.
func TestRateLimitPausesTheChannel(t *testing.T) {
	rcv := newReceiver(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusTooManyRequests, "60"
		}
		return http.StatusOK, ""
	})
	clock := newTestClock()
	chs := &channels{}
	chs.set("slack", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 1})
	st := openStore(t, store.Options{Now: clock.Now})
	e := newEnv(t, st, chs, func(o *delivery.Options) { o.Now = clock.Now })
	e.run(t)
	ds := e.ingest(t, "slack", "slack", "slack")
	pauseEnd := clock.Now().Add(time.Minute)
	for _, d := range ds {
		waitFor(t, 10*time.Second, func() bool {
			got, _ := e.get(t, d.ID)
			return got.State == store.StatePending && !got.NextAttemptAt.Before(pauseEnd)
		}, func() string { return "delivery " + d.ID + " not waiting for the pause" })
	}
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("%d requests during the pause, want 1", n)
	}
	attempted := 0
	for _, d := range ds {
		got, history := e.get(t, d.ID)
		attempted += len(history)
		if got.Attempts != len(history) {
			t.Errorf("delivery %s: %d attempts, %d rows", d.ID, got.Attempts, len(history))
		}
	}
	if attempted != 1 {
		t.Fatalf("%d attempt rows, want 1 (the 429)", attempted)
	}
	if b := breakerOf(t, st, "slack"); b.IsOpen() || b.Failures != 0 || !b.PausedUntil.Equal(pauseEnd) {
		t.Fatalf("breaker %+v: a rate limit pauses, it does not count as a failure", b)
	}
	clock.Add(time.Minute + time.Second)
	e.disp.Wake()
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDelivered)
	}
	if n := len(rcv.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
}

// TestReplicasShareOneBreaker runs two dispatchers on one PostgreSQL
// database. One opens the breaker; the other follows it (its deliveries
// wait unattempted), only one probe goes out per interval between them,
// and the opening is logged once.
func TestReplicasShareOneBreaker(t *testing.T) {
	var up atomic.Bool
	rcv := newReceiver(t, func(int) (int, string) {
		if up.Load() {
			return http.StatusOK, ""
		}
		return http.StatusBadGateway, ""
	})
	clock := newTestClock()
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Concurrency: 2,
		Breaker: store.BreakerPolicy{Failures: 2, Probe: 30 * time.Second}})
	o := store.Options{DatabaseURL: pg.DSN(t), Now: clock.Now}
	tune := func(o *delivery.Options) { o.Now = clock.Now }
	a := newEnv(t, openStore(t, o), chs, tune)
	b := newEnv(t, openStore(t, o), chs, tune)
	a.run(t)
	b.run(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a:\n%s\nb:\n%s", a.logs.String(), b.logs.String())
		}
	})

	ds := a.ingest(t, "crm", "crm")
	waitFor(t, 10*time.Second, func() bool { return breakerOf(t, b.st, "crm").IsOpen() },
		func() string { return "breaker did not open" })
	waitFor(t, 10*time.Second, func() bool { h, ok := b.disp.HoldUntil("crm"); return ok && h.Equal(store.Parked) },
		func() string { return "replica b did not learn that crm is open" })
	more := b.ingest(t, "crm", "crm", "crm")
	for _, d := range more {
		waitFor(t, 10*time.Second, func() bool {
			got, _ := b.get(t, d.ID)
			return got.State == store.StatePending && got.NextAttemptAt.Equal(store.Parked) && got.Attempts == 0
		}, func() string {
			got, _ := b.get(t, d.ID)
			return fmt.Sprintf("delivery %s not parked by replica b: %s next %v attempts %d", d.ID, got.State, got.NextAttemptAt, got.Attempts)
		})
	}
	if n := len(rcv.requests()); n != 2 {
		t.Fatalf("%d requests, want the 2 that opened the breaker", n)
	}
	// One probe between the two replicas.
	clock.Add(31 * time.Second)
	waitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) == 3 }, func() string { return "no probe" })
	waitFor(t, 10*time.Second, func() bool { return inFlight(t, a.st) == 0 }, func() string { return "the probe still in flight" })
	// A second probe claimed by these looks would be sent before it left
	// flight.
	polled(t, a.disp, b.disp)
	waitFor(t, 10*time.Second, func() bool { return inFlight(t, a.st) == 0 }, func() string { return "deliveries still in flight" })
	if n := len(rcv.requests()); n != 3 {
		t.Fatalf("%d requests after one probe interval, want 3 (one probe)", n)
	}
	up.Store(true)
	clock.Add(61 * time.Second)
	for _, d := range append(ds, more...) {
		a.waitState(t, d.ID, store.StateDelivered)
	}
	logs := a.logs.String() + b.logs.String()
	if n := countLines(logs, `"channel open`); n != 1 {
		t.Errorf("%d 'channel open' lines across replicas, want 1", n)
	}
	if n := countLines(logs, `"channel closed`); n != 1 {
		t.Errorf("%d 'channel closed' lines across replicas, want 1", n)
	}
}

// TestDeadDeliveriesAreAnnounced: deliveries that go dead are announced
// through the on_failure channel at most once a minute, in one notice.
func TestDeadDeliveriesAreAnnounced(t *testing.T) {
	rcv := newReceiver(t, func(int) (int, string) { return http.StatusBadRequest, "" })
	ops := newReceiver(t, nil)
	clock := newTestClock()
	chs := &channels{}
	chs.set("crm", delivery.Channel{Notifier: newPostNotifier(t, rcv.srv.URL), Kind: "http", OnFailure: "ops"})
	chs.set("ops", delivery.Channel{Notifier: newPostNotifier(t, ops.srv.URL), Kind: "http"})
	e := newEnv(t, openStore(t, store.Options{Now: clock.Now}), chs, func(o *delivery.Options) { o.Now = clock.Now })
	e.run(t)
	ds := e.ingest(t, "crm", "crm")
	for _, d := range ds {
		e.waitState(t, d.ID, store.StateDead)
	}
	// Whole looks at the store, and whatever they queued sent: nothing
	// before the minute is over.
	polled(t, e.disp)
	e.waitIdle(t)
	if n := len(ops.requests()); n != 0 {
		t.Fatalf("%d notices before the minute was over", n)
	}
	clock.Add(delivery.SummaryInterval)
	waitFor(t, 10*time.Second, func() bool { return len(ops.requests()) == 1 }, func() string { return "no dead notice" })
	var n struct {
		Type, Text, Replay string
		DeadByRule         map[string]int `json:"dead_by_rule"`
	}
	if err := json.Unmarshal([]byte(ops.requests()[0].body), &n); err != nil {
		t.Fatal(err)
	}
	if n.Type != "switchboard.channel_dead" || n.Text != "2 deliveries to crm went dead" || n.DeadByRule["large-invoice"] != 2 ||
		n.Replay != "switchboard replay --channel crm --since 2h" {
		t.Fatalf("notice %+v", n)
	}
	if b := breakerOf(t, e.st, "crm"); b.Failures != 0 || b.IsOpen() {
		t.Fatalf("permanent failures counted towards the breaker: %+v", b)
	}
}
