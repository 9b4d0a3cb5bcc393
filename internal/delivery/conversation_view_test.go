package delivery_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit/browser"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/router"
)

// exampleStoryEnv sets the variables rules.example.yaml reads.
var exampleStoryEnv = map[string]string{
	"LAGO_WEBHOOK_SECRET": "story-secret", "SLACK_BOT_TOKEN": "xoxb-story", "SMTP_USER": "u", "SMTP_PASSWORD": "p",
	"SMTP_HOST": "127.0.0.1", "CRM_TOKEN": "t", "CRM_SIGNING_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

// exampleRulesOn returns rules.example.yaml with #billing-alerts on the
// Slack stand-in.
func exampleRulesOn(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const channel = `      channel: "#billing-alerts"` + "\n"
	if !strings.Contains(string(b), channel) {
		t.Fatalf("rules.example.yaml no longer has %q", channel)
	}
	return strings.Replace(string(b), channel, channel+"      api_url: SLACK/api/\n", 1)
}

// storyFixture is one of the project's Lago fixtures with its IDs
// replaced (old, new pairs), so that the events of a story name the same
// objects.
func storyFixture(t *testing.T, webhookType string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "lago", "testdata", webhookType+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s.json lacks %q", webhookType, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

// postSigned posts body to the replica as Lago does, signed with the
// example's HMAC key.
func (r *convReplica) postSigned(t *testing.T, body string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(exampleStoryEnv["LAGO_WEBHOOK_SECRET"]))
	mac.Write([]byte(body))
	req := httptest.NewRequest(http.MethodPost, "/webhooks/lago", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lago-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Lago-Signature-Algorithm", "hmac")
	req.Header.Set("X-Lago-Unique-Key", fmt.Sprintf("story-%d", convKeys.Add(1)))
	rec := httptest.NewRecorder()
	r.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		b, _ := io.ReadAll(rec.Body)
		t.Fatalf("POST: %d %s", rec.Code, b)
	}
}

// TestExampleStoryView tells the README's payment failure story (and a
// wallet's) with the example rules and templates against the Slack
// stand-in, draws what #billing-alerts shows (testpeer.SlackView) in
// Chromium, checks the threads there, and saves the screenshot the README
// shows (docs/screenshots/conversation-story.png, refreshed with
// SWITCHBOARD_SCREENSHOTS=$PWD/docs/screenshots).
func TestExampleStoryView(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	slack := testpeer.NewSlack(t)
	slack.SetNow(clk.Now)
	slack.RequireToken(exampleStoryEnv["SLACK_BOT_TOKEN"])
	smtp := testpeer.NewSMTP(t, testpeer.SMTPOptions{})
	templates, err := filepath.Abs("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) { v, ok := exampleStoryEnv[name]; return v, ok }
	r := newConvReplicaWith(t, exampleRulesOn(t), router.LoadOptions{TemplatesDir: templates, Env: env}, store.Options{}, clk, slack, smtp)

	const invoice, wallet = "18b4929d-c6b5-437f-ab2c-8f42085b641e", "e73b1650-889e-496f-9d6e-98fd94d70daa"
	failure := storyFixture(t, "invoice.payment_failure", "3b15938d-1935-42b0-9df6-c02117b11068", invoice)
	story := []struct {
		after time.Duration
		body  string
	}{
		{0, failure},
		{20 * time.Minute, storyFixture(t, "wallet.depleted_ongoing_balance", "62fa2a88-6840-49ae-af1e-51988c2ab350", wallet)},
		{40 * time.Minute, storyFixture(t, "invoice.payment_failure", "3b15938d-1935-42b0-9df6-c02117b11068", invoice,
			"Your card was declined.", "Your card has insufficient funds.", "card_declined", "insufficient_funds")}, // the dunning retry
		{40 * time.Minute, storyFixture(t, "wallet_transaction.updated")},
		{20 * time.Minute, storyFixture(t, "invoice.payment_status_updated", "2025-03-04T15:27:53Z", "2026-03-02T11:00:00Z")},
	}
	for _, step := range story {
		clk.Add(step.after)
		r.postSigned(t, step.body)
		settle(t, r.st)
	}
	reqs := slack.Requests()
	for _, q := range reqs {
		if !q.OK {
			t.Fatalf("Slack refused %s: %s", q.APIMethod(), q.Body)
		}
	}
	if len(reqs) != 5 {
		t.Fatalf("Slack got %d requests, want 5", len(reqs))
	}

	page := filepath.Join(t.TempDir(), "billing-alerts.html")
	if err := os.WriteFile(page, []byte(testpeer.SlackView("#billing-alerts", reqs)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := browser.Start(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS(".slack"))); err != nil {
		t.Fatal(err)
	}
	// The channel: the two first messages and the two broadcast
	// resolutions; under the payment failure its thread (the retry and
	// the payment), under the wallet its top-up.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".slack > .msg")].map(m =>
		m.querySelector(".time").textContent + " " + m.querySelector(":scope > .body > .content").textContent.slice(0, 30) +
		" | " + [...m.querySelectorAll(".thread .msg")].map(r => r.querySelector(".time").textContent).join(","))`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"09:00 ✖ Payment failed for customer  | 10:00,11:00",
		"09:20 Prepaid wallet depletedCustome | 10:40", // its blocks
		"10:40 ✔ Wallet topped up: 500.0 cred | ",
		"11:00 ✔ Invoice ACME-2025-0042 paid: | ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("#billing-alerts shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".slack").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 replies", "after 2 failed payments since Mar 2 09:00 UTC", "replied to a thread", "Prepaid wallet depleted"} {
		if !strings.Contains(text, want) {
			t.Errorf("the view lacks %q:\n%s", want, text)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(".slack")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", browser.Save(t, "conversation-story", png))
}
