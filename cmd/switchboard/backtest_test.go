package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
)

const btChannels = `sources:
  lago:
    lago: {}
channels:
  ops:
    slack: {token: "${SLACK_TOKEN}", channel: "#ops"}
  finance:
    slack: {token: "${SLACK_TOKEN}", channel: "#finance"}
`

const btCurrent = btChannels + `rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }}"
  - name: wallets
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send:
      - to: ops
        message: "Wallet {{ .wallet.lago_id }} ran dry"
`

const btCandidate = btChannels + `rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }} ({{ .invoice.currency }})"
  - name: big-invoices
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 10000
    throttle: {key: "{{ .invoice.customer.external_id }}", every: 1h}
    send:
      - to: finance
        message: "Big invoice {{ .invoice.number }}"
`

var btStart = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

type btMessage struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	ReceivedAt time.Time       `json:"received_at"`
	Body       json.RawMessage `json:"body"`
}

// btHistory is ten invoices ten minutes apart (cust-a even, cust-b odd,
// 5000 cents × i) and three depleted wallets between them.
func btHistory() []btMessage {
	var out []btMessage
	for i := range 10 {
		cust := "cust-a"
		if i%2 == 1 {
			cust = "cust-b"
		}
		out = append(out, btMessage{ID: fmt.Sprintf("msg-inv-%03d", i), Source: "lago",
			ReceivedAt: btStart.Add(time.Duration(i) * 10 * time.Minute),
			Body: json.RawMessage(fmt.Sprintf(`{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"lago_id":"inv-%03d","number":"INV-%03d","currency":"EUR","total_amount_cents":%d,"customer":{"external_id":%q}}}`,
				i, i, 5000*i, cust))})
		if i < 3 {
			out = append(out, btMessage{ID: fmt.Sprintf("msg-wal-%d", i), Source: "lago",
				ReceivedAt: btStart.Add(time.Duration(i)*10*time.Minute + 5*time.Minute),
				Body:       json.RawMessage(fmt.Sprintf(`{"webhook_type":"wallet.depleted_ongoing_balance","object_type":"wallet","wallet":{"lago_id":"wal-%d"}}`, i))})
		}
	}
	return out
}

// btFiles writes the two rules files and the history as a .jsonl file.
func btFiles(t *testing.T) (dir string) {
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "current.yaml"), btCurrent)
	writeFile(t, filepath.Join(dir, "candidate.yaml"), btCandidate)
	var b strings.Builder
	for _, m := range btHistory() {
		line, _ := json.Marshal(m)
		b.Write(line)
		b.WriteByte('\n')
	}
	writeFile(t, filepath.Join(dir, "messages", "history.jsonl"), b.String())
	return dir
}

// TestBacktestFromFiles runs the binary on a directory of messages, as a
// pull-request check would: the text report (golden), the JSON counts,
// and the exit codes of --fail-on-change and of wrong command lines.
func TestBacktestFromFiles(t *testing.T) {
	dir := btFiles(t)
	args := func(extra ...string) []string {
		return append([]string{"backtest", "--rules", filepath.Join(dir, "candidate.yaml"),
			"--against", filepath.Join(dir, "current.yaml"), "--messages", filepath.Join(dir, "messages")}, extra...)
	}
	r := cli{args: args()}.run(t)
	if r.code != 0 {
		t.Fatalf("backtest: %s", r)
	}
	golden(t, "backtest-text", r.String(), dir)

	r = cli{args: args("--format", "json")}.run(t)
	var rep struct {
		Messages int  `json:"messages"`
		Changed  bool `json:"changed"`
		Totals   struct {
			Added, Removed, Changed int
		} `json:"totals"`
		Rules []struct {
			Rule, Channel, Status   string
			Added, Removed, Changed int
			After                   struct{ Sent, Suppressed int }
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("json: %v\n%s", err, r)
	}
	if rep.Messages != 13 || !rep.Changed || rep.Totals.Added != 8 || rep.Totals.Removed != 3 || rep.Totals.Changed != 10 {
		t.Errorf("json report %+v", rep)
	}
	if len(rep.Rules) != 3 || rep.Rules[1].Rule != "big-invoices" || rep.Rules[1].After.Sent != 4 || rep.Rules[1].After.Suppressed != 4 {
		t.Errorf("json rules %+v", rep.Rules)
	}

	// --fail-on-change: 1 when anything changes (the report still
	// printed), 0 when the files route alike.
	r = cli{args: args("--fail-on-change")}.run(t)
	if r.code != 1 || !strings.Contains(r.stdout, "Total: 8 added, 3 removed, 10 changed") || r.stderr != "" {
		t.Errorf("--fail-on-change with changes: %s", r)
	}
	same := cli{args: []string{"backtest", "--rules", filepath.Join(dir, "current.yaml"), "--against", filepath.Join(dir, "current.yaml"),
		"--messages", filepath.Join(dir, "messages"), "--fail-on-change"}}.run(t)
	if same.code != 0 || !strings.Contains(same.stdout, "Total: 0 added, 0 removed, 0 changed") {
		t.Errorf("--fail-on-change without changes: %s", same)
	}
	// A window that holds no invoice changes nothing either.
	r = cli{args: args("--fail-on-change", "--type", "customer.created")}.run(t)
	if r.code != 0 {
		t.Errorf("empty window: %s", r)
	}

	for _, c := range []struct {
		extra []string
		want  string
	}{
		{[]string{"--format", "xml"}, `--format: want text or json, got "xml"`},
		{[]string{"--since", "a week"}, `--since: want a duration such as 7d, 24h or 90m, got "a week"`},
		{[]string{"--from", "yesterday"}, "--from: want a time such as"},
		{[]string{"--from", "2026-12-02", "--to", "2026-12-01"}, "--to must be after the start of the window"},
		{[]string{"--data", dir}, "give --messages or a store (--data, --database), not both"},
		{[]string{"extra"}, `backtest takes no arguments (got "extra")`},
		{[]string{"--frobnicate"}, "unknown flag --frobnicate"},
	} {
		r := cli{args: args(c.extra...)}.run(t)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 2 and %q, got %s", c.extra, c.want, r)
		}
	}

	// A candidate that does not load: exit 1 with its position.
	writeFile(t, filepath.Join(dir, "broken.yaml"), btChannels+"rules:\n  - name: x\n    when: webhook_type ==\n    send: [{to: ops}]\n")
	r = cli{args: []string{"backtest", "--rules", filepath.Join(dir, "broken.yaml"), "--messages", filepath.Join(dir, "messages")}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "broken.yaml:") {
		t.Errorf("broken candidate: %s", r)
	}
}

// TestBacktestAndUnmatchedOnAStore runs both commands on a real SQLite
// store (opened read-only: the row counts and the file do not change).
func TestBacktestAndUnmatchedOnAStore(t *testing.T) {
	dir := btFiles(t)
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range btHistory() {
		var typ struct {
			WebhookType string `json:"webhook_type"`
		}
		_ = json.Unmarshal(m.Body, &typ)
		if _, err := s.Enqueue(ctx, store.Message{ID: m.ID, Source: m.Source, Key: m.ID, WebhookType: typ.WebhookType,
			RulesVersion: "v1", ReceivedAt: m.ReceivedAt, Body: m.Body}, "test", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	counts := func() int {
		r, err := store.OpenReader(ctx, store.Options{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		n, err := r.Count(ctx, "messages")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	dbFile := filepath.Join(data, store.FileName)
	before, _ := os.ReadFile(dbFile)

	r := cli{env: []string{"SWITCHBOARD_DATA=" + data}, args: []string{"backtest", "--rules", filepath.Join(dir, "candidate.yaml"),
		"--against", filepath.Join(dir, "current.yaml"), "--from", "2026-11-30", "--to", "2026-12-01", "--fail-on-change"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stdout, "Total: 8 added, 3 removed, 10 changed") {
		t.Errorf("backtest on a store: %s", r)
	}
	r = cli{args: []string{"unmatched", "--rules", filepath.Join(dir, "candidate.yaml"), "--data", data, "--from", "2026-11-30"}}.run(t)
	if r.code != 0 {
		t.Fatalf("unmatched: %s", r)
	}
	mustContain(t, "unmatched", r.stdout, "3 of 13 messages matched no rule", "3      wallet.depleted_ongoing_balance  lago    2026-11-30T09:25:00Z  msg-wal-2")
	// The default window (24h back from now) holds none of them.
	r = cli{args: []string{"unmatched", "--rules", filepath.Join(dir, "candidate.yaml"), "--data", data}}.run(t)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0 of 0 messages matched no rule") {
		t.Errorf("unmatched --since 24h: %s", r)
	}
	// Its JSON report gives the window's end: now.
	r = cli{args: []string{"unmatched", "--rules", filepath.Join(dir, "candidate.yaml"), "--data", data, "--json"}}.run(t)
	var window struct{ From, To time.Time }
	if err := json.Unmarshal([]byte(r.stdout), &window); err != nil || r.code != 0 || time.Since(window.To) > time.Minute || window.To.Sub(window.From) != 24*time.Hour {
		t.Errorf("unmatched --json window %+v (%v): %s", window, err, r)
	}
	if n := counts(); n != 13 {
		t.Errorf("%d messages after the commands, want 13", n)
	}
	after, _ := os.ReadFile(dbFile)
	if string(before) != string(after) {
		t.Error("the database file changed")
	}
	// A data directory without a store is an error, and is not created.
	empty := filepath.Join(dir, "nothing")
	r = cli{args: []string{"backtest", "--rules", filepath.Join(dir, "candidate.yaml"), "--data", empty}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "open store: no store at") {
		t.Errorf("no store: %s", r)
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("the data directory was created")
	}
}
