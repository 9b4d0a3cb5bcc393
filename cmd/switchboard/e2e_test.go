package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

const (
	lagoSecret   = "6a2f1f5e-3c8b-4d7e-9b1a-0f4c2d8e7a31"
	slackToken   = "xoxb-e2e-slack-token-0001"
	smtpPassword = "smtp-e2e-password-0001"
	signingKey   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	adminToken   = "admin-e2e-token-0001-7f3c9a2b5d8e41f6"
)

// peers are the real network peers a full configuration delivers to.
type peers struct {
	slack *testpeer.SlackServer
	smtp  *testpeer.SMTPServer
	hook  *testpeer.Receiver
}

func newPeers(t *testing.T) peers {
	p := peers{
		slack: testpeer.NewSlack(t),
		smtp:  testpeer.NewSMTP(t, testpeer.SMTPOptions{Username: "billing-bot", Password: smtpPassword}),
		hook:  testpeer.NewReceiver(t),
	}
	p.slack.RequireToken(slackToken)
	return p
}

func (p peers) env() []string {
	return []string{
		"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SLACK_BOT_TOKEN=" + slackToken,
		"SLACK_API_URL=" + p.slack.APIURL(), "SMTP_PORT=" + fmt.Sprint(p.smtp.Port()),
		"SMTP_PASSWORD=" + smtpPassword, "HOOK_URL=" + p.hook.URL() + "/in/{{ .webhook_type }}",
		"CRM_SIGNING_SECRET=" + signingKey,
	}
}

const e2eRules = `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_WEBHOOK_SECRET}
  small:
    max_body: 64
    generic: {}
channels:
  ops:
    slack:
      token: ${SLACK_BOT_TOKEN}
      channel: "#ops"
      api_url: ${SLACK_API_URL}
  finance:
    email:
      host: 127.0.0.1
      port: ${SMTP_PORT}
      tls: none
      username: billing-bot
      password: ${SMTP_PASSWORD}
      from: "Billing <billing@example.com>"
      to: ["{{ .invoice.customer.email }}", finance@example.com]
  crm:
    http:
      url: ${HOOK_URL}
      signing_secret: ${CRM_SIGNING_SECRET}
rules:
  - name: wallet-depleted
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send:
      - to: ops
        template: wallet.tmpl
  - name: large-invoice
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 1000000
    send:
      - to: finance
        template: invoice.tmpl
      - to: crm
  - name: credit-invoices
    when: webhook_type == "invoice.created" && invoice.total_amount_cents < 0
    send:
      - to: ops
        thread: "{{ .invoice.lago_id }}"
  - name: credit-invoices-voided
    when: webhook_type == "invoice.voided" && invoice.total_amount_cents < 0
    resolves: credit-invoices
    send:
      - to: ops
        thread: "{{ .invoice.lago_id }}"
`

var e2eTemplates = map[string]string{
	"wallet.tmpl": `{{ define "text" }}Wallet of {{ .wallet.external_customer_id }} is empty: {{ money .wallet.ongoing_balance_cents .wallet.currency }} <https://app.example.com|open>{{ end }}`,
	"invoice.tmpl": `{{ define "subject" }}Invoice {{ .invoice.number }}{{ end }}
{{ define "text" }}Total {{ money .invoice.total_amount_cents .invoice.currency }}{{ end }}
{{ define "html" }}<p>Total <b>{{ money .invoice.total_amount_cents .invoice.currency }}</b> for {{ .invoice.customer.name }}</p>{{ end }}`,
}

// TestServeEndToEnd runs the real binary against a real Slack stand-in,
// SMTP server and HTTP receiver: signed Lago webhooks in, rendered
// notifications out, and every ingest answer of DESIGN §4.
func TestServeEndToEnd(t *testing.T) {
	p := newPeers(t)
	s := startServer(t, config{rules: e2eRules, templates: e2eTemplates, env: append(p.env(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken)})
	// Every channel's and conversation rule's series exist from the
	// start, so alerts on them work before anything happens.
	start := s.do("GET", "/metrics", nil).body
	mustContain(t, "metrics at start", start,
		`switchboard_channel_state{channel="crm"} 0`,
		`switchboard_channel_open_total{channel="ops"} 0`,
		`switchboard_open_conversations{rule="credit-invoices"} 0`,
		`switchboard_rule_matches_total{rule="credit-invoices"} 0`)
	if strings.Contains(start, `switchboard_open_conversations{rule="credit-invoices-voided"}`) {
		t.Error("open conversations counted under a rule that only resolves them")
	}

	wallet := fixture(t, "wallet.depleted_ongoing_balance")
	if r := s.lagoPost("lago", lagoSecret, "key-wallet-1", wallet); r.code != 202 {
		t.Fatalf("wallet: %d %s", r.code, r.body)
	}
	reqs, err := p.slack.WaitFor(1, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Token() != slackToken || reqs[0].Channel() != "#ops" {
		t.Errorf("slack got token %q channel %q", reqs[0].Token(), reqs[0].Channel())
	}
	if got := reqs[0].Text(); got != "Wallet of acme_1042 is empty: $0.00 <https://app.example.com|open>" {
		t.Errorf("slack text %q", got)
	}
	// A notification sent is one line at the default level.
	testkit.Eventually(t, "the delivery logged at INFO", 10*time.Second, func() bool {
		for _, l := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(l, "level=INFO msg=delivered") && strings.Contains(l, "rule=wallet-depleted") && strings.Contains(l, "channel=ops") {
				return true
			}
		}
		return false
	})

	invoice := fixture(t, "invoice.created")
	if r := s.lagoPost("lago", lagoSecret, "key-invoice-1", invoice); r.code != 202 {
		t.Fatalf("invoice: %d %s", r.code, r.body)
	}
	mails, err := p.smtp.WaitFor(1, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := mails[0]
	if m.Subject() != "Invoice ACME-2025-0042" {
		t.Errorf("subject %q", m.Subject())
	}
	if strings.Join(m.To, ",") != "billing@acme-robotics.example.com,finance@example.com" && len(m.To) != 2 {
		t.Errorf("recipients %v", m.To)
	}
	text, _ := m.Text()
	html, _ := m.HTML()
	mustContain(t, "email text", text, "Total $18,747.30")
	mustContain(t, "email html", html, "<b>$18,747.30</b>", "Acme Robotics")
	hooks := p.hook.WaitFor(1, 15*time.Second)
	h := hooks[0]
	if string(h.Body) != string(invoice) {
		t.Error("the HTTP channel must forward the original bytes")
	}
	if h.Path != "/in/invoice.created" || h.Header.Get("webhook-id") == "" {
		t.Errorf("path %q, webhook-id %q", h.Path, h.Header.Get("webhook-id"))
	}
	p.hook.Verify(t, signingKey)

	// The same unique key again: 200, nothing new queued.
	if r := s.lagoPost("lago", lagoSecret, "key-invoice-1", invoice); r.code != 200 {
		t.Fatalf("duplicate: %d %s", r.code, r.body)
	}
	// Every refusal, in DESIGN §4's order.
	cases := []struct {
		name   string
		source string
		body   string
		sig    string
		want   int
	}{
		{"unknown source", "nope", `{}`, "", 404},
		{"too large", "small", `{"x":"` + strings.Repeat("a", 100) + `"}`, "", 413},
		{"bad signature", "lago", `{"webhook_type":"x"}`, "bm9wZQ==", 401},
		{"not json", "lago", `[1,2]`, "", 400},
		{"not an object", "small", `"str"`, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig := c.sig
			if sig == "" {
				sig = lagoSign(lagoSecret, []byte(c.body))
			}
			r := s.do("POST", "/webhooks/"+c.source, []byte(c.body), "X-Lago-Signature", sig, "X-Lago-Signature-Algorithm", "hmac")
			if r.code != c.want {
				t.Fatalf("%d %s, want %d", r.code, r.body, c.want)
			}
		})
	}
	waitIdle(t, s)
	if n := len(p.smtp.Messages()); n != 1 {
		t.Errorf("%d emails after a duplicate, want 1", n)
	}
	if n := len(p.hook.Requests()); n != 1 {
		t.Errorf("%d HTTP deliveries after a duplicate, want 1", n)
	}

	// Health, readiness and the metrics DESIGN §4 lists.
	if r := s.do("GET", "/healthz", nil); r.code != 200 {
		t.Errorf("healthz %d", r.code)
	}
	if r := s.do("GET", "/readyz", nil); r.code != 200 {
		t.Errorf("readyz %d", r.code)
	}
	metrics := s.do("GET", "/metrics", nil).body
	mustContain(t, "metrics", metrics,
		`switchboard_messages_received_total{outcome="queued",source="lago"} 2`,
		`switchboard_messages_received_total{outcome="duplicate",source="lago"} 1`,
		`switchboard_messages_received_total{outcome="unauthorized",source="lago"} 1`,
		`switchboard_rule_matches_total{rule="large-invoice"} 1`,
		`switchboard_deliveries_total{channel="ops",outcome="delivered"} 1`,
		`switchboard_delivery_attempts_total{channel="finance",outcome="success"} 1`,
		"switchboard_rule_errors_total", "switchboard_delivery_duration_seconds_bucket",
		"switchboard_deliveries_pending", "switchboard_oldest_pending_seconds",
		"switchboard_config_last_reload_successful 1", "switchboard_config_last_reload_success_timestamp_seconds")

	// Admin API: bearer token required.
	if r := s.do("GET", "/api/v1/status", nil); r.code != 401 {
		t.Errorf("status without token: %d", r.code)
	}
	if r := s.do("GET", "/api/v1/status", nil, "Authorization", "Bearer wrong"); r.code != 401 {
		t.Errorf("status with a wrong token: %d", r.code)
	}
	r := s.do("GET", "/api/v1/deliveries?status=delivered", nil, "Authorization", "Bearer "+adminToken)
	var list struct {
		Deliveries []struct{ Rule, Channel, Status string } `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Deliveries) != 3 {
		t.Errorf("deliveries: %d %s", r.code, r.body)
	}

	// Graceful shutdown exits 0.
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	for _, secret := range []string{lagoSecret, slackToken, smtpPassword, signingKey, adminToken} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("a secret appears in the log")
		}
	}
}

// TestServeReload: an editor-style save of the rules file takes effect,
// a broken save is rejected with positions in the admin status while the
// old rules keep routing, SIGHUP and POST /-/reload force reloads.
func TestServeReload(t *testing.T) {
	p := newPeers(t)
	rules := func(text string) string {
		return `
sources:
  gen: {}
channels:
  ops:
    slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops", api_url: "${SLACK_API_URL}"}
rules:
  - name: r
    when: "true"
    send: [{to: ops, message: "` + text + `"}]
`
	}
	s := startServer(t, config{rules: rules("one"), env: append(p.env(), "SWITCHBOARD_ADMIN_TOKEN="+adminToken)})
	auth := []string{"Authorization", "Bearer " + adminToken}
	sent := 0
	post := func(want string) {
		t.Helper()
		if r := s.do("POST", "/webhooks/gen", []byte(`{"webhook_type":"x"}`)); r.code != 202 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		sent++
		reqs, err := p.slack.WaitFor(sent, 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := reqs[sent-1].Text(); got != want {
			t.Fatalf("text %q, want %q", got, want)
		}
	}
	post("one")
	writeFile(t, s.dir+"/rules.yaml", rules("two"))
	testkit.Eventually(t, "reload", 10*time.Second, func() bool {
		return strings.Contains(s.do("GET", "/api/v1/rules", nil, auth...).body, `"message": "two"`)
	})
	post("two")

	writeFile(t, s.dir+"/rules.yaml", rules("three")+"  - name: broken\n    when: 'webhook_type =='\n    send: [{to: ops}]\n")
	var status struct {
		OK     bool `json:"ok"`
		Errors []struct {
			Line, Column int
			Rule         string
			Message      string
		} `json:"errors"`
	}
	testkit.Eventually(t, "rejection", 10*time.Second, func() bool {
		_ = json.Unmarshal([]byte(s.do("GET", "/api/v1/status", nil, auth...).body), &status)
		return !status.OK
	})
	if len(status.Errors) != 1 || status.Errors[0].Rule != "broken" || status.Errors[0].Line != 12 {
		t.Fatalf("status errors %+v", status.Errors)
	}
	mustContain(t, "metrics", s.do("GET", "/metrics", nil).body, "switchboard_config_last_reload_successful 0")
	post("two") // the old rules keep routing

	// Fix the file without an event reaching the watcher is not possible to
	// simulate portably; force reloads instead.
	writeFile(t, s.dir+"/rules.yaml", rules("four"))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "SIGHUP reload", 10*time.Second, func() bool {
		_ = json.Unmarshal([]byte(s.do("GET", "/api/v1/status", nil, auth...).body), &status)
		return status.OK
	})
	post("four")
	if r := s.do("POST", "/-/reload", nil, auth...); r.code != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %s", r.code, r.body)
	}
	if r := s.do("POST", "/-/reload", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("POST /-/reload without token: %d", r.code)
	}
}

// TestAdminSurfaceOffWithoutToken: no token, no admin surface (404), and
// the log says so at start.
func TestAdminSurfaceOffWithoutToken(t *testing.T) {
	s := startServer(t, config{rules: "sources:\n  gen: {}\nrules: []\n"})
	for _, path := range []string{"/api/v1/status", "/api/v1/rules", "/ui/"} {
		if r := s.do("GET", path, nil, "Authorization", "Bearer anything"); r.code != 404 {
			t.Errorf("%s: %d", path, r.code)
		}
	}
	if r := s.do("POST", "/-/reload", nil); r.code != 404 {
		t.Errorf("reload: %d", r.code)
	}
	mustContain(t, "log", s.logs.String(), "admin surface disabled")
}

// TestDryRunLogsInsteadOfSending: the README's run command works with
// nothing configured and logs the rendered notification.
func TestDryRunLogsInsteadOfSending(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, config{dir: dir, args: []string{"--dry-run", "--rules", "../../rules.example.yaml", "--templates", "../../templates"}})
	_ = dir
	if r := s.do("POST", "/webhooks/lago", fixture(t, "wallet.depleted_ongoing_balance")); r.code != 202 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	testkit.Eventually(t, "dry-run log", 10*time.Second, func() bool {
		return strings.Contains(s.logs.String(), "dry-run notification")
	})
	mustContain(t, "log", s.logs.String(), "rule=wallet-depleted", "acme_1042", "signature verification disabled under --dry-run")
}
