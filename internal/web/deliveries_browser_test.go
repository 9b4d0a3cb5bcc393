package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// inTimeZone makes the page's clock run in zone, with en-US formatting.
func inTimeZone(zone string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	})
}

// One delivery's page shows what was sent and to which channel, each
// attempt with its time, outcome and error, and the message it came from;
// times are in the browser's time zone; the bulk replay says how many it
// will requeue before it does.
func TestDeliveryDetailInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	s.slack.Reply(testpeer.SlackError("channel_not_found"))
	s.postWebhook(t, []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-T1","total_amount_cents":500000,"currency":"EUR"}}`))
	if _, err := s.slack.WaitFor(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Deliveries []struct {
			ID        string    `json:"id"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"deliveries"`
	}
	testkit.Eventually(t, "the delivery is dead", 20*time.Second, func() bool {
		_ = json.Unmarshal([]byte(s.apiGet(t, "/api/v1/deliveries?status=dead")), &list)
		return len(list.Deliveries) == 1
	})
	dead := list.Deliveries[0]
	var attempt struct {
		Attempts []struct {
			StartedAt time.Time `json:"started_at"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(s.apiGet(t, "/api/v1/deliveries/"+dead.ID)), &attempt); err != nil || len(attempt.Attempts) != 1 {
		t.Fatalf("attempts %+v, %v", attempt, err)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	wantTime := attempt.Attempts[0].StartedAt.In(tokyo).Format("03:04:05 PM") + " GMT+9"

	run(t, ctx, "Tokyo", inTimeZone("Asia/Tokyo"))
	run(t, ctx, "the list links to the delivery, times in Tokyo",
		chromedp.Navigate(s.url+"/ui/deliveries"),
		waitText("h1", "Deliveries"),
		waitText("#deliveries tbody", "GMT+9"),
		waitText("#bulk-replay-count", "This requeues 1 dead letter."),
	)
	run(t, ctx, "open the delivery",
		chromedp.Click(chromedp.CSS(`#deliveries a[href="/ui/deliveries/`+dead.ID+`"]`)),
		waitText("h1", dead.ID),
	)
	run(t, ctx, "the delivery's page",
		waitText("#delivery-channel", "billing"),
		waitText("#delivery-parts", "text"),
		waitText("#delivery-parts", "invoice.created"),
		waitText("#attempts", "permanent"),
		waitText("#attempts", "channel_not_found"),
		waitText("#attempts", wantTime),
		waitText("#delivery-message", "invoice.created"),
		waitText("#message-body", `"number": "INV-T1"`),
	)
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#attempts time").title`))
	if err != nil || !strings.HasSuffix(title, "Z") {
		t.Errorf("the attempt's UTC time in its title: %q, %v", title, err)
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerHTML`))
	if err != nil || strings.Contains(page, "xoxb-ui-test") {
		t.Fatalf("the delivery page shows the channel's token (%v)", err)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#message-rule-link").getAttribute("href")`))
	if err != nil || href != "/ui/rules/all-invoices/edit" {
		t.Errorf("link to the rule: %q, %v", href, err)
	}
	screenshot(t, ctx, "delivery")
	run(t, ctx, "a delivery that is not there",
		chromedp.Navigate(s.url+"/ui/deliveries/no-such-delivery"),
		waitText("main .error", "There is no delivery no-such-delivery"),
	)

	run(t, ctx, "bulk replay counts, then requeues",
		chromedp.Navigate(s.url+"/ui/deliveries"),
		waitText("#bulk-replay-count", "This requeues 1 dead letter."),
		setField("#r-rule", "all-invoices"),
		waitText("#bulk-replay-count", "This requeues 1 dead letter."),
		setField("#r-since", ""),
		waitText("#bulk-replay-count", "This requeues 1 dead letter."),
		acceptConfirms(),
		chromedp.Click(chromedp.CSS("#bulk-replay-button")),
		waitText("#bulk-replay-result", "Requeued 1 dead letter."),
		setField("#r-channel", "billing"),
		waitText("#bulk-replay-count", "This requeues 0 dead letters."),
	)
}
