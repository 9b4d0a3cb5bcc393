package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// Send test reaches PagerDuty, Opsgenie, Teams and Discord channels,
// marked as a test so that it pages no one, and answers with the parts
// under their block names; a refusal comes back as 502 with the
// service's reason and without the credential.
func TestSendTestServiceChannels(t *testing.T) {
	const key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"
	msg := map[string]any{"webhook_type": "invoice.created", "object_type": "invoice",
		"invoice": map[string]any{"number": "INV-7", "total_amount_cents": 100, "currency": "EUR"}}
	for _, tc := range []struct {
		kind, block string
		// check reads the request the service received.
		check func(t *testing.T, body map[string]any)
	}{
		{"pagerduty: {routing_key: " + key + ", api_url: \"PEER/v2/enqueue\"}", "summary", func(t *testing.T, b map[string]any) {
			p, _ := b["payload"].(map[string]any)
			if b["event_action"] != "trigger" || p["severity"] != "info" || !strings.HasPrefix(p["summary"].(string), "[TEST] invoice.created") {
				t.Errorf("pagerduty event %v", b)
			}
		}},
		{"opsgenie: {api_key: og-secret-key, api_url: \"PEER\", responders: [{type: team, name: billing}]}", "message", func(t *testing.T, b map[string]any) {
			if b["priority"] != "P5" || b["responders"] != nil || !strings.HasPrefix(b["message"].(string), "[TEST] invoice.created") {
				t.Errorf("opsgenie alert %v", b)
			}
		}},
		{"teams: {webhook_url: \"PEER/workflows/x?sig=S1G\"}", "card", func(t *testing.T, b map[string]any) {
			if !strings.Contains(mustJSON(t, b), "[TEST]") || !strings.Contains(mustJSON(t, b), "INV-7") {
				t.Errorf("teams message %v", b)
			}
		}},
		{"discord: {webhook_url: \"PEER/api/webhooks/1/T0K\"}", "embeds", func(t *testing.T, b map[string]any) {
			if !strings.HasPrefix(b["content"].(string), "**[TEST]**") || !strings.Contains(mustJSON(t, b), "INV-7") {
				t.Errorf("discord message %v", b)
			}
		}},
	} {
		name, _, _ := strings.Cut(tc.kind, ":")
		t.Run(name, func(t *testing.T) {
			peer := testpeer.NewReceiver(t)
			peer.SetDefault(testpeer.Reply{Status: http.StatusAccepted})
			s, _ := liveServer(t, "channels:\n  svc:\n    "+strings.ReplaceAll(tc.kind, "PEER", peer.URL())+`
rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send: [{to: svc}]
`)
			r := s.do("POST", "/api/v1/test/send", "", map[string]any{"message": msg, "rule_name": "invoices", "to": "svc"})
			if r.code != 200 {
				t.Fatalf("send test: %d %s", r.code, r.body)
			}
			var out struct {
				ChannelType string            `json:"channel_type"`
				Parts       map[string]string `json:"parts"`
			}
			if err := json.Unmarshal(r.body, &out); err != nil || out.ChannelType != name || out.Parts[tc.block] == "" {
				t.Fatalf("answer %s: %v", r.body, err)
			}
			reqs := peer.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			var body map[string]any
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			tc.check(t, body)
		})
	}
}

// A refused test says why, without the credential.
func TestSendTestServiceRefused(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: 404, Body: `{"message":"Unknown Webhook","code":10015}`})
	s, _ := liveServer(t, `channels:
  svc:
    discord: {webhook_url: "`+peer.URL()+`/api/webhooks/1/T0KENsecret"}
rules:
  - name: r
    when: "true"
    send: [{to: svc, message: "hi"}]
`)
	r := s.do("POST", "/api/v1/test/send", "", map[string]any{"message": map[string]any{"x": 1}, "rule_name": "r", "to": "svc"})
	if r.code != http.StatusBadGateway || !strings.Contains(string(r.body), "Unknown Webhook") || strings.Contains(string(r.body), "T0KENsecret") {
		t.Fatalf("refused test: %d %s", r.code, r.body)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
