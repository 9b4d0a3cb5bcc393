package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/ingest"
	"github.com/switchboard-dev/switchboard/internal/maintenance"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// conversationRules is a payment failure's story: failures open a
// conversation per invoice (a thread in #billing, an edited status line
// in #billing-board, an email thread), a success or a lost dispute
// resolves it, and finance hears of one still open after 48h.
const conversationRules = `
sources:
  lago:
    lago: {}
channels:
  alerts:
    slack: {token: xoxb-test, channel: "#billing", api_url: "SLACK/api/"}
  board:
    slack: {token: xoxb-test, channel: "#billing-board", api_url: "SLACK/api/"}
  finance:
    email: {host: 127.0.0.1, port: SMTPPORT, tls: none, from: sb@example.com, to: [finance@example.com]}
  escalations:
    slack: {token: xoxb-test, channel: "#finance-escalations", api_url: "SLACK/api/"}
rules:
  - name: payment-failed
    when: webhook_type == "invoice.payment_failure"
    escalate:
      after: 48h
      to: escalations
      message: "Invoice {{ .payment_provider_invoice_payment_error.lago_invoice_id }} is still unpaid 48h after its first failed payment"
    send:
      - to: alerts
        thread: "{{ .payment_provider_invoice_payment_error.lago_invoice_id }}"
        message: "Payment failed{{ if .Previous }} again ({{ .Previous.Count }} before){{ end }}"
      - to: board
        update: "{{ .payment_provider_invoice_payment_error.lago_invoice_id }}"
        message: ":x: unpaid{{ if .Previous }}, {{ .Previous.Count }} failures so far{{ end }}"
      - to: finance
        thread: "{{ .payment_provider_invoice_payment_error.lago_invoice_id }}"
        message: "Payment failed"
  - name: payment-succeeded
    when: webhook_type == "invoice.payment_status_updated" && invoice.payment_status == "succeeded"
    resolves: payment-failed
    send:
      - to: alerts
        thread: "{{ .invoice.lago_id }}"
        broadcast: true
        message: "Paid after {{ .Previous.Count }} failed attempts"
      - to: board
        update: "{{ .invoice.lago_id }}"
        message: ":white_check_mark: Paid after {{ .Previous.Count }} attempts"
      - to: finance
        thread: "{{ .invoice.lago_id }}"
        message: "Paid"
`

func failure(invoice string) string {
	return fmt.Sprintf(`{"webhook_type":"invoice.payment_failure","object_type":"payment_provider_invoice_payment_error",
		"payment_provider_invoice_payment_error":{"lago_invoice_id":%q,"external_customer_id":"cus_1"}}`, invoice)
}

func success(invoice, updatedAt string) string {
	return fmt.Sprintf(`{"webhook_type":"invoice.payment_status_updated","object_type":"invoice",
		"invoice":{"lago_id":%q,"payment_status":"succeeded","updated_at":%q}}`, invoice, updatedAt)
}

// convReplica is one Switchboard: ingest and a dispatcher over a store.
type convReplica struct {
	st   *store.Store
	rs   *router.Ruleset
	srv  http.Handler
	disp *delivery.Dispatcher
	reg  *prometheus.Registry
	logs *testkit.LogBuffer
}

var convKeys atomic.Int64

func newConvReplica(t *testing.T, o store.Options, clk *testclock.Clock, slack *testpeer.SlackServer, smtp *testpeer.SMTPServer) *convReplica {
	t.Helper()
	return newConvReplicaOf(t, conversationRules, o, clk, slack, smtp)
}

// newConvReplicaOf is newConvReplica with other rules; SLACK/ and SMTPPORT
// in them name the stand-ins.
func newConvReplicaOf(t *testing.T, rules string, o store.Options, clk *testclock.Clock, slack *testpeer.SlackServer, smtp *testpeer.SMTPServer) *convReplica {
	t.Helper()
	return newConvReplicaWith(t, rules, router.LoadOptions{}, o, clk, slack, smtp)
}

// newConvReplicaWith is newConvReplicaOf with load options: lo.TemplatesDir
// and lo.Env, if set, are used (default an empty templates directory and
// the process's environment).
func newConvReplicaWith(t *testing.T, rules string, lo router.LoadOptions, o store.Options, clk *testclock.Clock, slack *testpeer.SlackServer, smtp *testpeer.SMTPServer) *convReplica {
	t.Helper()
	dir := t.TempDir()
	rules = strings.ReplaceAll(rules, "SLACK/", slack.URL()+"/")
	rules = strings.ReplaceAll(rules, "SMTPPORT", fmt.Sprint(smtp.Port()))
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if lo.TemplatesDir == "" {
		lo.TemplatesDir = filepath.Join(dir, "templates")
		if err := os.Mkdir(lo.TemplatesDir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	lo.RulesPath, lo.Now, lo.Builder = filepath.Join(dir, "rules.yaml"), clk.Now, wiring.Builder{}
	rs, _, err := router.Load(lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	o.Now = clk.Now
	st := openStore(t, o)
	r := &convReplica{st: st, rs: rs, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}}
	owner := fmt.Sprintf("replica-%d", ownerSeq.Add(1))
	m := metrics.New(r.reg)
	r.disp = delivery.New(delivery.Options{
		Store: st,
		Resolve: func(name string) (delivery.Channel, bool) {
			ch, ok := rs.Channels[name]
			if !ok {
				return delivery.Channel{}, false
			}
			return delivery.Channel{Notifier: ch.Notifier, Timeout: ch.Timeout, Kind: ch.Kind}, true
		},
		Owner:        owner,
		Logger:       r.logs.Logger(),
		Metrics:      m,
		Now:          clk.Now,
		PollInterval: 20 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 20 * time.Millisecond },
	})
	upkeep := maintenance.New(maintenance.Options{Store: st, Metrics: m, StatsInterval: 20 * time.Millisecond, SweepInterval: -1})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{source}", ingest.New(ingest.Options{
		Rules: func() *router.Ruleset { return rs }, Store: st, Dispatch: r.disp, Owner: owner, Now: clk.Now,
	}))
	r.srv = mux
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.disp.Run(ctx) }()
	upkept := make(chan struct{})
	go func() { defer close(upkept); upkeep.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dispatcher: %v", err)
		}
		<-upkept
	})
	return r
}

func (r *convReplica) post(t *testing.T, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/lago", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lago-Unique-Key", fmt.Sprintf("conv-%d", convKeys.Add(1)))
	rec := httptest.NewRecorder()
	r.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		b, _ := io.ReadAll(rec.Body)
		t.Fatalf("POST: %d %s", rec.Code, b)
	}
}

// settle waits until the store has nothing left to send.
func settle(t *testing.T, st *store.Store) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool {
		s, err := st.Stats(context.Background())
		return err == nil && s.ByState[store.StatePending]+s.ByState[store.StateInFlight] == 0
	}, func() string { return "deliveries still pending" })
}

func TestConversationStory(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	slack := testpeer.NewSlack(t)
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	r := newConvReplica(t, store.Options{}, clk, slack, smtp)

	// Two failures, then the payment succeeds.
	r.post(t, failure("inv_1"))
	settle(t, r.st)
	clk.Add(time.Hour)
	r.post(t, failure("inv_1"))
	settle(t, r.st)
	clk.Add(time.Hour)
	r.post(t, success("inv_1", "2026-03-02T11:00:00Z"))
	settle(t, r.st)

	reqs := slack.Requests()
	// #billing: one thread. The first message starts it; the second
	// failure and the resolution reply with its ts (the resolution also in
	// the channel).
	var billing []testpeer.SlackRequest
	var board []testpeer.SlackRequest
	for _, q := range reqs {
		switch {
		case q.Channel() == "#billing":
			billing = append(billing, q)
		case q.Channel() == "#billing-board" || q.APIMethod() == "chat.update":
			board = append(board, q)
		case q.Channel() == testpeer.SlackChannelID:
			billing = append(billing, q)
		}
	}
	if len(billing) != 3 {
		t.Fatalf("#billing got %d requests, want 3: %+v", len(billing), billing)
	}
	root := billing[0].PostedTS()
	if root == "" || billing[0].ThreadTS() != "" {
		t.Fatalf("first message: posted ts %q, thread_ts %q", root, billing[0].ThreadTS())
	}
	if got := billing[1]; got.ThreadTS() != root || got.Text() != "Payment failed again (1 before)" || got.Broadcast() {
		t.Errorf("second failure: thread_ts %q text %q broadcast %v; want a reply to %s", got.ThreadTS(), got.Text(), got.Broadcast(), root)
	}
	if got := billing[2]; got.ThreadTS() != root || got.Text() != "Paid after 2 failed attempts" || !got.Broadcast() {
		t.Errorf("resolution: thread_ts %q text %q broadcast %v", got.ThreadTS(), got.Text(), got.Broadcast())
	}
	// #billing-board: one message, edited twice in place.
	if len(board) != 3 || board[0].APIMethod() != "chat.postMessage" {
		t.Fatalf("#billing-board got %d requests: %+v", len(board), board)
	}
	for i, want := range []string{":x: unpaid, 1 failures so far", ":white_check_mark: Paid after 2 attempts"} {
		u := board[i+1]
		if u.APIMethod() != "chat.update" || u.TS() != board[0].PostedTS() || u.Channel() != testpeer.SlackChannelID || u.Text() != want {
			t.Errorf("board update %d: %s ts %q channel %q text %q; want chat.update of %s with %q",
				i, u.APIMethod(), u.TS(), u.Channel(), u.Text(), board[0].PostedTS(), want)
		}
	}
	// Email: the follow-ups thread under the first message.
	mails, err := smtp.WaitFor(3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	first := mails[0].HeaderValue("Message-ID")
	if mails[0].HeaderValue("In-Reply-To") != "" {
		t.Errorf("first email has In-Reply-To %q", mails[0].HeaderValue("In-Reply-To"))
	}
	for _, m := range mails[1:] {
		if m.HeaderValue("In-Reply-To") != first || m.HeaderValue("References") != first {
			t.Errorf("follow-up In-Reply-To %q References %q, want %q", m.HeaderValue("In-Reply-To"), m.HeaderValue("References"), first)
		}
	}
	// Resolved: not open, and no escalation two days later.
	c, ok, err := r.st.Conversation(context.Background(), "payment-failed", "inv_1")
	if err != nil || !ok || c.State != store.ConversationResolved || c.EscalateAt != nil {
		t.Fatalf("conversation: %+v ok=%v err=%v; want resolved without escalation", c, ok, err)
	}
	n := slack.Len()
	clk.Add(49 * time.Hour)
	polled(t, r.disp) // an escalation would now be a delivery, sent once settled
	settle(t, r.st)
	if slack.Len() != n {
		t.Errorf("a resolved conversation escalated: %d new Slack requests", slack.Len()-n)
	}
}

func TestConversationEscalatesOnce(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	slack := testpeer.NewSlack(t)
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	// Two replicas on one PostgreSQL database.
	o := store.Options{DatabaseURL: pg.DSN(t)}
	a := newConvReplica(t, o, clk, slack, smtp)
	b := newConvReplica(t, o, clk, slack, smtp)
	a.post(t, failure("inv_2"))
	settle(t, a.st)
	clk.Add(47 * time.Hour)
	polled(t, a.disp, b.disp)
	settle(t, a.st)
	if got := escalations(slack); len(got) != 0 {
		t.Fatalf("escalated before 48h: %d", len(got))
	}
	clk.Add(time.Hour)
	polled(t, a.disp, b.disp, a.disp, b.disp) // both replicas look, more than once
	settle(t, a.st)
	waitFor(t, 5*time.Second, func() bool { return len(escalations(slack)) >= 1 }, func() string { return "no escalation" })
	polled(t, a.disp, b.disp) // a second one would now be a delivery, sent once settled
	settle(t, a.st)
	got := escalations(slack)
	if len(got) != 1 {
		t.Fatalf("escalations sent: %d, want exactly 1", len(got))
	}
	if !strings.Contains(got[0].Text(), "inv_2 is still unpaid 48h") {
		t.Errorf("escalation text %q", got[0].Text())
	}
	// In the delivery log, with why.
	ds, err := a.st.List(context.Background(), store.Filter{Rule: "payment-failed"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range ds {
		if d.Channel == "escalations" {
			found = true
			if d.State != store.StateDelivered || !strings.Contains(d.Reason, "escalation") {
				t.Errorf("escalation delivery: state %s reason %q", d.State, d.Reason)
			}
		}
	}
	if !found {
		t.Error("no escalation in the delivery log")
	}
}

func escalations(s *testpeer.SlackServer) []testpeer.SlackRequest {
	var out []testpeer.SlackRequest
	for _, r := range s.Requests() {
		if r.Channel() == "#finance-escalations" {
			out = append(out, r)
		}
	}
	return out
}

func TestConversationOutOfOrder(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	slack := testpeer.NewSlack(t)
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	r := newConvReplica(t, store.Options{}, clk, slack, smtp)

	// The success (updated 08:30) arrives before its failure.
	r.post(t, success("inv_3", "2026-03-02T08:30:00Z"))
	settle(t, r.st)
	r.post(t, failure("inv_3"))
	settle(t, r.st)
	if n := slack.Len(); n != 0 {
		t.Errorf("%d Slack requests for a story that was over before it was told", n)
	}
	c, ok, err := r.st.Conversation(context.Background(), "payment-failed", "inv_3")
	if err != nil || !ok || c.State != store.ConversationResolved {
		t.Fatalf("conversation %+v ok=%v err=%v, want resolved", c, ok, err)
	}
	ds, err := r.st.List(context.Background(), store.Filter{Rule: "payment-failed"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State != store.StateSuppressed || !strings.Contains(d.Reason, "out of order") {
			t.Errorf("late failure delivery: %s %q", d.State, d.Reason)
		}
	}
	// Nothing left open, nothing to escalate.
	clk.Add(49 * time.Hour)
	polled(t, r.disp)
	settle(t, r.st)
	if n := slack.Len(); n != 0 {
		t.Errorf("escalated a resolved conversation")
	}
	waitFor(t, 5*time.Second, func() bool {
		return gaugeValue(r.reg, "switchboard_open_conversations", "payment-failed") == 0
	}, func() string { return "open conversations gauge" })
}

func TestConversationOpenGauge(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	slack := testpeer.NewSlack(t)
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	r := newConvReplica(t, store.Options{}, clk, slack, smtp)
	r.post(t, failure("inv_a"))
	r.post(t, failure("inv_b"))
	settle(t, r.st)
	waitFor(t, 5*time.Second, func() bool {
		return gaugeValue(r.reg, "switchboard_open_conversations", "payment-failed") == 2
	}, func() string { return "want 2 open" })
	r.post(t, success("inv_a", "2026-03-02T10:00:00Z"))
	settle(t, r.st)
	waitFor(t, 5*time.Second, func() bool {
		return gaugeValue(r.reg, "switchboard_open_conversations", "payment-failed") == 1
	}, func() string { return "want 1 open after a resolution" })
}

// gaugeValue reads switchboard_open_conversations{rule}; absent reads 0.
func gaugeValue(reg *prometheus.Registry, name, rule string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "rule" && l.GetValue() == rule {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// pagingRules page on a failed payment and close the page when it is paid:
// PagerDuty and Opsgenie keep the conversation themselves, under the
// rule's key.
const pagingRules = `
sources:
  lago:
    lago: {}
channels:
  pager:
    pagerduty: {routing_key: R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12, api_url: "PEER/v2/enqueue"}
  genie:
    opsgenie: {api_key: og-key, api_url: "PEER"}
rules:
  - name: payment-failed
    when: webhook_type == "invoice.payment_failure"
    send:
      - {to: pager, thread: "{{ .payment_provider_invoice_payment_error.lago_invoice_id }}", message: "Payment failed"}
      - {to: genie, thread: "{{ .payment_provider_invoice_payment_error.lago_invoice_id }}", message: "Payment failed"}
  - name: payment-succeeded
    when: webhook_type == "invoice.payment_status_updated" && invoice.payment_status == "succeeded"
    resolves: payment-failed
    send:
      - {to: pager, thread: "{{ .invoice.lago_id }}", message: "Paid"}
      - {to: genie, thread: "{{ .invoice.lago_id }}", message: "Paid"}
`

// TestConversationPagesAndResolves: two failures of one invoice are one
// PagerDuty incident and one Opsgenie alert (one dedup_key, one alias, the
// rule's conversation), and the payment resolves the incident and closes
// the alert under that same key.
func TestConversationPagesAndResolves(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var got []string // "path body"
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.RequestURI()+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x","result":"Request will be processed","requestId":"r"}`)
	}))
	t.Cleanup(peer.Close)
	r := newConvReplicaOf(t, strings.ReplaceAll(pagingRules, "PEER", peer.URL), store.Options{}, clk,
		testpeer.NewSlack(t), testpeer.NewSMTP(t, testpeer.SMTPOptions{}))
	r.post(t, failure("inv_9"))
	settle(t, r.st)
	r.post(t, failure("inv_9"))
	settle(t, r.st)
	r.post(t, success("inv_9", "2026-03-02T11:00:00Z"))
	settle(t, r.st)

	mu.Lock()
	defer mu.Unlock()
	var pd []map[string]any
	var og []string
	for _, g := range got {
		path, body, _ := strings.Cut(g, " ")
		if path == "/v2/enqueue" {
			var ev map[string]any
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				t.Fatal(err)
			}
			pd = append(pd, ev)
		} else {
			og = append(og, path)
		}
	}
	if len(pd) != 3 {
		t.Fatalf("%d PagerDuty events, want 3: %v", len(pd), got)
	}
	const key = "payment-failed/inv_9"
	for i, want := range []string{"trigger", "trigger", "resolve"} {
		if pd[i]["event_action"] != want || pd[i]["dedup_key"] != key {
			t.Errorf("event %d: %v %v, want %s with dedup_key %s", i, pd[i]["event_action"], pd[i]["dedup_key"], want, key)
		}
	}
	wantOG := []string{"/v2/alerts", "/v2/alerts", "/v2/alerts/" + url.PathEscape(key) + "/close?identifierType=alias"}
	if !slices.Equal(og, wantOG) {
		t.Errorf("Opsgenie requests %q, want %q", og, wantOG)
	}
}
