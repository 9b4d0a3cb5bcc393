package router

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// serviceChannels is a rules file head with one channel of each
// template-block kind, pointed at local stand-ins.
const serviceChannels = `
channels:
  pager:
    pagerduty: {routing_key: "${PD_KEY}", severity: warning, api_url: "${PEER}/v2/enqueue"}
  genie:
    opsgenie: {api_key: "${OG_KEY}", region: eu, priority: P2, tags: [lago], api_url: "${PEER}"}
  chat:
    teams: {webhook_url: "${PEER}/workflows/abc?sig=S1G"}
  game:
    discord: {webhook_url: "${PEER}/api/webhooks/1/T0K", username: Billing}
`

func serviceEnv(peer string) config.Env {
	return testEnv(map[string]string{
		"PD_KEY": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12", "OG_KEY": "og-key-secret", "PEER": peer,
	})
}

// TestServiceDefaultsEveryLagoType renders the built-in PagerDuty,
// Opsgenie, Teams and Discord templates for the fixture of every Lago
// webhook type, checks that each says what the Slack default says, and
// sends every delivery through the real notifier to a local stand-in
// that must accept it.
func TestServiceDefaultsEveryLagoType(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: http.StatusAccepted})
	o := writeConfig(t, serviceChannels+threeChannels[len("\nchannels:"):]+`
rules:
  - name: everything
    when: "true"
    send: [{to: pager}, {to: genie}, {to: chat}, {to: game}, {to: ops}]
`, nil)
	o.Env = serviceEnv(peer.URL())
	rs := mustLoad(t, o)
	defer rs.Close()
	if ch := rs.Channels["game"]; ch.RatePerSecond != 0.5 || ch.Burst != 5 || ch.Pacing != 20 {
		t.Errorf("discord defaults: rate %v burst %d pacing %d", ch.RatePerSecond, ch.Burst, ch.Pacing)
	}
	if ch := rs.Channels["pager"]; ch.Pacing != 0 || ch.RatePerSecond != 2 {
		t.Errorf("pagerduty defaults: rate %v pacing %d", ch.RatePerSecond, ch.Pacing)
	}
	sent := 0
	for _, typ := range mustCatalog(t).Types() {
		res := route(t, rs, typ.WebhookType)
		if len(res.Deliveries) != 5 {
			t.Fatalf("%s: %d deliveries", typ.WebhookType, len(res.Deliveries))
		}
		pd, og, teams, discord, slack := res.Deliveries[0], res.Deliveries[1], res.Deliveries[2], res.Deliveries[3], res.Deliveries[4]
		for _, d := range res.Deliveries {
			if d.Err != nil {
				t.Fatalf("%s %s: %v", typ.WebhookType, d.Channel, d.Err)
			}
		}
		// The Slack line, unescaped and without its code marks, is the
		// PagerDuty summary.
		line := strings.NewReplacer("*", "", "`", "", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(slack.Parts.Text)
		if pd.Parts.Text != line {
			t.Errorf("%s: pagerduty summary\n got %s\nwant %s", typ.WebhookType, pd.Parts.Text, line)
		}
		if pd.Parts.Source != "lago" || !json.Valid([]byte(pd.Parts.Details)) {
			t.Errorf("%s: source %q details %s", typ.WebhookType, pd.Parts.Source, pd.Parts.Details)
		}
		if !strings.HasPrefix(og.Parts.Text, typ.WebhookType) || !strings.Contains(og.Parts.Description, typ.WebhookType) {
			t.Errorf("%s: opsgenie message %q", typ.WebhookType, og.Parts.Text)
		}
		if !strings.Contains(teams.Parts.Card, `"AdaptiveCard"`) || !strings.Contains(discord.Parts.Embeds, `"fields"`) {
			t.Errorf("%s: card %s embeds %s", typ.WebhookType, teams.Parts.Card, discord.Parts.Embeds)
		}
		for _, d := range res.Deliveries[:4] {
			n := rs.Channels[d.Channel].Notifier
			if err := n.Notify(context.Background(), d.Notification); err != nil {
				t.Fatalf("%s to %s: %v", typ.WebhookType, d.Channel, err)
			}
			sent++
		}
	}
	if got := peer.Count(); got != sent || sent != 4*76 {
		t.Fatalf("%d requests for %d deliveries", got, sent)
	}
	paths := map[string]int{}
	for _, r := range peer.Requests() {
		paths[r.Path]++
	}
	for _, p := range []string{"/v2/enqueue", "/v2/alerts", "/workflows/abc", "/api/webhooks/1/T0K"} {
		if paths[p] != 76 {
			t.Errorf("%d requests to %s", paths[p], p)
		}
	}
}

// TestServiceTemplates: custom templates fill each kind's parts — a
// Teams card block, Discord content and embeds with Markdown escaping,
// PagerDuty and Opsgenie blocks — and message: fills the text part.
func TestServiceTemplates(t *testing.T) {
	o := writeConfig(t, serviceChannels+`
rules:
  - name: custom
    when: "true"
    send:
      - {to: pager, template: pd.tmpl}
      - {to: genie, template: og.tmpl}
      - {to: chat, template: card.tmpl}
      - {to: game, template: discord.tmpl}
      - {to: game, message: "New customer {{ .customer.name }}"}
      - {to: chat, message: "New customer {{ .customer.name }}"}
      - {to: pager, message: "New customer {{ .customer.name }}"}
`, map[string]string{
		"pd.tmpl":   `{{ define "summary" }}Customer {{ .customer.name }}{{ end }}{{ define "details" }}{"id": {{ toJson .customer.external_id }}}{{ end }}`,
		"og.tmpl":   `{{ define "message" }}{{ .customer.name }}{{ end }}{{ define "description" }}d{{ end }}`,
		"card.tmpl": `{{ define "card" }}{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"**Customer** {{ markdownJson .customer.name }}"}]}{{ end }}`,
		"discord.tmpl": `{{ define "content" }}**New** {{ .customer.name }}{{ end }}` +
			`{{ define "embeds" }}[{"title":"{{ markdownJson .customer.name }}"}]{{ end }}`,
	})
	o.Env = serviceEnv("http://127.0.0.1:9")
	rs := mustLoad(t, o)
	defer rs.Close()
	res := rs.Route(msg(t, `{"webhook_type":"customer.created","object_type":"customer","customer":{"name":"@everyone *Acme*","external_id":"c_1"}}`))
	if len(res.Deliveries) != 7 {
		t.Fatalf("%d deliveries", len(res.Deliveries))
	}
	for _, d := range res.Deliveries {
		if d.Err != nil {
			t.Fatalf("%s: %v", d.Channel, d.Err)
		}
	}
	p := func(i int) notifiers.Parts { return res.Deliveries[i].Parts }
	// A template or message without a source block: the built-in one,
	// the message's source.
	if p(0).Text != "Customer @everyone *Acme*" || p(0).Details != `{"id": "c_1"}` || p(0).Source != "lago" {
		t.Errorf("pagerduty %+v", p(0))
	}
	if p(6).Text != "New customer @everyone *Acme*" || p(6).Source != "lago" {
		t.Errorf("pagerduty message: %+v", p(6))
	}
	if p(1).Text != "@everyone *Acme*" || p(1).Description != "d" || p(1).Details != "" {
		t.Errorf("opsgenie %+v", p(1))
	}
	if !strings.Contains(p(2).Card, `"**Customer** \\@everyone \\*Acme\\*"`) {
		t.Errorf("teams card %s", p(2).Card)
	}
	if p(3).Text != `**New** \@everyone \*Acme\*` || p(3).Embeds != `[{"title":"\\@everyone \\*Acme\\*"}]` {
		t.Errorf("discord %+v", p(3))
	}
	if p(4).Text != `New customer \@everyone \*Acme\*` || p(5).Text != p(4).Text || p(5).Card != "" {
		t.Errorf("message: %+v / %+v", p(4), p(5))
	}
}

// TestServiceBrokenJSON: a card that renders to broken JSON fails that
// delivery with a clear error; the others go.
func TestServiceBrokenJSON(t *testing.T) {
	o := writeConfig(t, serviceChannels+`
rules:
  - name: r
    when: "true"
    send: [{to: chat, template: card.tmpl}, {to: game}]
`, map[string]string{"card.tmpl": `{{ define "card" }}{"type":"AdaptiveCard","text":"{{ .customer.name }}"}{{ end }}`})
	o.Env = serviceEnv("http://127.0.0.1:9")
	rs := mustLoad(t, o)
	defer rs.Close()
	res := rs.Route(msg(t, `{"webhook_type":"customer.created","customer":{"name":"a\"b"}}`))
	if err := res.Deliveries[0].Err; err == nil || !strings.Contains(err.Error(), "render card: the result is not valid JSON") {
		t.Errorf("card: %v", err)
	}
	if res.Deliveries[1].Err != nil {
		t.Errorf("discord: %v", res.Deliveries[1].Err)
	}
}

// TestServiceDigest: a grouping rule's digest reaches a Discord channel
// as text naming the grouped types.
func TestServiceDigest(t *testing.T) {
	o := writeConfig(t, serviceChannels+`
rules:
  - name: grouped
    when: "true"
    group: {by: webhook_type, wait: 1m}
    send: [{to: game}]
`, nil)
	o.Env = serviceEnv("http://127.0.0.1:9")
	rs := mustLoad(t, o)
	defer rs.Close()
	m := msg(t, `{"webhook_type":"customer.created","object_type":"customer","customer":{"external_id":"c_1"}}`)
	out, ok := rs.RenderDigest(Digest{Rule: "grouped", Channel: "game", Key: "customer.created", Messages: []*Message{m, m}, Count: 2, Now: time.Unix(1700000000, 0)})
	if !ok || len(out) != 1 || out[0].Err != nil {
		t.Fatalf("digest %v %+v", ok, out)
	}
	if p := out[0].Parts; !strings.Contains(p.Text, "2 × grouped") || !strings.Contains(p.Text, "• customer.created") || p.Embeds != "" {
		t.Errorf("digest parts %+v", p)
	}
}

// TestServiceMessageEscaping: message: for Discord is Markdown-escaped,
// for PagerDuty plain.
func TestServiceMessageEscaping(t *testing.T) {
	if render.Markdown.String() != "markdown" {
		t.Fatal(render.Markdown)
	}
	o := writeConfig(t, serviceChannels+`
rules:
  - name: r
    when: "true"
    send: [{to: game, message: "{{ .n }}"}, {to: pager, message: "{{ .n }}"}]
`, nil)
	o.Env = serviceEnv("http://127.0.0.1:9")
	rs := mustLoad(t, o)
	defer rs.Close()
	res := rs.Route(msg(t, `{"n":"<@&42> @here"}`))
	if res.Deliveries[0].Parts.Text != `\<\@&42\> \@here` || res.Deliveries[1].Parts.Text != "<@&42> @here" {
		t.Errorf("%q / %q", res.Deliveries[0].Parts.Text, res.Deliveries[1].Parts.Text)
	}
}
