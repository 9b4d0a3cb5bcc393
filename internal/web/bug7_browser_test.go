package web_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The Channels page shows a ${VAR} reference in a header as written
// ("Bearer ${UI_CRM_TOKEN}" is where a secret comes from, not the
// secret) and a plain api_url as written; only literal secrets show as
// <secret>. A silenced delivery sent anyway no longer says "silenced" on
// its own page.
func TestChannelsShowReferencesAndSentAnywayInBrowser(t *testing.T) {
	t.Setenv("UI_CRM_TOKEN", "crm-token-value-3c2d")
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	s.apiSend(t, "PUT", "/api/v1/channels/crm",
		`{"http": {"url": "http://127.0.0.1:9/hooks", "headers": {"Authorization": "Bearer ${UI_CRM_TOKEN}"}}}`)

	run(t, ctx, "the channels page",
		chromedp.Navigate(s.url+"/ui/channels"),
		waitText("h1", "Channels"),
		waitText("#channel-crm", "Bearer ${UI_CRM_TOKEN}"),
		waitText("#channel-crm", "http://127.0.0.1:9/hooks"),
		waitText("#channel-billing", s.slack.APIURL()),
		waitText("#channel-billing", "<secret>"),
	)
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main table").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	for _, literal := range []string{"xoxb-ui-test", "crm-token-value-3c2d"} {
		if strings.Contains(page, literal) {
			t.Fatalf("the channels page shows the secret %q", literal)
		}
	}
	if crm := strings.Count(page, "<secret>"); crm != 1 {
		t.Errorf("%d values shown as <secret>, want 1 (billing's token only):\n%s", crm, page)
	}

	// Silenced, then sent anyway: its page says delivered, and that the
	// silence was before.
	s.apiSend(t, "POST", "/api/v1/silences", `{"rule": "all-invoices", "duration": "1h", "reason": "quarter close", "author": "test"}`)
	s.postWebhook(t, []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-S1"}}`))
	var list struct {
		Deliveries []struct {
			ID string `json:"id"`
		} `json:"deliveries"`
	}
	waitFor(t, "the delivery is silenced", func() bool {
		_ = json.Unmarshal([]byte(s.apiGet(t, "/api/v1/deliveries?status=silenced")), &list)
		return len(list.Deliveries) == 1
	})
	id := list.Deliveries[0].ID
	run(t, ctx, "send it anyway from its page",
		chromedp.Navigate(s.url+"/ui/deliveries/"+id),
		waitText("#delivery-facts", "silenced"),
		chromedp.Click(chromedp.CSS("#delivery-facts button")),
		waitText("#delivery-facts", "Queued again"),
	)
	if _, err := s.slack.WaitFor(1, 20*time.Second); err != nil {
		t.Fatalf("the replayed delivery was not sent: %v", err)
	}
	waitFor(t, "the delivery is delivered", func() bool {
		return strings.Contains(s.apiGet(t, "/api/v1/deliveries/"+id), `"state": "delivered"`)
	})
	run(t, ctx, "its page says delivered",
		chromedp.Reload(),
		waitText("#delivery-facts .status", "delivered"),
		waitText("#delivery-facts .reason", "sent anyway on replay; before that: silenced by sil-"),
		waitText("#attempts", "success"),
	)
	status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#delivery-facts .status").textContent`))
	if status != "delivered" {
		t.Fatalf("the status says %q", status)
	}
}
