package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// receive posts n copies of the Lago example of webhookType, each with its
// own object ID, so that none is taken for a duplicate.
func receive(t *testing.T, s *server, webhookType string, n int) {
	t.Helper()
	catalog, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := catalog.Example(webhookType)
	if !ok {
		t.Fatalf("no Lago example for %s", webhookType)
	}
	for i := range n {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		obj, _ := m[m["object_type"].(string)].(map[string]any)
		obj["lago_id"] = fmt.Sprintf("%s-%d", webhookType, i)
		if _, ok := obj["number"]; ok {
			obj["number"] = fmt.Sprintf("INV-%04d", i)
		}
		body, _ := json.Marshal(m)
		s.postWebhook(t, body)
	}
}

// apiPost posts body to the admin API and decodes the answer into out.
func (s *server) apiPost(t *testing.T, path string, body, out any) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// waitStored waits until the store holds n messages.
func waitStored(t *testing.T, s *server, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rep struct {
			Messages int `json:"messages"`
		}
		code := s.apiPost(t, "/api/v1/backtest", map[string]any{"only": "all-invoices"}, &rep)
		if code == http.StatusNotFound {
			t.Fatal("POST /api/v1/backtest answered 404")
		}
		if rep.Messages >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages stored, want %d", rep.Messages, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBacktestInBrowser: before saving a new rule, the editor shows what
// it would have sent over the last 7 days, with examples, and the Save
// button says how many notifications a day it would add; the Rules page
// backtests a saved rule alone; the Unmatched page counts the messages no
// rule matches by type and starts a rule for one.
func TestBacktestInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	receive(t, s, "invoice.created", 3)
	receive(t, s, "wallet.depleted_ongoing_balance", 2)
	waitStored(t, s, 5)
	login(t, ctx, s)

	t.Run("editor: what this change would have done", func(t *testing.T) {
		run(t, ctx, "build a rule",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "every-invoice"),
			setField("#type", "invoice.created"),
			waitText("#built", `webhook_type == "invoice.created"`),
			setField("#send-kind-0", "message"),
			chromedp.WaitVisible(chromedp.CSS("#send-message-0")),
			setField("#send-message-0", "New invoice {{ .invoice.number }}"),
			waitText("#save-button", "Save"),
		)
		runWithin(t, ctx, 45*time.Second, "backtest",
			clickIdle("#backtest-button"),
			waitText("#backtest-summary", "3 added"),
			waitText("#backtest-summary", "0 removed"),
			waitText(`#backtest-result tr[data-rule="every-invoice"]`, "new"),
			waitText("#backtest-result .example.added pre", "New invoice INV-000"),
			waitText("#save-button", "Save (would add 0.4 notifications a day)"),
		)
		screenshot(t, ctx, "editor-backtest")

	})

	t.Run("editor: disabling a rule removes its notifications", func(t *testing.T) {
		runWithin(t, ctx, 45*time.Second, "disable all-invoices",
			chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.Click(chromedp.CSS(`input[name=enabled]`)),
			clickIdle("#backtest-button"),
			waitText("#backtest-summary", "3 removed"),
			waitText(`#backtest-result tr[data-rule="all-invoices"]`, "3"),
			waitText("#save-button", "Save (would send 0.4 fewer notifications a day)"),
		)
	})

	t.Run("rules page: one rule alone", func(t *testing.T) {
		runWithin(t, ctx, 45*time.Second, "backtest all-invoices",
			chromedp.Navigate(s.url+"/ui/rules"),
			chromedp.WaitVisible(chromedp.CSS("#backtest-rule")),
			setField("#backtest-rule", "all-invoices"),
			chromedp.Click(chromedp.CSS("#backtest-rule-button")),
			waitText("#backtest-summary", "Rule all-invoices alone"),
			waitText("#backtest-summary", "5 messages replayed, 3 notifications sent"),
			waitText(`#backtest-result tr[data-rule="all-invoices"]`, "billing"),
		)
		screenshot(t, ctx, "rules-backtest")
	})
	t.Run("unmatched: create a rule for this", func(t *testing.T) {
		run(t, ctx, "unmatched page",
			chromedp.Navigate(s.url+"/ui/unmatched"),
			waitText("#unmatched-summary", "2 of 5 messages received in the last 24h matched no rule"),
			waitText(`#unmatched-table tr[data-type="wallet.depleted_ongoing_balance"]`, "2"),
		)
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#unmatched-table tbody tr[data-type]").length`))
		if err != nil || rows != 1 {
			t.Fatalf("%d types listed (%v), want 1: invoices matched all-invoices", rows, err)
		}
		screenshot(t, ctx, "unmatched")
		run(t, ctx, "create a rule for this",
			chromedp.Click(chromedp.CSS(`tr[data-type="wallet.depleted_ongoing_balance"] a.create-rule`)),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			waitText("#built", `webhook_type == "wallet.depleted_ongoing_balance"`),
		)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#name").value + " " + document.querySelector("#type").value + " " + document.querySelector("#try-example").value`))
		if want := "wallet-depleted_ongoing_balance wallet.depleted_ongoing_balance wallet.depleted_ongoing_balance"; err != nil || got != want {
			t.Fatalf("prefilled %q (%v), want %q", got, err, want)
		}
		run(t, ctx, "try the prefilled rule",
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "Match"),
		)
	})
}
