package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// PagerDuty, Opsgenie, Teams and Discord channels are created from the
// same form as the others, laid out from GET /api/v1/channel-kinds, with
// their credentials only as ${VAR} references; Send test then reaches
// each service's stand-in, marked as a test.
func TestServiceChannelFormsInBrowser(t *testing.T) {
	const pdKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: http.StatusAccepted})
	t.Setenv("UI_PD_KEY", pdKey)
	t.Setenv("UI_OG_KEY", "og-api-key-value-5d1c")
	t.Setenv("UI_TEAMS_URL", peer.URL()+"/workflows/x?sig=S1Gvalue")
	t.Setenv("UI_DISCORD_URL", peer.URL()+"/api/webhooks/1/T0Kvalue")
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	run(t, ctx, "pagerduty: only its block shows, and a literal key is refused",
		chromedp.Navigate(s.url+"/ui/channels/new"),
		waitText("h1", "New channel"),
		chromedp.SendKeys(chromedp.CSS("#ch-name"), "pd"),
		setField("#ch-kind", "pagerduty"),
		shown("#kind-pagerduty", true), shown("#kind-slack", false), shown("#kind-discord", false),
		chromedp.SendKeys(chromedp.CSS("#pagerduty-routing-key"), pdKey),
		chromedp.Click(chromedp.CSS("#channel-save")),
		waitText("#channel-problem", "${VAR} reference"),
	)
	if strings.Contains(s.file(t), pdKey) {
		t.Fatal("a literal routing key reached the rules file")
	}
	forms := []struct {
		name, kind string
		fields     [][2]string
		want       []string
	}{
		{"pd", "pagerduty", [][2]string{{"#pagerduty-routing-key", "${UI_PD_KEY}"}, {"#pagerduty-severity", "warning"},
			{"#pagerduty-api-url", peer.URL() + "/v2/enqueue"}},
			[]string{"routing_key: ${UI_PD_KEY}", "severity: warning", "api_url: " + peer.URL() + "/v2/enqueue"}},
		{"og", "opsgenie", [][2]string{{"#opsgenie-api-key", "${UI_OG_KEY}"}, {"#opsgenie-priority", "P2"},
			{"#opsgenie-responders", `[{"type": "team", "name": "billing"}]`}, {"#opsgenie-tags", "billing, lago"},
			{"#opsgenie-api-url", peer.URL()}},
			[]string{"api_key: ${UI_OG_KEY}", "priority: P2", "type: team", "name: billing", "- lago"}},
		{"ms", "teams", [][2]string{{"#teams-webhook-url", "${UI_TEAMS_URL}"}}, []string{"webhook_url: ${UI_TEAMS_URL}"}},
		{"dc", "discord", [][2]string{{"#discord-webhook-url", "${UI_DISCORD_URL}"}, {"#discord-username", "Billing bot"}},
			[]string{"webhook_url: ${UI_DISCORD_URL}", "username: Billing bot"}},
	}
	for i, f := range forms {
		actions := []chromedp.Action[chromedp.Void]{}
		if i > 0 {
			actions = append(actions, chromedp.Navigate(s.url+"/ui/channels/new"), waitText("h1", "New channel"),
				setField("#ch-name", f.name), setField("#ch-kind", f.kind), shown("#kind-"+f.kind, true))
		}
		for _, fv := range f.fields {
			actions = append(actions, setField(fv[0], fv[1]))
		}
		actions = append(actions, chromedp.Click(chromedp.CSS("#channel-save")), waitText("main", "Saved channel "+f.name+"."),
			waitText("#channel-"+f.name, f.kind))
		run(t, ctx, "create "+f.kind, actions...)
		file := s.file(t)
		for _, want := range f.want {
			if !strings.Contains(file, want) {
				t.Fatalf("rules file lacks %q after creating %s:\n%s", want, f.name, file)
			}
		}
	}
	// Editing shows what was written, the JSON list and the list included.
	run(t, ctx, "edit opsgenie",
		chromedp.Navigate(s.url+"/ui/channels/og/edit"),
		waitText("h1", "Edit channel og"),
	)
	shownValues, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`["#ch-kind", "#opsgenie-api-key", "#opsgenie-tags", "#opsgenie-responders"].map(s => document.querySelector(s).value).join("|")`))
	if want := `opsgenie|${UI_OG_KEY}|billing, lago|[{"name":"billing","type":"team"}]`; err != nil || shownValues != want {
		t.Fatalf("the opsgenie form shows %q (%v), want %q", shownValues, err, want)
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerHTML`))
	if err != nil || strings.Contains(page, "og-api-key-value") || strings.Contains(page, "S1Gvalue") || strings.Contains(page, pdKey) {
		t.Fatalf("a secret value reached the page (%v)", err)
	}

	s.apiSend(t, http.MethodPost, "/api/v1/rules", `{"name": "services", "enabled": true, "when": "webhook_type == \"invoice.created\"",
		"send": [{"to": "pd"}, {"to": "og"}, {"to": "ms"}, {"to": "dc"}]}`)
	run(t, ctx, "open the rule", chromedp.Navigate(s.url+"/ui/rules/services/edit"), waitText("h1", "services"),
		chromedp.Click(chromedp.CSS("#send-test summary")))
	paths := map[string]string{"pd": "/v2/enqueue", "og": "/v2/alerts", "ms": "/workflows/x", "dc": "/api/webhooks/1/T0Kvalue"}
	for i, name := range []string{"pd", "og", "ms", "dc"} {
		run(t, ctx, "send a test to "+name, sendTestTo(name))
		reqs := peer.WaitFor(i+1, 20*time.Second)
		if len(reqs) != i+1 {
			t.Fatalf("%s: the stand-in got %d requests, want %d", name, len(reqs), i+1)
		}
		got := reqs[i]
		if got.Path != paths[name] || !strings.Contains(string(got.Body), "[TEST]") {
			t.Fatalf("%s: the stand-in got %s %s, want %s marked as a test", name, got.Path, got.Body, paths[name])
		}
	}
	if h := peer.Requests()[0].Header.Get("Content-Type"); !strings.HasPrefix(h, "application/json") {
		t.Fatalf("PagerDuty event sent as %q", h)
	}
	if a := peer.Requests()[1].Header.Get("Authorization"); a != "GenieKey og-api-key-value-5d1c" {
		t.Fatalf("Opsgenie alert authorised by %q", a)
	}
}

// shown checks whether sel is displayed.
func shown(sel string, want bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		got, err := chromedp.Evaluate[bool](fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).display !== "none"`, sel))(ctx, tg)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s displayed: %v, want %v", sel, got, want)
		}
		return nil
	})
}

// sendTestTo sends a test to channel from the open editor, again while
// the API answers that a test was sent less than a second ago.
func sendTestTo(channel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := setField("#test-channel", channel)(ctx, tg); err != nil {
			return err
		}
		for {
			if _, err := chromedp.Click(chromedp.CSS("#send-test-button"))(ctx, tg); err != nil {
				return err
			}
			if err := htmxIdle(ctx, tg); err != nil {
				return err
			}
			got, err := chromedp.Evaluate[string](`(document.querySelector("#send-test-result")||{}).textContent||""`)(ctx, tg)
			switch {
			case err != nil:
				return err
			case strings.Contains(got, "Test sent to "+channel):
				return nil
			case !strings.Contains(got, "one test send per second"):
				return fmt.Errorf("send test to %s: %q", channel, got)
			}
		}
	})
}
