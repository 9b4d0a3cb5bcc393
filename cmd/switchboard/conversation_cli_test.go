package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// conversationRules: a status line edited in place that escalates to
// finance after a day whether or not it is resolved, and an escalation
// whose template fails.
const conversationRules = `channels:
  board:
    slack: {token: xoxb-1, channel: "#billing-board"}
  finance:
    slack: {token: xoxb-1, channel: "#finance"}
  crm:
    http: {url: "https://crm.example.com/escalations"}
rules:
  - name: overdue
    when: webhook_type == "invoice.payment_overdue"
    escalate:
      after: 24h
      unless_resolved: false
      to: finance
      message: "Invoice {{ .invoice.number }} went overdue a day ago"
    send:
      - to: board
        update: "{{ .invoice.lago_id }}"
        message: ":hourglass: {{ .invoice.number }} overdue"
  - name: overdue-to-crm
    when: webhook_type == "invoice.payment_overdue"
    escalate: {after: 2h, to: crm, message: "Invoice {{ .invoice.number }} still overdue"}
    send:
      - to: board
        thread: "{{ .invoice.lago_id }}"
        message: "{{ .invoice.number }} overdue"
  - name: overdue-broken-escalation
    when: webhook_type == "invoice.payment_overdue"
    escalate:
      after: 90m
      to: finance
      message: '{{ required "no coupon" .invoice.coupon_code }}'
    send:
      - to: board
        thread: "{{ .invoice.lago_id }}"
        message: "{{ .invoice.number }} overdue"
`

// TestTestShowsConversations: test names the conversation each delivery
// joins and how (starts a thread, edits, resolves), and what the rule's
// escalation would send: after how long, whether a resolution cancels it,
// to which channel, rendered — or why it would fail.
func TestTestShowsConversations(t *testing.T) {
	dir := t.TempDir()
	names := []string{"invoice.payment_failure", "invoice.payment_status_updated", "invoice.payment_dispute_lost",
		"wallet.depleted_ongoing_balance", "invoice.payment_overdue"}
	for _, n := range names {
		writeFile(t, filepath.Join(dir, n+".json"), string(fixture(t, n)))
	}
	files := make([]string, 0, len(names))
	for _, n := range names[:4] {
		files = append(files, n+".json")
	}
	r := cli{dir: dir, args: append([]string{"test", "--rules", mustAbs(t, "../../rules.example.yaml"),
		"--templates", mustAbs(t, "../../templates")}, files...)}.run(t)
	golden(t, "test-conversations", r.String(), dir)
	if r.code != 0 || !strings.Contains(r.stdout, "escalation: after 48h unless resolved, to finance: A payment for Lago invoice") {
		t.Errorf("the example's payment-failed escalation is not shown:\n%s", r)
	}

	writeFile(t, filepath.Join(dir, "rules.yaml"), conversationRules)
	r = cli{dir: dir, args: []string{"test", "--rules", "rules.yaml", "invoice.payment_overdue.json"}}.run(t)
	golden(t, "test-conversations-escalations", r.String(), dir)

	r = cli{dir: dir, args: []string{"test", "--json", "--rules", "rules.yaml", "invoice.payment_overdue.json"}}.run(t)
	if !strings.Contains(r.stdout, `"escalation": "after 24h whether or not resolved, to finance: Invoice `) {
		t.Errorf("test --json lacks the escalation:\n%s", r)
	}
}
