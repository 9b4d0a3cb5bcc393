package backtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

const testChannels = `sources:
  lago:
    lago: {}
channels:
  ops:
    slack: {token: xoxb-test, channel: "#ops"}
  finance:
    slack: {token: xoxb-test, channel: "#finance"}
`

const currentRules = testChannels + `rules:
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

const candidateRules = testChannels + `rules:
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

// load compiles a rules file written to a temp dir.
func load(t testing.TB, src string) *router.Ruleset {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: p, TemplatesDir: filepath.Join(dir, "templates")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	return rs
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func invoice(i int) envelope {
	cust := "cust-a"
	if i%2 == 1 {
		cust = "cust-b"
	}
	body, _ := json.Marshal(map[string]any{
		"webhook_type": "invoice.created", "object_type": "invoice",
		"invoice": map[string]any{
			"lago_id": fmt.Sprintf("inv-%03d", i), "number": fmt.Sprintf("INV-%03d", i),
			"currency": "EUR", "total_amount_cents": 5000 * i,
			"customer": map[string]any{"external_id": cust},
		},
	})
	return envelope{ID: fmt.Sprintf("msg-inv-%03d", i), Source: "lago", ReceivedAt: t0.Add(time.Duration(i) * 10 * time.Minute), Body: body}
}

func wallet(i int) envelope {
	body, _ := json.Marshal(map[string]any{
		"webhook_type": "wallet.depleted_ongoing_balance", "object_type": "wallet",
		"wallet": map[string]any{"lago_id": fmt.Sprintf("wal-%d", i)},
	})
	return envelope{ID: fmt.Sprintf("msg-wal-%d", i), Source: "lago", ReceivedAt: t0.Add(time.Duration(i)*10*time.Minute + 5*time.Minute), Body: body}
}

// writeJSONL writes envelopes, one per line, to dir/name.
func writeJSONL(t testing.TB, dir, name string, envs []envelope) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range envs {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// history is ten invoices, ten minutes apart (cust-a even, cust-b odd,
// 5000 cents × i), and three depleted wallets between them, in two files.
func history(t testing.TB) string {
	dir := t.TempDir()
	var invs, wals []envelope
	for i := range 10 {
		invs = append(invs, invoice(i))
	}
	for i := range 3 {
		wals = append(wals, wallet(i))
	}
	writeJSONL(t, dir, "invoices.jsonl", invs)
	writeJSONL(t, dir, "wallets.jsonl", wals)
	return dir
}

func findRow(t *testing.T, rep *Report, rule, channel string) RuleReport {
	t.Helper()
	for _, r := range rep.Rules {
		if r.Rule == rule && r.Channel == channel {
			return r
		}
	}
	t.Fatalf("no row for %s → %s in %+v", rule, channel, rep.Rules)
	return RuleReport{}
}

func TestAddedRemovedChanged(t *testing.T) {
	rep, err := Run(context.Background(), Dir{Path: history(t)}, Options{
		Candidate: load(t, candidateRules), Current: load(t, currentRules),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 13 || rep.Matched != 10 || !rep.Changed {
		t.Fatalf("messages %d matched %d changed %v, want 13, 10, true", rep.Messages, rep.Matched, rep.Changed)
	}
	want := Totals{Added: 8, Removed: 3, Changed: 10, BeforeSent: 13, AfterSent: 14}
	got := rep.Totals
	got.SentPerDay, got.DeltaPerDay = 0, 0
	if got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	inv := findRow(t, rep, "invoices", "ops")
	if inv.Status != "changed" || inv.Changed != 10 || inv.Added != 0 || inv.Removed != 0 {
		t.Errorf("invoices: %+v", inv)
	}
	if len(inv.Examples.Changed) != DefaultExamples {
		t.Fatalf("changed examples: %d", len(inv.Examples.Changed))
	}
	ex := inv.Examples.Changed[0]
	if ex.MessageID != "msg-inv-000" || ex.Before["text"] != "Invoice INV-000" || ex.After["text"] != "Invoice INV-000 (EUR)" {
		t.Errorf("example %+v", ex)
	}
	if wantDiff := "@@ text @@\n- Invoice INV-000\n+ Invoice INV-000 (EUR)\n"; ex.Diff != wantDiff {
		t.Errorf("diff %q, want %q", ex.Diff, wantDiff)
	}
	wal := findRow(t, rep, "wallets", "ops")
	if wal.Status != "deleted" || wal.Removed != 3 || wal.Before.Sent != 3 || wal.After.Sent != 0 {
		t.Errorf("wallets: %+v", wal)
	}
	if len(wal.Examples.Removed) != 3 || wal.Examples.Removed[0].Before["text"] != "Wallet wal-0 ran dry" {
		t.Errorf("wallet examples: %+v", wal.Examples.Removed)
	}
	// big-invoices matches i = 2..9; its throttle (1h per customer) lets
	// cust-a through at 20m and 80m and cust-b at 30m and 90m.
	big := findRow(t, rep, "big-invoices", "finance")
	wantSide := Side{Matches: 8, Sent: 4, Suppressed: 4}
	if big.Status != "new" || big.Added != 8 || big.After != wantSide || big.Before != (Side{}) {
		t.Errorf("big-invoices: status %s added %d after %+v before %+v, want new 8 %+v", big.Status, big.Added, big.After, wantSide, big.Before)
	}
	// Per hour: 09:00 holds i = 0..5 (2..5 big: 4 added, cust-a 20m and
	// cust-b 30m sent), 10:00 holds i = 6..9 (4 added, 80m and 90m sent).
	if len(big.PerHour) != 2 || big.PerHour[0].Added != 4 || big.PerHour[0].After != 2 ||
		big.PerHour[1].Added != 4 || big.PerHour[1].After != 2 {
		t.Errorf("per hour %+v", big.PerHour)
	}
	if len(big.PerDay) != 1 || big.PerDay[0].Added != 8 || big.PerDay[0].After != 4 || !big.PerDay[0].Start.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("per day %+v", big.PerDay)
	}
	// Order: the candidate's rules in file order, then deleted ones.
	if rep.Rules[0].Rule != "invoices" || rep.Rules[1].Rule != "big-invoices" || rep.Rules[2].Rule != "wallets" {
		t.Errorf("order %s %s %s", rep.Rules[0].Rule, rep.Rules[1].Rule, rep.Rules[2].Rule)
	}
}

func TestSameConfigurationChangesNothing(t *testing.T) {
	rep, err := Run(context.Background(), Dir{Path: history(t)}, Options{
		Candidate: load(t, currentRules), Current: load(t, currentRules),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed || rep.Totals.Added+rep.Totals.Removed+rep.Totals.Changed != 0 {
		t.Fatalf("report changed: %+v", rep.Totals)
	}
	if r := findRow(t, rep, "invoices", "ops"); r.Unchanged != 10 || r.Status != "unchanged" {
		t.Errorf("invoices %+v", r)
	}
}

func TestFilterAndLimit(t *testing.T) {
	dir := history(t)
	cases := []struct {
		name string
		f    Filter
		want int
	}{
		{"type", Filter{Type: "wallet.depleted_ongoing_balance"}, 3},
		{"limit", Filter{Limit: 4}, 4},
		{"window", Filter{From: t0.Add(25 * time.Minute), To: t0.Add(60 * time.Minute)}, 4},
		{"source", Filter{Source: "other"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Dir{Path: dir}, Options{Candidate: load(t, candidateRules), Filter: c.f})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Messages != c.want {
				t.Errorf("messages %d, want %d", rep.Messages, c.want)
			}
		})
	}
}

func TestGroupingAndQuietHours(t *testing.T) {
	rules := testChannels + `rules:
  - name: grouped
    when: webhook_type == "invoice.created"
    group: {wait: 15m, interval: 1h}
    send: [{to: ops}]
  - name: quiet
    when: webhook_type == "invoice.created"
    schedule: {timezone: UTC, quiet: ["09:00-10:00"], during_quiet: hold}
    send: [{to: finance, message: "held {{ .invoice.number }}"}]
`
	rep, err := Run(context.Background(), Dir{Path: history(t)}, Options{Candidate: load(t, rules)})
	if err != nil {
		t.Fatal(err)
	}
	// Ten invoices 09:00–10:30: a group opens at 09:00, digest at 09:15
	// (0, 1); reopens at 09:20, due 10:15 (one interval after the last
	// digest: 2..8); reopens at 10:30 for 9, due 11:15.
	g := findRow(t, rep, "grouped", "ops")
	if g.After.Grouped != 10 || g.After.Digests != 3 || g.After.Sent != 3 {
		t.Errorf("grouped: %+v", g.After)
	}
	// 09:00–09:50 (0..5) are held until 10:00, then sent.
	q := findRow(t, rep, "quiet", "finance")
	if q.After.Held != 6 || q.After.Sent != 10 {
		t.Errorf("quiet: %+v", q.After)
	}
	var at10 int
	for _, b := range q.PerHour {
		if b.Start.Equal(t0.Add(time.Hour)) {
			at10 = b.After
		}
	}
	if at10 != 10 {
		t.Errorf("sent in the 10:00 hour: %d, want 10 (%+v)", at10, q.PerHour)
	}
}

func TestOutOfOrderFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	writeJSONL(t, dir, "m.jsonl", []envelope{invoice(2), invoice(1)})
	_, err := Run(context.Background(), Dir{Path: dir}, Options{Candidate: load(t, currentRules)})
	if err == nil || err.Error() != filepath.Join(dir, "m.jsonl")+":2: received_at 2026-11-30T09:10:00Z is before the line above: a file must be in time order" {
		t.Fatalf("error %v", err)
	}
}

// TestShortWindowRates: a window under an hour (here one message) gives
// per-day figures equal to its counts rather than scaled up from nothing,
// and says how long it is in words.
func TestShortWindowRates(t *testing.T) {
	rep, err := Run(context.Background(), Dir{Path: history(t)}, Options{
		Candidate: load(t, candidateRules), Current: load(t, currentRules), Filter: Filter{Limit: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 1 || rep.Days != 1 {
		t.Fatalf("messages %d, days %g; want 1 and 1", rep.Messages, rep.Days)
	}
	if want := float64(rep.Totals.AfterSent - rep.Totals.BeforeSent); rep.Totals.DeltaPerDay != want {
		t.Errorf("delta per day %g, want the window's %g", rep.Totals.DeltaPerDay, want)
	}
	if w := FormatWindow(rep); !strings.HasSuffix(w, "(under an hour)") {
		t.Errorf("window %q", w)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1 hour", 90 * time.Minute: "1.5 hours", 47 * time.Hour: "47 hours", 7 * 24 * time.Hour: "7 days", 36*24*time.Hour + 12*time.Hour: "36.5 days"} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
}
