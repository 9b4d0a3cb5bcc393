package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/slack"
)

func TestSummaryText(t *testing.T) {
	got := delivery.SummaryText(map[string]int{"payment_request.payment_failure": 63, "invoice.created": 120})
	want := "+183 more: 120 × invoice.created, 63 × payment_request.payment_failure — see the delivery log"
	if got != want {
		t.Fatalf("SummaryText = %q, want %q", got, want)
	}
}

// pacedSlack is a dispatcher (not started) with one Slack channel "ops",
// posting to a real Slack peer one at a time at rate per second, paced at
// threshold.
func pacedSlack(t *testing.T, threshold int, perSecond float64) (*testpeer.SlackServer, *env) {
	t.Helper()
	peer := testpeer.NewSlack(t)
	n, err := slack.New(slack.Config{WebhookURL: secret.String(peer.WebhookURL())}, notifiers.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	chs := &channels{}
	chs.set("ops", delivery.Channel{Notifier: n, Kind: "slack", Concurrency: 1, Rate: rate.Limit(perSecond), Burst: 1, Pacing: threshold})
	return peer, newEnv(t, openStore(t, store.Options{}), chs, nil)
}

// A Slack channel paced at 5, sending 2 per second: a burst of 40 becomes
// the first few one by one and the rest as one summary, and every
// delivery is accounted for in the delivery log.
func TestPacingCollapsesBacklog(t *testing.T) {
	peer, e := pacedSlack(t, 5, 2)

	// The burst is queued before the workers start, as after a restart
	// or the first of the month.
	var ids []string
	for i := range 40 {
		ds := e.enqueue(t, true, "ops")
		if i%4 == 3 {
			ds[0].WebhookType = "payment_request.payment_failure"
		}
		e.disp.Submit(ds)
		ids = append(ids, ds[0].ID)
	}
	e.run(t)

	if _, err := peer.WaitFor(6, 10*time.Second); err != nil {
		t.Log(e.logs.String())
		t.Fatal(err)
	}
	e.waitIdle(t) // nothing more can come
	reqs := peer.Requests()
	if len(reqs) != 6 {
		for _, r := range reqs {
			t.Log(r.Text())
		}
		t.Fatalf("%d Slack messages, want 5 one by one and 1 summary", len(reqs))
	}
	for _, r := range reqs[:5] {
		if r.Text() != "private content" {
			t.Fatalf("message %q, want one of the deliveries", r.Text())
		}
	}
	// 35 collapsed (deliveries 6 to 40), counted by message type.
	if got, want := reqs[5].Text(), "+35 more: 26 × invoice.created, 9 × payment_request.payment_failure — see the delivery log"; got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	collapsed, err := e.st.List(ctx, store.Filter{Status: store.StateCollapsed, Limit: 1000})
	if err != nil || len(collapsed) != 35 {
		t.Fatalf("%d collapsed in the log, %v", len(collapsed), err)
	}
	if !strings.HasPrefix(collapsed[0].Reason, "collapsed into pacing summary sum-") {
		t.Fatalf("reason %q", collapsed[0].Reason)
	}
	delivered, _ := e.st.List(ctx, store.Filter{Status: store.StateDelivered, Limit: 1000})
	if len(delivered) != 6 {
		t.Fatalf("%d delivered, want 6", len(delivered))
	}
	if got := counter(t, e.reg, "switchboard_pacing_collapsed_total", map[string]string{"channel": "ops"}); got != 35 {
		t.Fatalf("pacing_collapsed_total = %v", got)
	}
	for _, id := range ids[:5] {
		if d, _ := e.get(t, id); d.State != store.StateDelivered {
			t.Fatalf("delivery %s is %s, want the oldest five delivered one by one", id, d.State)
		}
	}
}

// Deliveries arriving behind a summary not yet sent are merged into it:
// one summary, not one per burst.
func TestPacingMergesIntoUnsentSummary(t *testing.T) {
	peer, e := pacedSlack(t, 3, 1)
	for range 10 {
		e.disp.Submit(e.enqueue(t, true, "ops"))
	}
	e.run(t)
	// The first goes out at once; the next waits a second for the rate
	// limit. Meanwhile a second burst arrives behind the summary.
	if _, err := peer.WaitFor(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.disp.Submit(e.enqueue(t, true, "ops"))
	}
	if _, err := peer.WaitFor(4, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t) // nothing more can come
	reqs := peer.Requests()
	var texts []string
	for _, r := range reqs {
		texts = append(texts, r.Text())
	}
	if len(reqs) != 4 || reqs[3].Text() != "+12 more: 12 × invoice.created — see the delivery log" {
		t.Fatalf("Slack received %q, want 3 deliveries and one summary of the other 12", texts)
	}
}
