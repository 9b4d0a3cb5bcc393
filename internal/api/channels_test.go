package api

import (
	"fmt"
	"strings"
	"testing"
)

func TestChannelsHideSecrets(t *testing.T) {
	s := newServer(t, original, nil)
	r := s.do("GET", "/api/v1/channels", "", nil)
	for _, v := range testEnv {
		if strings.Contains(string(r.body), v) {
			t.Errorf("GET /api/v1/channels shows the secret %q", v)
		}
	}
	var out struct {
		Channels []ChannelSettings `json:"channels"`
	}
	r.decode(t, &out)
	if len(out.Channels) != 2 {
		t.Fatalf("channels = %s", r.body)
	}
	ops, crm := out.Channels[0], out.Channels[1]
	slack, _ := ops.Settings["slack"].(map[string]any)
	if ops.Name != "ops" || ops.Kind != "slack" || slack["channel"] != "#ops" || slack["token"] != "${SLACK_TOKEN}" {
		t.Errorf("ops = %+v, want the channel and the token's ${VAR} reference", ops)
	}
	http, _ := crm.Settings["http"].(map[string]any)
	headers, _ := http["headers"].(map[string]any)
	// "Bearer ${CRM_TOKEN}" holds a reference, not a secret: shown as
	// written, so saving the channel unchanged works.
	if crm.Kind != "http" || http["url"] != "https://crm.example.com/hook" || headers["Authorization"] != "Bearer ${CRM_TOKEN}" {
		t.Errorf("crm = %+v, want the URL and the header as written", crm)
	}
}

// TestChannelSettingsShownAsWritten: what the API shows is what the file
// says, except literal secrets: a templated URL path is not URL-escaped,
// a plain api_url is not a secret, references are not secrets (nor an
// empty default); literal header values, userinfo and query values are
// <secret>, and so is a reference's default, which is written in the file.
func TestChannelSettingsShownAsWritten(t *testing.T) {
	settings := map[string]any{
		"http": map[string]any{
			"url": "https://crm.example.com/customers/{{ .customer.external_id }}?src={{ .webhook_type }}",
			"headers": map[string]any{
				"Authorization": "Bearer ${CRM_TOKEN}", "X-Api-Key": "sk_live_literal", "X-Mixed": "Bearer sk_live_literal",
				"Content-Type": "application/json", "X-Customer": "{{ .customer.id }}",
			},
		},
		"slack": map[string]any{"api_url": "http://127.0.0.1:9000/api/", "webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX", "token": "xoxb-literal"},
		"http2": map[string]any{"url": "https://user:pw@crm.example.com/a/{{ .x }}?key=literal"},
		"email": map[string]any{"username": "${SMTP_USER:-}", "password": "${SMTP_PASSWORD:-hunter2-default}"},
		"http3": map[string]any{
			"url":     "https://${CRM_USER:-admin}:${CRM_PASS}@crm.example.com/x?token=${CRM_Q:-q-default}",
			"headers": map[string]any{"X-Def": "${HV:-DEFAULTSECRET55}", "Authorization": "Bearer ${CRM_T:-DEFAULTSECRET66}"},
		},
		"source": map[string]any{"jwt_public_key_url": "https://api.getlago.com/api/v1/webhooks/json_public_key"},
	}
	got := redactSettings(settings)
	want := map[string]any{
		"http": map[string]any{
			"url": "https://crm.example.com/customers/{{ .customer.external_id }}?src={{ .webhook_type }}",
			"headers": map[string]any{
				"Authorization": "Bearer ${CRM_TOKEN}", "X-Api-Key": "<secret>", "X-Mixed": "<secret>",
				"Content-Type": "application/json", "X-Customer": "{{ .customer.id }}",
			},
		},
		"slack": map[string]any{"api_url": "http://127.0.0.1:9000/api/", "webhook_url": "<secret>", "token": "<secret>"},
		"http2": map[string]any{"url": "https://<secret>@crm.example.com/a/{{ .x }}?<secret>"},
		"email": map[string]any{"username": "${SMTP_USER:-}", "password": "<secret>"},
		"http3": map[string]any{
			"url":     "https://<secret>@crm.example.com/x?<secret>",
			"headers": map[string]any{"X-Def": "<secret>", "Authorization": "<secret>"},
		},
		"source": map[string]any{"jwt_public_key_url": "https://api.getlago.com/api/v1/webhooks/json_public_key"},
	}
	for k := range want {
		if g, w := fmt.Sprint(got[k]), fmt.Sprint(want[k]); g != w {
			t.Errorf("%s:\n got %s\nwant %s", k, g, w)
		}
	}
}

// TestAdminPathsAnswerWithoutRedirects: with the admin surface on, the
// reload endpoint takes POST only, and /api is an unknown endpoint, not a
// redirect.
func TestAdminPathsAnswerWithoutRedirects(t *testing.T) {
	s := newServer(t, original, nil)
	if r := s.do("GET", "/-/reload", "", nil); r.code != 405 {
		t.Errorf("GET /-/reload = %d %s, want 405", r.code, r.body)
	}
	if r := s.do("POST", "/-/reload", "", nil); r.code != 200 {
		t.Errorf("POST /-/reload = %d %s, want 200", r.code, r.body)
	}
	if r := s.do("GET", "/api", "", nil); r.code != 404 || !strings.Contains(string(r.body), "no such endpoint") {
		t.Errorf("GET /api = %d %s, want 404", r.code, r.body)
	}
}
