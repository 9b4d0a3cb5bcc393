package api

import (
	"github.com/switchboard-dev/switchboard/internal/app/reload"
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/router"
)

// liveServer is the admin API over a configuration whose channels really
// send, to the given peers, on a clock the test moves.
func liveServer(t *testing.T, rules string) (*server, *testclock.Clock) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o640); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rl, err := reload.New(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: filepath.Join(dir, "templates"), Logger: log}, log, nil, nil)
	if err != nil {
		t.Fatalf("reload.New: %v", err)
	}
	t.Cleanup(func() { rl.Current().Close() })
	mux := http.NewServeMux()
	clk := testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	New(Options{Token: secret.String(testToken), Reload: rl, Logger: log, Now: clk.Now}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{t: t, path: path, url: srv.URL, reload: rl}, clk
}

// Send test delivers one real notification, marked as a test; an email
// goes only to the address typed in, never to the message's or the
// channel's recipients.
func TestSendTest(t *testing.T) {
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	slack := testpeer.NewSlack(t)
	s, clk := liveServer(t, `sources:
  lago:
    lago: {}
channels:
  finance:
    email:
      host: 127.0.0.1
      port: `+strings.TrimPrefix(smtp.Addr(), "127.0.0.1:")+`
      tls: none
      from: billing@example.com
      to: ["{{ .invoice.customer.email }}", finance@example.com]
      cc: [boss@example.com]
  ops:
    slack: {webhook_url: "`+slack.WebhookURL()+`"}
rules:
  - name: big-invoice
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 1000000
    send:
      - to: finance
        message: "Invoice {{ .invoice.number }}"
      - to: ops
        message: "Invoice {{ .invoice.number }} issued"
`)
	// A message that does not match: a test still shows the notification.
	msg := map[string]any{"webhook_type": "invoice.created",
		"invoice": map[string]any{"number": "INV-7", "total_amount_cents": 100, "customer": map[string]any{"email": "customer@example.com"}}}

	r := s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "big-invoice", "to": "finance"})
	if r.code != 422 || !strings.Contains(string(r.body), "email_to") {
		t.Fatalf("email without email_to: %d %s", r.code, r.body)
	}
	r = s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "big-invoice", "to": "finance",
		"email_to": "Alice <alice@example.com>"})
	if r.code != 200 || !strings.Contains(string(r.body), `"sent": true`) {
		t.Fatalf("send email test: %d %s", r.code, r.body)
	}
	mails := smtp.Messages()
	if len(mails) != 1 || strings.Join(mails[0].To, ",") != "alice@example.com" || mails[0].HeaderValue("Cc") != "" ||
		!strings.HasPrefix(mails[0].Subject(), "[TEST] ") {
		t.Fatalf("test mail: %+v (subject %q)", mails, mails[0].Subject())
	}

	clk.Add(time.Second) // one test per second
	r = s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "to": "ops",
		"rule": map[string]any{"name": "draft", "when": "false", "send": []map[string]any{{"to": "ops", "message": "Draft {{ .invoice.number }}"}}}})
	if r.code != 200 {
		t.Fatalf("send Slack test of an unsaved rule: %d %s", r.code, r.body)
	}
	if reqs := slack.Requests(); len(reqs) != 1 || reqs[0].Text() != "[TEST] Draft INV-7" {
		t.Fatalf("Slack received %+v", reqs)
	}
	// Too soon after the last one.
	r = s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "big-invoice", "to": "ops"})
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("second test within a second: %d %s", r.code, r.body)
	}
	// A channel the rule does not send to, an unknown rule.
	if r := s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "big-invoice", "to": "crm"}); r.code != 422 {
		t.Fatalf("unknown target: %d", r.code)
	}
	if r := s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "nope"}); r.code != 422 {
		t.Fatalf("unknown rule: %d", r.code)
	}
	// The peer's refusal comes back as 502 with its reason.
	clk.Add(time.Second)
	slack.Reply(testpeer.SlackError("channel_not_found"))
	r = s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "big-invoice", "to": "ops"})
	if r.code != http.StatusBadGateway || !strings.Contains(string(r.body), "channel_not_found") {
		t.Fatalf("refused test: %d %s", r.code, r.body)
	}
}
