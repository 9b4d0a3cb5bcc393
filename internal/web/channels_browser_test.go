package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Channels are created and edited from a form whose secret fields take
// only ${VAR} references; the values never reach the page.
func TestChannelFormInBrowser(t *testing.T) {
	t.Setenv("UI_CRM_TOKEN", "crm-token-value-9f8e")
	t.Setenv("UI_CRM_SIGNING", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("UI_SLACK_TOKEN", "xoxb-ui-slack-token-value")
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	run(t, ctx, "a literal secret is refused",
		chromedp.Navigate(s.url+"/ui/channels/new"),
		waitText("h1", "New channel"),
		chromedp.SendKeys(chromedp.CSS("#ch-name"), "crm"),
		setField("#ch-kind", "http"),
		chromedp.SendKeys(chromedp.CSS("#http-url"), "http://127.0.0.1:9/hooks"),
		chromedp.SendKeys(chromedp.CSS("#http-headers"), "Authorization: Bearer crm-literal-token"),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("#channel-problem", "${VAR} reference"),
	)
	if strings.Contains(s.file(t), "crm-literal-token") {
		t.Fatal("a literal secret reached the rules file")
	}
	run(t, ctx, "create with references",
		setField("#http-headers", "Authorization: Bearer ${UI_CRM_TOKEN}"),
		setField("#http-signing", "${UI_CRM_SIGNING}"),
		setField("#ch-timeout", "5s"),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("main", "Saved channel crm."),
		waitText("#channel-crm", "${UI_CRM_SIGNING}"),
	)
	screenshot(t, ctx, "channels")
	file := s.file(t)
	for _, want := range []string{"crm:", "url: http://127.0.0.1:9/hooks", "Authorization: Bearer ${UI_CRM_TOKEN}", "signing_secret: ${UI_CRM_SIGNING}", "timeout: 5s",
		"# This comment must survive every save."} {
		if !strings.Contains(file, want) {
			t.Fatalf("rules file lacks %q:\n%s", want, file)
		}
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerHTML`))
	if err != nil || strings.Contains(page, "crm-token-value") || strings.Contains(page, "whsec_MfKQ") {
		t.Fatalf("a secret value reached the page (%v)", err)
	}

	// Editing billing, whose token is written literally in the file: it
	// shows as <secret> and must be replaced by a reference to save.
	run(t, ctx, "edit billing",
		chromedp.Navigate(s.url+"/ui/channels/billing/edit"),
		waitText("h1", "Edit channel billing"),
	)
	token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#slack-token").value`))
	if err != nil || token != "<secret>" {
		t.Fatalf("the literal token shows as %q, want <secret> (%v)", token, err)
	}
	run(t, ctx, "save billing with a reference",
		setField("#slack-channel", "#finance"),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("#channel-problem", "cannot be kept"),
		setField("#slack-token", "${UI_SLACK_TOKEN}"),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("main", "Saved channel billing."),
	)
	if file := s.file(t); !strings.Contains(file, `channel: "#finance"`) && !strings.Contains(file, "channel: '#finance'") ||
		!strings.Contains(file, "token: ${UI_SLACK_TOKEN}") || strings.Contains(file, "xoxb-ui-test") {
		t.Fatalf("billing after the edit:\n%s", file)
	}
}
