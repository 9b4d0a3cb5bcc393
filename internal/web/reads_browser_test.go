package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// What the editor shows besides the rules comes from the admin API too:
// the rules list's activity columns (GET /api/v1/stats/rules), the
// template picker (GET /api/v1/templates) and "Try it" on a received
// message (GET /api/v1/messages).
func TestEditorReadsInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	s.postWebhook(t, []byte(`{"webhook_type":"invoice.received_only","invoice":{"number":"INV-RECENT-7"}}`))
	waitFor(t, "the delivery", func() bool {
		return strings.Contains(s.apiGet(t, "/api/v1/deliveries?rule=all-invoices&status=delivered"), `"all-invoices"`)
	})
	run(t, ctx, "the rules list's activity",
		chromedp.Navigate(s.url+"/ui/rules"),
		waitText("#rule-all-invoices td:nth-child(4)", "1"),
		waitText("#rule-all-invoices td:nth-child(5)", "1"),
		waitText("#rule-all-invoices td:nth-child(6)", "ago"),
	)
	run(t, ctx, "the template picker and the received message",
		chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
		waitText("#send-template-0", "invoice.tmpl"),
		waitText("#try-recent", "invoice.received_only · lago"),
		chromedp.Click(chromedp.CSS(`input[name=try_source][value=recent]`)),
		chromedp.Click(chromedp.CSS("#try-button")),
		waitText("#try-verdict", "Match"),
		waitText("#try-result", "invoice.received_only"),
	)
}
