package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/internal/testpg"
)

// The durability tests run the real binary against real peers and check
// README's guarantees: a message answered 2xx is delivered whatever
// happens to the process (at least once, duplicates carrying the same
// webhook-id), retries and dead letters behave as documented, a SIGTERM
// finishes what is being sent, and replicas sharing PostgreSQL never send
// the same delivery at the same time.

// TestCrashKillNineSQLite: 1,000 signed Lago messages from 8 concurrent
// senders that retry like Lago, while the server is SIGKILLed three times
// at random moments and restarted on the same data directory and port.
// Every message answered 2xx reaches the receiver, none is queued twice,
// and nothing is left pending or in flight. SWITCHBOARD_CRASH_SEED repeats
// a run's kill moments.
func TestCrashKillNineSQLite(t *testing.T) {
	const messages, senders, kills = 1000, 8, 3
	seed := seedFromEnv(t, "SWITCHBOARD_CRASH_SEED")
	t.Logf("seed %d (SWITCHBOARD_CRASH_SEED=%d repeats the kill moments)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))

	hook := testpeer.NewReceiver(t)
	cfg := config{
		rules:  hookRules("    timeout: 2s\n    retry: {backoff: 200ms, max_backoff: 2s}"),
		env:    hookEnv(hook.URL(), "SWITCHBOARD_LOG_LEVEL=warn", "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
		dir:    t.TempDir(),
		listen: freePort(t),
	}
	s := startServer(t, cfg)
	cfg.rules = "" // restarts keep the same file

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	base := "http://" + cfg.listen
	sending := startSending(ctx, newLagoSender(t, func(int, int) string { return base }), senders, "crash",
		markedBodies(t, "crash", messages))
	done := make(chan struct{})
	go func() {
		sending.wait()
		close(done)
	}()

	// Each kill comes after a random number of accepted messages and a
	// random pause, so it lands at any point of ingest and delivery.
	var at []int64
	for range kills {
		at = append(at, 100+rng.Int64N(messages-200))
	}
	slices.Sort(at)
	var killedAt []string
	var killTimes []time.Time
	for _, n := range at {
		sending.waitAccepted(n, done)
		time.Sleep(time.Duration(rng.Int64N(int64(25 * time.Millisecond))))
		s.kill()
		killTimes = append(killTimes, time.Now())
		killedAt = append(killedAt, fmt.Sprintf("%d accepted at %s", sending.accepted.Load(), time.Since(began).Round(time.Millisecond)))
		s = startServer(t, cfg)
	}
	results := sending.wait()
	sendTime := time.Since(began)

	want := map[string]bool{}
	duplicateAnswers, tries := 0, 0
	for i, r := range results {
		tries += r.tries
		if r.code == 0 {
			t.Errorf("message %d never accepted after %d tries: %v", i, r.tries, r.err)
			continue
		}
		if r.code == 200 {
			duplicateAnswers++ // its first 202 was lost to a kill
		}
		want[marker("crash", i)] = true
	}
	if t.Failed() {
		t.FailNow()
	}

	// Deliveries leased to a killed process wait for their lease to expire
	// (timeout 2s + 15s) before the running one takes them over.
	var got map[string]map[string]bool
	testkit.EventuallyEvery(t, "every accepted message to be delivered", 45*time.Second, 200*time.Millisecond, func() bool {
		if hook.Count() < len(want) {
			return false
		}
		got = byMarker(arrivals(hook.Requests()))
		for m := range want {
			if got[m] == nil {
				return false
			}
		}
		return true
	})
	total := time.Since(began)
	for m, ids := range got {
		if !want[m] {
			t.Errorf("the receiver got a message that was never sent: %q", m)
		}
		if len(ids) != 1 {
			t.Errorf("message %s was queued %d times (webhook-ids %v) despite its unique key", m, len(ids), ids)
		}
	}
	reqs := hook.Requests()
	all := arrivals(reqs)
	dups, distinct := duplicates(all)
	sends := map[string][]time.Time{}
	for _, q := range reqs {
		id := q.Header.Get(standardwebhooks.HeaderID)
		sends[id] = append(sends[id], q.Received)
	}
	reportAll(t, "sent twice with no crash in between", unexplainedResends(sends, killTimes))

	// The store agrees: read by a separate process while the server runs,
	// and through the admin API.
	data := s.dataDir()
	testkit.EventuallyEvery(t, "nothing pending or in flight", 30*time.Second, 200*time.Millisecond, func() bool {
		return len(cliDeliveries(t, "--data", data, "--status", "pending")) == 0 &&
			len(cliDeliveries(t, "--data", data, "--status", "in_flight")) == 0
	})
	if n := len(cliDeliveries(t, "--data", data, "--status", "delivered", "--limit", "1000")); n != messages {
		t.Errorf("CLI lists %d delivered deliveries, want %d", n, messages)
	}
	if dead := cliDeliveries(t, "--data", data, "--status", "dead"); len(dead) != 0 {
		t.Errorf("dead deliveries: %+v", dead)
	}
	for _, status := range []string{"pending", "in_flight"} {
		if ids := listDeliveries(t, s, status); len(ids) != 0 {
			t.Errorf("the API lists %d %s deliveries", len(ids), status)
		}
	}
	t.Logf("kills: %d (%s)", len(killedAt), strings.Join(killedAt, "; "))
	t.Logf("accepted %d/%d in %s (%d tries, %d answered 200 duplicate after a lost 202); delivered %d distinct webhook-ids in %d requests: %d duplicates; total %s",
		len(want), messages, sendTime.Round(time.Millisecond), tries, duplicateAnswers, distinct, len(all), dups, total.Round(time.Millisecond))
	for id, n := range hook.Duplicates() {
		t.Logf("duplicate (across a kill): webhook-id %s received %d times", id, n)
	}
}

// TestReceiverDownOpensTheBreaker: the receiver answers 503 for 10 s (5 s
// under -short).
// After five failures in a row the channel opens: the other deliveries
// wait without an attempt, the log says so once (not once per attempt),
// a probe goes out every few seconds, and the first success closes the
// channel and delivers everything exactly once. The CLI, run as a separate
// process against the data directory the server is writing, and the admin
// API show the attempts.
func TestReceiverDownOpensTheBreaker(t *testing.T) {
	t.Parallel()
	const n = 20
	hook := testpeer.NewReceiver(t)
	s := startServer(t, config{
		rules: hookRules("    retry: {backoff: 1s, max_backoff: 5s}\n    breaker: {failures: 5, probe: 4s}"),
		env:   hookEnv(hook.URL(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
	})
	outage := 10 * time.Second
	if testing.Short() {
		// The shortened form: still longer than the first probe interval,
		// so a probe fails before one succeeds.
		outage = 5 * time.Second
	}
	downUntil := time.Now().Add(outage)
	hook.FailFor(outage) // answers 503 until at least downUntil
	for i, body := range markedBodies(t, "down", n) {
		if r := s.lagoPost("lago", lagoSecret, fmt.Sprintf("down-%d", i), body); r.code != 202 {
			t.Fatalf("message %d: %d %s", i, r.code, r.body)
		}
	}
	data := s.dataDir()

	t.Run("open while down", func(t *testing.T) {
		testkit.EventuallyEvery(t, "the channel to open", outage, 200*time.Millisecond, func() bool {
			return strings.Contains(s.logs.String(), "channel open")
		})
		list := cliDeliveries(t, "--data", data)
		waiting := 0
		for _, d := range list {
			if d.State == "delivered" {
				t.Fatalf("delivery %s delivered while the receiver answers 503", d.ID)
			}
			if d.Attempts == 0 {
				waiting++
			}
		}
		// Five failures open it; at most the sends already under way
		// (concurrency 4) fail after them.
		if len(list) != n || waiting < n-8 {
			t.Errorf("%d deliveries, %d without an attempt; want %d, at least %d waiting unattempted", len(list), waiting, n, n-8)
		}
		if v := metric(t, s, `switchboard_channel_state{channel="hook"}`); v != "1" {
			t.Errorf("channel_state %q, want 1 (open)", v)
		}
	})

	var delivered []storedDelivery
	testkit.EventuallyEvery(t, "every delivery to be delivered", time.Until(downUntil)+30*time.Second, 300*time.Millisecond, func() bool {
		delivered = cliDeliveries(t, "--data", data, "--status", "delivered")
		return len(delivered) == n
	})
	allDone := time.Now()

	t.Run("log", func(t *testing.T) {
		logs := s.logs.String()
		for _, c := range []struct {
			what string
			want int
		}{{"channel open", 1}, {"channel closed", 1}, {"delivery failed", 0}} {
			if got := strings.Count(logs, c.what); got != c.want {
				t.Errorf("%d log lines with %q, want %d:\n%s", got, c.what, c.want, logs)
			}
		}
		if v := metric(t, s, `switchboard_channel_open_total{channel="hook"}`); v != "1" {
			t.Errorf("channel_open_total %q, want 1", v)
		}
	})
	t.Run("api", func(t *testing.T) {
		for _, d := range delivered {
			got := getDelivery(t, s, d.ID)
			h := got.Attempts
			if got.Delivery.Status != "delivered" || got.Delivery.Attempts != len(h) || len(h) < 1 {
				t.Errorf("delivery %s: status %s, %d attempts, history of %d", d.ID, got.Delivery.Status, got.Delivery.Attempts, len(h))
				continue
			}
			for i, a := range h[:len(h)-1] {
				if a.No != i+1 || a.Outcome != "retry" || !strings.Contains(a.Error, "unexpected status 503") {
					t.Errorf("delivery %s attempt %d: %+v, want a retry after a 503", d.ID, i+1, a)
				}
			}
			if last := h[len(h)-1]; last.Outcome != "success" || last.Error != "" {
				t.Errorf("delivery %s last attempt: %+v", d.ID, last)
			}
		}
	})
	t.Run("receiver", func(t *testing.T) {
		perID := map[string]int{}
		during := 0
		for _, q := range hook.Requests() {
			if q.Received.Before(downUntil) {
				during++
				continue
			}
			perID[q.Header.Get(standardwebhooks.HeaderID)]++
		}
		// 5 failures, up to 3 sends under way, and the probes (every 4 s,
		// then 8 s): a handful, not one per delivery per backoff.
		if during > 11 {
			t.Errorf("the receiver got %d requests during the outage, want at most 11", during)
		}
		if len(perID) != n {
			t.Errorf("%d distinct webhook-ids after the outage, want %d", len(perID), n)
		}
		for id, k := range perID {
			if k != 1 {
				t.Errorf("webhook-id %s received %d times after the outage, want once", id, k)
			}
		}
		t.Logf("%d requests during the %s outage", during, outage)
	})
	t.Logf("%d deliveries delivered %s after the outage ended", n, allDone.Sub(downUntil).Round(time.Millisecond))
}

// TestSlackRetryAfter: Slack answers 429 with Retry-After: 2 once; the
// second attempt comes at least 2 s after the first (times taken where
// Slack receives them) and not much later.
func TestSlackRetryAfter(t *testing.T) {
	slack := testpeer.NewSlack(t)
	slack.RequireToken(slackToken)
	slack.Reply(testpeer.SlackRateLimited("2"))
	proxy := newStampProxy(t, slack.URL())
	s := startServer(t, config{
		rules: `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_WEBHOOK_SECRET}
channels:
  ops:
    slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops", api_url: "${SLACK_API_URL}"}
rules:
  - name: wallet
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send:
      - to: ops
        message: "Wallet of {{ .wallet.external_customer_id }} is empty"
`,
		env: []string{"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SLACK_BOT_TOKEN=" + slackToken,
			"SLACK_API_URL=" + proxy.srv.URL + "/api/", "SWITCHBOARD_ADMIN_TOKEN=" + adminToken},
	})
	if r := s.lagoPost("lago", lagoSecret, "wallet-429", fixture(t, "wallet.depleted_ongoing_balance")); r.code != 202 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	stamps := proxy.waitFor(t, 2, 20*time.Second)
	gap := stamps[1].Sub(stamps[0])
	if gap < 2*time.Second || gap > 6*time.Second {
		t.Errorf("second attempt %s after the first, want 2s..6s (Retry-After: 2)", gap)
	}
	for i, q := range slack.Requests() {
		if q.APIMethod() != "chat.postMessage" || q.Token() != slackToken || q.Channel() != "#ops" || q.Text() != "Wallet of acme_1042 is empty" {
			t.Errorf("request %d: %s token ok %v channel %q text %q", i, q.APIMethod(), q.Token() == slackToken, q.Channel(), q.Text())
		}
	}

	var ids []string
	testkit.Eventually(t, "the delivery to be recorded delivered", 10*time.Second, func() bool {
		ids = listDeliveries(t, s, "delivered")
		return len(ids) == 1
	})
	d := getDelivery(t, s, ids[0])
	if len(d.Attempts) != 2 || d.Attempts[0].Outcome != "retry" || !strings.Contains(d.Attempts[0].Error, "rate limited") ||
		d.Attempts[1].Outcome != "success" {
		t.Errorf("attempt history %+v, want a rate-limited retry then a success", d.Attempts)
	}
	if v := metric(t, s, `switchboard_delivery_attempts_total{channel="ops",outcome="retry"}`); v != "1" {
		t.Errorf("retry attempts metric %q, want 1", v)
	}
	waitIdle(t, s)
	if n := slack.Len(); n != 2 {
		t.Errorf("Slack got %d requests, want 2", n)
	}
	t.Logf("second attempt %s after the first", gap.Round(time.Millisecond))
}

// TestDeadLettersAndReplay: a receiver answering 400 makes the delivery
// dead at once; the CLI lists it with the error; once the receiver is
// fixed, a replay (CLI by ID, CLI --all-dead, admin API) delivers it under
// the same delivery ID.
func TestDeadLettersAndReplay(t *testing.T) {
	hook := testpeer.NewReceiver(t)
	s := startServer(t, config{
		rules: hookRules("    retry: {backoff: 200ms, max_backoff: 2s}"),
		env:   hookEnv(hook.URL(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
	})
	data := s.dataDir()
	auth := []string{"Authorization", "Bearer " + adminToken}
	bodies := markedBodies(t, "dead", 6)
	next := 0

	cases := []struct {
		name   string
		dead   int
		replay func(t *testing.T, ids []string)
	}{
		{"cli replay ID", 1, func(t *testing.T, ids []string) {
			code, out, errOut := runCLI(t, nil, append([]string{"replay", "--data", data}, ids...)...)
			if code != 0 || !strings.Contains(out, "requeued 1 delivery") {
				t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
			}
		}},
		{"cli replay --all-dead", 2, func(t *testing.T, ids []string) {
			code, out, errOut := runCLI(t, nil, "replay", "--data", data, "--all-dead")
			if code != 0 || !strings.Contains(out, "requeued 2 deliveries") {
				t.Fatalf("replay --all-dead: exit %d\n%s%s", code, out, errOut)
			}
		}},
		{"cli replay --channel --rule --since", 1, func(t *testing.T, ids []string) {
			code, out, errOut := runCLI(t, nil, "replay", "--data", data, "--channel", "other", "--since", "1h")
			if code != 0 || !strings.Contains(out, "requeued 0 deliveries") {
				t.Fatalf("replay of another channel: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = runCLI(t, nil, "replay", "--data", data, "--channel", "hook", "--rule", "forward", "--since", "1h")
			if code != 0 || !strings.Contains(out, "requeued 1 delivery") {
				t.Fatalf("replay --channel: exit %d\n%s%s", code, out, errOut)
			}
		}},
		{"cli replay --rerender", 1, func(t *testing.T, ids []string) {
			code, out, errOut := runCLI(t, nil, "replay", "--data", data, "--channel", "hook", "--rerender",
				"--rules", filepath.Join(s.dir, "rules.yaml"), "--templates", filepath.Join(s.dir, "templates"))
			if code != 0 || !strings.Contains(out, "requeued 1 delivery") {
				t.Fatalf("replay --rerender: exit %d\n%s%s", code, out, errOut)
			}
		}},
		{"api replay", 1, func(t *testing.T, ids []string) {
			if r := request(t, s, "POST", "/api/v1/deliveries/"+ids[0]+"/replay"); r.code != 401 {
				t.Errorf("replay without a token: %d", r.code)
			}
			if r := request(t, s, "POST", "/api/v1/deliveries/no-such-delivery/replay", auth...); r.code != 404 {
				t.Errorf("replay of an unknown ID: %d %s", r.code, r.body)
			}
			r := request(t, s, "POST", "/api/v1/deliveries/"+ids[0]+"/replay", auth...)
			var got struct{ Replayed int }
			if err := json.Unmarshal([]byte(r.body), &got); r.code != 202 || err != nil || got.Replayed != 1 {
				t.Fatalf("POST replay: %d %s", r.code, r.body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hook.SetDefault(testpeer.Reply{Status: 400, Body: "invoice rejected"})
			before := hook.Count()
			for range c.dead {
				r := postSigned(t, s, fmt.Sprintf("dead-%d", next), bodies[next])
				if r.code != 202 {
					t.Fatalf("post: %d %s", r.code, r.body)
				}
				next++
			}
			var dead []storedDelivery
			testkit.EventuallyEvery(t, "the deliveries to be dead", 15*time.Second, 200*time.Millisecond, func() bool {
				dead = cliDeliveries(t, "--data", data, "--status", "dead")
				return len(dead) == c.dead
			})
			var ids []string
			for _, d := range dead {
				ids = append(ids, d.ID)
				if d.Attempts != 1 || !strings.Contains(d.LastError, "unexpected status 400: invoice rejected") {
					t.Errorf("dead delivery %s: %d attempts, error %q; want 1 attempt and the 400", d.ID, d.Attempts, d.LastError)
				}
			}
			_, table, _ := runCLI(t, nil, "deliveries", "--data", data, "--status", "dead")
			mustContain(t, "dead letters table", table, append(ids, "dead", "unexpected status 400: invoice rejected")...)
			if got := hook.Count() - before; got != c.dead {
				t.Errorf("the receiver got %d requests, want %d: a 400 is not retried", got, c.dead)
			}

			hook.SetDefault(testpeer.Reply{})
			c.replay(t, ids)
			testkit.EventuallyEvery(t, "the replayed deliveries to arrive", 15*time.Second, 50*time.Millisecond, func() bool {
				return hook.Count() >= before+2*c.dead
			})
			var replayed []string
			for _, q := range hook.Requests()[before+c.dead:] {
				replayed = append(replayed, q.Header.Get(standardwebhooks.HeaderID))
			}
			slices.Sort(ids)
			slices.Sort(replayed)
			if !slices.Equal(ids, replayed) {
				t.Errorf("replay arrived with webhook-ids %v, want the dead deliveries' IDs %v", replayed, ids)
			}
			for _, id := range ids {
				var d apiDelivery
				testkit.EventuallyEvery(t, "the replayed delivery to be recorded", 10*time.Second, 100*time.Millisecond, func() bool {
					d = getDelivery(t, s, id)
					return d.Delivery.Status == "delivered"
				})
				if len(d.Attempts) != 2 || d.Attempts[0].Outcome != "permanent" || d.Attempts[1].Outcome != "success" {
					t.Errorf("delivery %s history %+v, want the 400 then a success", id, d.Attempts)
				}
			}
			if left := cliDeliveries(t, "--data", data, "--status", "dead"); len(left) != 0 {
				t.Errorf("dead letters left after the replay: %+v", left)
			}
		})
	}
}

// postSigned posts a Lago-signed body on behalf of t (a subtest).
func postSigned(t *testing.T, s *server, key string, body []byte) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(newLagoRequest(context.Background(), s.url, key, lagoSign(lagoSecret, body), body))
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

// TestGracefulShutdown: SIGTERM while a slow receiver (1 s a request) has
// sends in progress. The process refuses new messages with 503, lets the
// sends finish and records them, releases every lease, and exits 0 within
// the grace period; after a restart the rest is delivered at once, each
// delivery exactly once.
func TestGracefulShutdown(t *testing.T) {
	const n, grace = 12, 10 * time.Second
	hook := newSlowReceiver(t, func() time.Duration { return time.Second })
	cfg := config{
		rules: hookRules("    concurrency: 4"),
		env:   hookEnv(hook.URL(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
	}
	s := startServer(t, cfg)
	for i, body := range markedBodies(t, "term", n) {
		if r := s.lagoPost("lago", lagoSecret, fmt.Sprintf("term-%d", i), body); r.code != 202 {
			t.Fatalf("message %d: %d %s", i, r.code, r.body)
		}
	}
	testkit.Eventually(t, "four sends in progress", 15*time.Second, func() bool { return hook.started() >= 4 })

	late := beginRequest(t, s.addr(), fixture(t, "invoice.created"))
	sigAt := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the listener to close", 10*time.Second, func() bool { return !listening(s.addr()) })
	// The server refuses it: 503 with Retry-After, or (Go's server drops
	// requests whose header completes after its shutdown began) the
	// connection closes unanswered. Lago retries either way.
	refusal := "closed without an answer"
	if resp, err := late.finish(t); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "shutting down") {
			t.Errorf("a message during shutdown: %d Retry-After %q %s; want 503 shutting down with Retry-After",
				resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		refusal = "503 " + strings.TrimSpace(string(body))
	}
	if err := s.waitExit(grace + 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0", err)
	}
	took := time.Since(sigAt)
	if took > grace {
		t.Errorf("exit %s after SIGTERM, beyond the %s grace period", took, grace)
	}
	mustContain(t, "log", s.logs.String(), "shutting down: refusing new messages")

	sent := hook.snapshot()
	if len(sent) < 4 {
		t.Fatalf("%d sends began before the exit, want at least 4", len(sent))
	}
	for _, w := range sent {
		if !w.completed {
			t.Errorf("the send of %s was cut short by the shutdown", w.id)
		}
	}
	// On disk: what was sent is delivered, the rest pending, nothing
	// leased to the process that is gone.
	data := s.dataDir()
	if l := cliDeliveries(t, "--data", data, "--status", "in_flight"); len(l) != 0 {
		t.Errorf("%d deliveries left in flight after a graceful shutdown: %+v", len(l), l)
	}
	if l := cliDeliveries(t, "--data", data, "--status", "delivered"); len(l) != len(sent) {
		t.Errorf("%d deliveries recorded delivered, but %d were sent", len(l), len(sent))
	}
	if l := cliDeliveries(t, "--data", data, "--status", "pending"); len(l) != n-len(sent) {
		t.Errorf("%d deliveries pending, want %d", len(l), n-len(sent))
	}

	restartAt := time.Now()
	s = startServer(t, config{dir: s.dir, env: cfg.env})
	// Released leases are taken at once; a lease left behind would hold
	// its delivery for 25 s.
	testkit.EventuallyEvery(t, "the remaining deliveries after the restart", 15*time.Second, 50*time.Millisecond, func() bool {
		_, distinct := duplicates(hook.arrivals())
		return distinct == n
	})
	rest := time.Since(restartAt)
	waitIdle(t, s)
	if dups, _ := duplicates(hook.arrivals()); dups != 0 {
		t.Errorf("%d deliveries sent twice across a graceful restart", dups)
	}
	testkit.EventuallyEvery(t, "every delivery recorded delivered", 10*time.Second, 200*time.Millisecond, func() bool {
		return len(cliDeliveries(t, "--data", data, "--status", "delivered")) == n
	})
	for _, d := range cliDeliveries(t, "--data", data, "--status", "delivered") {
		if d.Attempts != 1 {
			t.Errorf("delivery %s: %d attempts, want 1", d.ID, d.Attempts)
		}
	}
	t.Logf("message during shutdown: %s; exit 0 %s after SIGTERM with %d sends completed; the other %d delivered %s after the restart",
		refusal, took.Round(time.Millisecond), len(sent), n-len(sent), rest.Round(time.Millisecond))
}

// TestTwoReplicasPostgres: two replicas share one PostgreSQL database;
// 2,000 messages alternate between them; one is SIGKILLed halfway. The
// survivor takes over the dead replica's deliveries once their leases
// expire, everything accepted is delivered, and no delivery is ever in
// progress at the receiver twice at the same time.
func TestTwoReplicasPostgres(t *testing.T) {
	t.Parallel()
	const messages, senders = 2000, 8
	dsn := testpg.Start(t)
	hook := newSlowReceiver(t, func() time.Duration { return 20*time.Millisecond + rand.N(30*time.Millisecond) })
	cfg := config{
		// timeout 2s: a dead replica's leases expire 17 s after it took them.
		rules: hookRules("    timeout: 2s\n    concurrency: 8\n    retry: {backoff: 200ms, max_backoff: 2s}"),
		env:   hookEnv(hook.URL(), "SWITCHBOARD_LOG_LEVEL=warn", "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
		args:  []string{"--database", dsn},
	}
	// Checked however the test ends, a timeout included.
	defer func() {
		reportAll(t, "in flight on two replicas at once", overlaps(hook.snapshot()))
	}()
	victim := startServer(t, cfg)
	survivor := startServer(t, cfg)
	urls := []string{victim.url, survivor.url}

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// A load balancer: message i goes to replica i%2, a retry to the other.
	sending := startSending(ctx, newLagoSender(t, func(i, try int) string { return urls[(i+try)%2] }), senders, "pg",
		markedBodies(t, "pg", messages))
	done := make(chan struct{})
	go func() {
		sending.wait()
		close(done)
	}()
	sending.waitAccepted(messages/2, done)
	victim.kill()
	killedAt := time.Now()
	killedAfter := sending.accepted.Load()
	results := sending.wait()
	sendTime := time.Since(began)

	want := map[string]bool{}
	tries := 0
	for i, r := range results {
		tries += r.tries
		if r.code == 0 {
			t.Errorf("message %d never accepted after %d tries: %v", i, r.tries, r.err)
			continue
		}
		want[marker("pg", i)] = true
	}
	if t.Failed() {
		t.FailNow()
	}
	testkit.EventuallyEvery(t, "every accepted message to be delivered", 50*time.Second, 200*time.Millisecond, func() bool {
		got := byMarker(hook.arrivals())
		for m := range want {
			if got[m] == nil {
				return false
			}
		}
		return true
	})
	allDelivered := time.Now()

	ws := hook.snapshot()
	sends := map[string][]time.Time{}
	for _, w := range ws {
		sends[w.id] = append(sends[w.id], w.start)
	}
	reportAll(t, "sent twice, not because of the kill", unexplainedResends(sends, []time.Time{killedAt}))
	got := byMarker(hook.arrivals())
	for m, ids := range got {
		if !want[m] {
			t.Errorf("the receiver got a message that was never sent: %q", m)
		}
		if len(ids) != 1 {
			t.Errorf("message %s was queued %d times (webhook-ids %v) despite its unique key", m, len(ids), ids)
		}
	}
	dups, distinct := duplicates(hook.arrivals())

	// Nothing left pending or in flight, through the survivor's API and a
	// CLI on the same database.
	for _, status := range []string{"pending", "in_flight", "dead"} {
		var ids []string
		// The victim's leases must expire first (a send's timeout and the
		// lease margin), and the survivor claim what they held.
		testkit.EventuallyEvery(t, "no "+status+" deliveries in the API", 30*time.Second, 200*time.Millisecond, func() bool {
			ids = listDeliveries(t, survivor, status)
			return len(ids) == 0
		})
		if l := cliDeliveries(t, "--database", dsn, "--status", status); len(l) != 0 {
			t.Errorf("the CLI lists %d %s deliveries", len(l), status)
		}
	}
	testkit.Eventually(t, "the delivered gauge to count every delivery", 15*time.Second, func() bool {
		return metric(t, survivor, `switchboard_deliveries{state="delivered"}`) == fmt.Sprint(messages)
	})
	interrupted := 0
	for _, w := range ws {
		if !w.completed {
			interrupted++
		}
	}
	t.Logf("accepted %d/%d in %s (%d tries); victim SIGKILLed after %d accepted, %s in",
		len(want), messages, sendTime.Round(time.Millisecond), tries, killedAfter, killedAt.Sub(began).Round(time.Millisecond))
	t.Logf("delivered %d distinct webhook-ids in %d requests (%d cut short by the kill): %d sequential duplicates; %d overlaps; all delivered %s after the kill, total %s",
		distinct, len(ws), interrupted, dups, len(overlaps(ws)), allDelivered.Sub(killedAt).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// TestNeverRenderedDeadLetter: a delivery whose template fails is dead at
// once with the error and holds nothing to send, so a plain replay (CLI
// --all-dead, the admin API) leaves it dead and says why, never sending
// an empty request; a replay that renders again, once the template is
// fixed, delivers it.
func TestNeverRenderedDeadLetter(t *testing.T) {
	hook := testpeer.NewReceiver(t)
	rules := strings.Replace(hookRules(""), "      - to: hook\n", "      - to: hook\n        template: body.tmpl\n", 1)
	s := startServer(t, config{
		rules:     rules,
		templates: map[string]string{"body.tmpl": `{{ define "body" }}{{ required "nope is required" .nope }}{{ end }}`},
		env:       hookEnv(hook.URL(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken),
	})
	data := s.dataDir()
	body := markedBodies(t, "unrendered", 1)[0]
	if r := postSigned(t, s, "unrendered-1", body); r.code != 202 {
		t.Fatalf("post: %d %s", r.code, r.body)
	}
	var dead []storedDelivery
	testkit.EventuallyEvery(t, "the delivery to be dead", 15*time.Second, 100*time.Millisecond, func() bool {
		dead = cliDeliveries(t, "--data", data, "--status", "dead")
		return len(dead) == 1
	})
	if d := dead[0]; d.Attempts != 0 || !strings.Contains(d.LastError, "nope is required") {
		t.Fatalf("dead letter %+v, want no attempt and the template's error", d)
	}

	code, out, errOut := runCLI(t, nil, "replay", "--data", data, "--all-dead")
	if code != 1 || !strings.Contains(out, "requeued 0 deliveries") || !strings.Contains(out, "left dead "+dead[0].ID+": never rendered") {
		t.Fatalf("replay --all-dead: exit %d\n%s%s", code, out, errOut)
	}
	auth := []string{"Authorization", "Bearer " + adminToken}
	if r := request(t, s, "POST", "/api/v1/deliveries/"+dead[0].ID+"/replay", auth...); r.code != 404 || !strings.Contains(r.body, "rerender=true") {
		t.Errorf("API replay of a never-rendered dead letter: %d %s", r.code, r.body)
	}
	r := request(t, s, "POST", "/api/v1/deliveries/replay?status=dead", auth...)
	var bulk struct {
		Replayed int
		Failed   []struct{ ID, Error string }
	}
	if err := json.Unmarshal([]byte(r.body), &bulk); err != nil || r.code != 202 || bulk.Replayed != 0 || len(bulk.Failed) != 1 ||
		bulk.Failed[0].ID != dead[0].ID || !strings.Contains(bulk.Failed[0].Error, "never rendered") {
		t.Errorf("API bulk replay: %d %s", r.code, r.body)
	}
	time.Sleep(500 * time.Millisecond)
	if n := hook.Count(); n != 0 {
		t.Fatalf("the receiver got %d requests for a dead letter that never rendered", n)
	}

	// Fixed: the body no longer requires the missing field.
	tmpl := filepath.Join(s.dir, "templates", "body.tmpl")
	if err := os.WriteFile(tmpl, []byte(`{{ define "body" }}{"invoice":"{{ .invoice.number }}"}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, nil, "replay", "--data", data, "--all-dead", "--rerender",
		"--rules", filepath.Join(s.dir, "rules.yaml"), "--templates", filepath.Join(s.dir, "templates"))
	if code != 0 || !strings.Contains(out, "requeued 1 delivery") {
		t.Fatalf("replay --rerender: exit %d\n%s%s", code, out, errOut)
	}
	testkit.EventuallyEvery(t, "the re-rendered delivery to arrive", 15*time.Second, 50*time.Millisecond, func() bool {
		return hook.Count() == 1
	})
	if got := string(hook.Requests()[0].Body); !strings.HasPrefix(got, `{"invoice":"`) || got == `{"invoice":""}` {
		t.Errorf("the replay sent %q, want the re-rendered body", got)
	}
}
