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
		setField("#http-signing-secret", "${UI_CRM_SIGNING}"),
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

// The form shows and saves exactly what the file says: a templated URL
// path is not URL-escaped, "Bearer ${VAR}" is a reference and not a
// secret, so a channel saved unchanged keeps both as written.
func TestChannelFormShowsWhatIsWritten(t *testing.T) {
	t.Setenv("UI_CRM_TOKEN", "crm-token-value-7a6b")
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	const url = "http://127.0.0.1:9/customers/{{ .customer.external_id }}/events"
	run(t, ctx, "create",
		chromedp.Navigate(s.url+"/ui/channels/new"),
		waitText("h1", "New channel"),
		chromedp.SendKeys(chromedp.CSS("#ch-name"), "crm"),
		setField("#ch-kind", "http"),
		setField("#http-url", url),
		setField("#http-headers", "Authorization: Bearer ${UI_CRM_TOKEN}"),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("main", "Saved channel crm."),
	)
	before := s.file(t)
	if !strings.Contains(before, "customers/{{ .customer.external_id }}/events") {
		t.Fatalf("the templated path was not saved as written:\n%s", before)
	}
	run(t, ctx, "edit",
		chromedp.Navigate(s.url+"/ui/channels/crm/edit"),
		waitText("h1", "Edit channel crm"),
	)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#http-url").value + "\n" + document.querySelector("#http-headers").value`))
	if err != nil || shown != url+"\nAuthorization: Bearer ${UI_CRM_TOKEN}" {
		t.Fatalf("the form shows %q (%v), want the URL and header as written", shown, err)
	}
	run(t, ctx, "save unchanged",
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("main", "Saved channel crm."),
	)
	after := s.file(t)
	if !strings.Contains(after, "customers/{{ .customer.external_id }}/events") || strings.Contains(after, "%7B") ||
		!strings.Contains(after, "Bearer ${UI_CRM_TOKEN}") {
		t.Fatalf("saving unchanged changed the channel:\n%s", after)
	}
}
