package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/backtest"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
)

// storeHistory stores six invoices (50,000 and 150,000 cents in turn),
// two payment failures and three new customers, all in the last 12 hours.
func storeHistory(t *testing.T, s *store.Store) {
	t.Helper()
	now := time.Now()
	n := 0
	add := func(typ, body string) {
		n++
		id := fmt.Sprintf("msg-%02d", n)
		if _, err := s.Enqueue(ctxT(t), store.Message{ID: id, Source: "lago", Key: id, WebhookType: typ, RulesVersion: "v1",
			ReceivedAt: now.Add(-time.Duration(12-n) * time.Hour), Body: []byte(body)}, "test", nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		add("invoice.created", fmt.Sprintf(`{"webhook_type":"invoice.created","invoice":{"number":"INV-%d","total_amount_cents":%d}}`, i, 50000+100000*(i%2)))
	}
	add("invoice.payment_failure", `{"webhook_type":"invoice.payment_failure","invoice":{"number":"INV-9"}}`)
	add("invoice.payment_failure", `{"webhook_type":"invoice.payment_failure","invoice":{"number":"INV-8"}}`)
	for range 3 {
		add("customer.created", `{"webhook_type":"customer.created","customer":{"external_id":"c-1"}}`)
	}
}

func counts(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"messages", "deliveries", "throttles", "digest_groups", "config_history"} {
		n, err := s.MessageReader().Count(ctxT(t), table)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func TestBacktestEndpoint(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			so := b.opts(t)
			s := newServer(t, original, &so)
			storeHistory(t, s.store)
			before := counts(t, s.store)
			fileBefore := s.file()

			post := func(body map[string]any) (int, backtest.Report, string) {
				r := s.do("POST", "/api/v1/backtest", "", body)
				var rep backtest.Report
				if r.code == http.StatusOK {
					r.decode(t, &rep)
				}
				return r.code, rep, string(r.body)
			}
			// An edited rule: a lower threshold adds the three smaller
			// invoices, the new text changes the three big ones.
			code, rep, body := post(map[string]any{"rule": map[string]any{
				"name": "big-invoice", "when": `webhook_type == "invoice.created" && invoice.total_amount_cents >= 10000`,
				"send": sends("ops", "Invoice {{ .invoice.number }} is large"),
			}})
			if code != http.StatusOK {
				t.Fatalf("backtest: %d %s", code, body)
			}
			if rep.Messages != 11 || rep.Totals.Added != 3 || rep.Totals.Changed != 3 || rep.Totals.Removed != 0 {
				t.Errorf("edited rule: messages %d, totals %+v", rep.Messages, rep.Totals)
			}
			if len(rep.Rules) == 0 || rep.Rules[0].Rule != "big-invoice" || rep.Rules[0].Examples.Changed[0].Diff !=
				"@@ text @@\n- Invoice INV-1 is big\n+ Invoice INV-1 is large\n" {
				t.Errorf("edited rule: %+v", rep.Rules)
			}
			// A deleted rule removes its notifications.
			if code, rep, body = post(map[string]any{"delete": "payment-failed"}); code != http.StatusOK || rep.Totals.Removed != 2 || rep.Totals.Added != 0 {
				t.Errorf("delete: %d %+v %s", code, rep.Totals, body)
			}
			// One rule alone, as the Rules page asks: what it sends.
			if code, rep, body = post(map[string]any{"only": "big-invoice", "since": "1d"}); code != http.StatusOK ||
				rep.Totals.Added != 3 || len(rep.Rules) != 1 || rep.Rules[0].After.Sent != 3 {
				t.Errorf("only: %d %+v %s", code, rep.Totals, body)
			}
			// A window that holds nothing.
			if code, rep, _ = post(map[string]any{"delete": "payment-failed", "since": "30m"}); code != http.StatusOK || rep.Messages != 0 || rep.Changed {
				t.Errorf("empty window: %d %+v", code, rep)
			}
			for _, c := range []struct {
				body map[string]any
				code int
			}{
				{map[string]any{"delete": "payment-failed", "since": "a week"}, http.StatusBadRequest},
				{map[string]any{"delete": "payment-failed", "since": "365d"}, http.StatusBadRequest},
				{map[string]any{}, http.StatusBadRequest},
				{map[string]any{"delete": "nope"}, http.StatusNotFound},
				{map[string]any{"only": "nope"}, http.StatusNotFound},
				{map[string]any{"rule": map[string]any{"name": "x", "when": `webhook_type ==`, "send": sends("ops", "")}}, http.StatusUnprocessableEntity},
				{map[string]any{"rule": map[string]any{"name": "x", "when": `true`, "send": sends("nowhere", "")}}, http.StatusUnprocessableEntity},
			} {
				if code, _, body := post(c.body); code != c.code {
					t.Errorf("%v: %d %s, want %d", c.body, code, body, c.code)
				}
			}

			// The messages no rule matches, by type.
			var un backtest.UnmatchedReport
			r := s.do("GET", "/api/v1/unmatched?since=24h", "", nil)
			if r.code != http.StatusOK {
				t.Fatalf("unmatched: %d %s", r.code, r.body)
			}
			r.decode(t, &un)
			// The smaller invoices match no rule either (big-invoice wants 100,000).
			if un.Messages != 11 || un.Unmatched != 6 || len(un.Types) != 2 || un.Types[0].Type != "customer.created" || un.Types[0].Count != 3 ||
				un.Types[1].Type != "invoice.created" || un.Types[1].Count != 3 || un.Types[1].ExampleID != "msg-05" {
				t.Errorf("unmatched: %+v", un)
			}

			// Nothing written: not the store, not the rules file.
			if after := counts(t, s.store); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("row counts: before %v, after %v", before, after)
			}
			if s.file() != fileBefore {
				t.Error("the rules file changed")
			}
		})
	}
}

// TestBacktestIsBounded: a backtest that outlives its bound answers 504.
func TestBacktestIsBounded(t *testing.T) {
	s := newServer(t, original, nil)
	storeHistory(t, s.store)
	mux := http.NewServeMux()
	New(Options{Token: secret.String(testToken), Reload: s.reload, Store: s.store, Logger: slog.New(slog.DiscardHandler),
		BacktestTimeout: time.Nanosecond}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s.url = srv.URL
	r := s.do("POST", "/api/v1/backtest", "", map[string]any{"delete": "payment-failed"})
	if r.code != http.StatusGatewayTimeout {
		t.Fatalf("%d %s, want 504", r.code, r.body)
	}
}
