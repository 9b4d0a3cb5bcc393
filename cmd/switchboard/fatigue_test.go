package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

const fatigueRules = `
sources:
  lago:
    lago: {hmac_secret: "${LAGO_WEBHOOK_SECRET}"}
channels:
  ops:
    slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops", api_url: "${SLACK_API_URL}"}
    rate: {per_second: 50}
rules:
  - name: wallet-depleted
    when: webhook_type == "wallet.depleted_ongoing_balance"
    throttle: {key: "{{ .wallet.external_customer_id }}", every: 3s}
    send:
      - to: ops
        message: "Wallet of {{ .wallet.external_customer_id }} is empty{{ if .Suppressed }} (+{{ .Suppressed }} more since the last alert){{ end }}"
  - name: big-invoices
    description: invoices over $10,000
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 1000000
    group: {by: "{{ .invoice.currency }}", wait: 1s, interval: 2s}
    send:
      - to: ops
`

// withField returns a Lago fixture with one field of its object replaced.
func withField(t *testing.T, webhookType, object, field string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, webhookType), &m); err != nil {
		t.Fatal(err)
	}
	m[object].(map[string]any)[field] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncedAt sets the wallet's last_ongoing_balance_sync_at to minute n:
// two depletions of one wallet are never byte for byte the same message
// (a body seen before is a replay, and dropped).
func syncedAt(t *testing.T, body []byte, n int) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["wallet"].(map[string]any)["last_ongoing_balance_sync_at"] = fmt.Sprintf("2025-03-14T09:%02d:00Z", n)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The real binary throttles a repeating alert per customer and turns a
// burst of invoices into one digest, recording every decision in the
// delivery log and the metrics.
func TestThrottleAndDigestEndToEnd(t *testing.T) {
	slack := testpeer.NewSlack(t)
	slack.RequireToken(slackToken)
	s := startServer(t, config{rules: fatigueRules, env: []string{
		"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SLACK_BOT_TOKEN=" + slackToken, "SLACK_API_URL=" + slack.APIURL(),
		"SWITCHBOARD_ADMIN_TOKEN=" + adminToken,
	}})

	// Three depletions of one wallet and one of another, at once.
	for i, cust := range []string{"acme", "acme", "acme", "globex"} {
		body := syncedAt(t, withField(t, "wallet.depleted_ongoing_balance", "wallet", "external_customer_id", cust), i)
		if r := s.lagoPost("lago", lagoSecret, fmt.Sprintf("wallet-%d", i), body); r.code != 202 {
			t.Fatalf("post %d: %d %s", i, r.code, r.body)
		}
	}
	// Five large invoices in the same currency.
	for i := range 5 {
		body := withField(t, "invoice.created", "invoice", "total_amount_cents", 2_000_000+i)
		if r := s.lagoPost("lago", lagoSecret, fmt.Sprintf("invoice-%d", i), body); r.code != 202 {
			t.Fatalf("post invoice %d: %d %s", i, r.code, r.body)
		}
	}
	reqs, err := slack.WaitFor(3, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s) // a fourth message would be on its way now
	var texts []string
	for _, r := range slack.Requests() {
		texts = append(texts, r.Text())
	}
	all := strings.Join(texts, "\n---\n")
	if len(slack.Requests()) != 3 {
		t.Fatalf("%d Slack messages, want 2 wallet alerts and 1 digest:\n%s", len(reqs), all)
	}
	mustContain(t, "Slack messages", all, "Wallet of acme is empty", "Wallet of globex is empty",
		"*5 × invoices over $10,000 in the last ")
	if strings.Count(all, "Wallet of acme") != 1 {
		t.Fatalf("acme alerted more than once inside its window:\n%s", all)
	}

	// Both suppressed matches are in the delivery log, with the reason.
	auth := []string{"Authorization", "Bearer " + adminToken}
	r := s.do("GET", "/api/v1/deliveries?status=suppressed", nil, auth...)
	var list struct {
		Deliveries []struct {
			Rule, Status, Reason string
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Deliveries) != 2 {
		t.Fatalf("suppressed deliveries: %d %s", r.code, r.body)
	}
	for _, d := range list.Deliveries {
		if d.Rule != "wallet-depleted" || !strings.Contains(d.Reason, `throttled: key "acme"`) {
			t.Fatalf("suppressed delivery %+v", d)
		}
	}
	// `switchboard test` against the server's store says what would
	// happen now: acme's window is open, globex's too, a new customer's not.
	msg := filepath.Join(t.TempDir(), "acme.json")
	writeFile(t, msg, string(withField(t, "wallet.depleted_ongoing_balance", "wallet", "external_customer_id", "acme")))
	code, out, errOut := runCLI(t, nil, "test", "--rules", filepath.Join(s.dir, "rules.yaml"),
		"--data", filepath.Join(s.dir, "data"), msg)
	if code != 0 {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
	mustContain(t, "switchboard test", out, `now: suppress (throttled: key "acme" already notified; window ends `, "(2 suppressed so far))")
	writeFile(t, msg, string(withField(t, "wallet.depleted_ongoing_balance", "wallet", "external_customer_id", "initech")))
	_, out, _ = runCLI(t, nil, "test", "--rules", filepath.Join(s.dir, "rules.yaml"), "--data", filepath.Join(s.dir, "data"), msg)
	mustContain(t, "switchboard test", out, `now: send (throttle: key "initech", at most one per 3s; no window open, this one would open one)`)

	metrics := s.do("GET", "/metrics", nil).body
	mustContain(t, "metrics", metrics,
		`switchboard_rule_decisions_total{decision="suppressed",rule="wallet-depleted"} 2`,
		`switchboard_rule_decisions_total{decision="grouped",rule="big-invoices"} 5`,
		`switchboard_digests_total{rule="big-invoices"} 1`)

	// After the window, the next alert says how many were suppressed.
	time.Sleep(3 * time.Second)
	body := syncedAt(t, withField(t, "wallet.depleted_ongoing_balance", "wallet", "external_customer_id", "acme"), 9)
	if r := s.lagoPost("lago", lagoSecret, "wallet-again", body); r.code != 202 {
		t.Fatalf("post: %d %s", r.code, r.body)
	}
	reqs, err = slack.WaitFor(4, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[3].Text(); got != "Wallet of acme is empty (+2 more since the last alert)" {
		t.Fatalf("alert after the window: %q", got)
	}
}

// A silence added with the CLI mutes the running server within about a
// second; its matches are in the delivery log with its ID; expiring it
// lifts it.
func TestSilenceEndToEnd(t *testing.T) {
	slack := testpeer.NewSlack(t)
	slack.RequireToken(slackToken)
	s := startServer(t, config{rules: fatigueRules, env: []string{
		"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SLACK_BOT_TOKEN=" + slackToken, "SLACK_API_URL=" + slack.APIURL(),
		"SWITCHBOARD_ADMIN_TOKEN=" + adminToken,
	}})
	data, rules := filepath.Join(s.dir, "data"), filepath.Join(s.dir, "rules.yaml")

	code, out, errOut := runCLI(t, nil, "silence", "add", "--data", data, "--rules", rules,
		"--rule", "wallet-depleted", "--for", "1h", "--reason", "wallet migration", "--author", "alice")
	if code != 0 || !strings.Contains(out, " silences rule wallet-depleted until ") {
		t.Fatalf("silence add: exit %d\n%s%s", code, out, errOut)
	}
	id := strings.Fields(out)[0]
	// A typo would silence nothing: refused.
	code, _, errOut = runCLI(t, nil, "silence", "add", "--data", data, "--rules", rules,
		"--rule", "wallet-deplted", "--for", "1h", "--reason", "x")
	if code != 1 || !strings.Contains(errOut, `no rule named "wallet-deplted"`) {
		t.Fatalf("silence add with a typo: exit %d, %s", code, errOut)
	}
	code, out, _ = runCLI(t, nil, "silence", "list", "--data", data)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") || !strings.Contains(out, "alice") {
		t.Fatalf("silence list: exit %d\n%s", code, out)
	}

	auth := []string{"Authorization", "Bearer " + adminToken}
	post := func(key string) {
		body := withField(t, "wallet.depleted_ongoing_balance", "wallet", "external_customer_id", key)
		if r := s.lagoPost("lago", lagoSecret, key, body); r.code != 202 {
			t.Fatalf("post: %d %s", r.code, r.body)
		}
	}
	type logEntry struct {
		Rule, Status, Reason string
	}
	silenced := func() []logEntry {
		var list struct {
			Deliveries []logEntry `json:"deliveries"`
		}
		_ = json.Unmarshal([]byte(s.do("GET", "/api/v1/deliveries?status=silenced", nil, auth...).body), &list)
		return list.Deliveries
	}
	n := 0
	defer func() {
		if t.Failed() {
			_, o, e := runCLI(t, nil, "deliveries", "--data", data, "--limit", "3")
			t.Log(o, e)
			_, o, e = runCLI(t, nil, "silence", "list", "--data", data)
			t.Log(o, e)
			t.Log(s.do("GET", "/api/v1/silences", nil, auth...).body)
		}
	}()
	testkit.Eventually(t, "a match silenced", 10*time.Second, func() bool {
		n++
		post(fmt.Sprintf("cust-%d", n))
		time.Sleep(100 * time.Millisecond)
		return len(silenced()) > 0
	})
	if got := silenced()[0]; got.Rule != "wallet-depleted" || got.Reason != "silenced by "+id+": wallet migration" {
		t.Fatalf("silenced delivery %+v", got)
	}
	mustContain(t, "metrics", s.do("GET", "/metrics", nil).body,
		`switchboard_rule_decisions_total{decision="silenced",rule="wallet-depleted"}`)
	// The server's API lists it too.
	mustContain(t, "GET /api/v1/silences", s.do("GET", "/api/v1/silences", nil, auth...).body, id, `"state": "active"`)

	code, out, errOut = runCLI(t, nil, "silence", "expire", "--data", data, id)
	if code != 0 || !strings.Contains(out, id+" expired at ") {
		t.Fatalf("silence expire: exit %d\n%s%s", code, out, errOut)
	}
	before := slack.Len()
	testkit.Eventually(t, "a match delivered again", 10*time.Second, func() bool {
		n++
		post(fmt.Sprintf("cust-%d", n))
		time.Sleep(100 * time.Millisecond)
		return slack.Len() > before
	})
}
