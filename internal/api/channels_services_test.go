package api

import (
	"net/http"
	"strings"
	"testing"
)

// The channel API writes PagerDuty, Opsgenie, Teams and Discord channels
// like the others: credentials only as ${VAR} references, and the new
// channel is in use at once.
func TestServiceChannelWrites(t *testing.T) {
	s := newServer(t, original, nil)
	body := map[string]any{"discord": map[string]any{"webhook_url": "${CRM_DISCORD_URL}", "username": "Billing"}}
	if r := s.do("PUT", "/api/v1/channels/game", "", body); r.code != http.StatusCreated {
		t.Fatalf("create discord = %d %s", r.code, r.body)
	}
	ch, ok := s.reload.Current().Channels["game"]
	if !ok || ch.Kind != "discord" || ch.Notifier == nil || ch.RatePerSecond != 0.5 {
		t.Fatalf("channel in use = %+v", ch)
	}
	if !strings.Contains(s.file(), "discord:") || !strings.Contains(s.file(), "${CRM_DISCORD_URL}") {
		t.Errorf("rules file:\n%s", s.file())
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"literal routing key", map[string]any{"pagerduty": map[string]any{"routing_key": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"}}, "pagerduty.routing_key"},
		{"literal api key", map[string]any{"opsgenie": map[string]any{"api_key": "og-literal-key"}}, "opsgenie.api_key"},
		{"literal teams url", map[string]any{"teams": map[string]any{"webhook_url": "https://x.logic.azure.com/workflows/1?sig=S1G"}}, "teams.webhook_url"},
		// A default is written in the file: a literal secret too.
		{"literal default", map[string]any{"discord": map[string]any{"webhook_url": "${CRM_DISCORD_URL:-https://discord.com/api/webhooks/1/t0ken}"}}, "discord.webhook_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("PUT", "/api/v1/channels/svc", "", tc.body)
			if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.field) ||
				!strings.Contains(string(r.body), "never a value") {
				t.Fatalf("= %d %s", r.code, r.body)
			}
			for _, v := range []string{"R0UT1NG", "og-literal-key", "S1G", "t0ken"} {
				if strings.Contains(string(r.body), v) {
					t.Errorf("the answer echoes the secret: %s", r.body)
				}
			}
		})
	}
	r := s.do("PUT", "/api/v1/channels/svc", "", map[string]any{"opsgenie": map[string]any{"api_key": "${CRM_OG_KEY}", "region": "apac"}})
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "region: must be us or eu") {
		t.Fatalf("bad region = %d %s", r.code, r.body)
	}
}
