package api

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
)

// Channel blocks of original, as edits replace them.
const (
	opsChannel = `  ops:                 # the ops room
    slack:
      token: ${SLACK_TOKEN}
      channel: "#ops"
`
	crmChannel = `  crm:
    http:
      url: https://crm.example.com/hook
      headers:
        Authorization: "Bearer ${CRM_TOKEN}"
`
)

// pagerBody is a new Slack channel whose token is a reference.
var pagerBody = map[string]any{
	"timeout": "5s",
	"rate":    map[string]any{"per_second": 0.5, "burst": 2},
	"slack":   map[string]any{"token": "${SLACK_TOKEN}", "channel": "#pager"},
}

const pagerChannel = `  pager:
    timeout: 5s
    rate:
      per_second: 0.5
      burst: 2
    slack:
      token: ${SLACK_TOKEN}
      channel: "#pager"
`

func TestChannelEditsKeepEverythingElse(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		path     string
		body     map[string]any
		wantCode int
		want     func(t *testing.T) string
		// channels are the channel names the Ruleset holds afterwards.
		channels []string
		action   string
		history  []string
		summary  string
	}{
		{
			name: "create", method: "PUT", path: "/api/v1/channels/pager", body: pagerBody, wantCode: http.StatusCreated,
			want:     func(t *testing.T) string { return replaceOnce(t, crmChannel, crmChannel+pagerChannel) },
			channels: []string{"ops", "crm", "pager"}, action: ActionChannelCreate, history: []string{"pager"},
			summary: `created slack channel "pager"`,
		},
		{
			name: "edit in use", method: "PUT", path: "/api/v1/channels/ops", wantCode: http.StatusOK,
			body: map[string]any{"name": "ops", "concurrency": 2,
				"slack": map[string]any{"token": "${SLACK_TOKEN}", "channel": "#ops-alerts"}},
			want: func(t *testing.T) string {
				return replaceOnce(t, opsChannel, "  ops:\n    concurrency: 2\n    slack:\n      token: ${SLACK_TOKEN}\n      channel: \"#ops-alerts\"\n")
			},
			channels: []string{"ops", "crm"}, action: ActionChannelUpdate, history: []string{"ops"},
			summary: `changed concurrency, slack of channel "ops"`,
		},
		{
			name: "edit http", method: "PUT", path: "/api/v1/channels/crm", wantCode: http.StatusOK,
			body: map[string]any{"retry": map[string]any{"max_attempts": 3, "max_age": "1h"},
				"http": map[string]any{"url": "https://crm.example.com/hooks/{{ .customer.external_id }}?source={{ .meta.source }}",
					"method": "PUT", "headers": map[string]any{"Authorization": "Bearer ${CRM_TOKEN}", "Content-Type": "application/vnd.crm+json"}}},
			want: func(t *testing.T) string {
				return replaceOnce(t, crmChannel, `  crm:
    retry:
      max_attempts: 3
      max_age: 1h
    http:
      url: https://crm.example.com/hooks/{{ .customer.external_id }}?source={{ .meta.source }}
      method: PUT
      headers:
        Authorization: Bearer ${CRM_TOKEN}
        Content-Type: application/vnd.crm+json
`)
			},
			channels: []string{"ops", "crm"}, action: ActionChannelUpdate, history: []string{"crm"},
			summary: `changed http, retry of channel "crm"`,
		},
		{
			name: "rename unused", method: "PUT", path: "/api/v1/channels/crm", wantCode: http.StatusOK,
			body: map[string]any{"name": "crm-eu", "http": map[string]any{"url": "https://crm.example.com/hook",
				"headers": map[string]any{"Authorization": "Bearer ${CRM_TOKEN}"}}},
			want: func(t *testing.T) string {
				return replaceOnce(t, crmChannel, strings.Replace(strings.Replace(crmChannel, "crm:", "crm-eu:", 1), `"Bearer ${CRM_TOKEN}"`, "Bearer ${CRM_TOKEN}", 1))
			},
			channels: []string{"ops", "crm-eu"}, action: ActionChannelRename, history: []string{"crm", "crm-eu"},
			summary: `renamed channel "crm" to "crm-eu"`,
		},
		{
			name: "delete unused", method: "DELETE", path: "/api/v1/channels/crm", wantCode: http.StatusNoContent,
			want:     func(t *testing.T) string { return replaceOnce(t, crmChannel, "") },
			channels: []string{"ops"}, action: ActionChannelDelete, history: []string{"crm"},
			summary: `deleted channel "crm"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, original, nil)
			v0 := s.version()
			var body any
			if c.body != nil {
				body = c.body
			}
			r := s.do(c.method, c.path, v0, body)
			if r.code != c.wantCode {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, r.code, r.body, c.wantCode)
			}
			got, want := s.file(), c.want(t)
			if got != want {
				t.Fatalf("rules file after %s:\n%s\nwant:\n%s", c.name, got, want)
			}
			v1 := rulesfile.Hash([]byte(got))
			if r.etag != `"`+v1+`"` || s.version() != v1 {
				t.Errorf("ETag %s, GET version %s, want the new file's hash %s", r.etag, s.version(), v1)
			}
			if c.body != nil {
				var saved SavedChannel
				r.decode(t, &saved)
				if saved.Version != v1 || saved.Name != c.history[len(c.history)-1] {
					t.Errorf("answer = %+v, want the channel and version %s", saved, v1)
				}
			}
			for _, v := range testEnv {
				if strings.Contains(string(r.body), v) || strings.Contains(got, v) {
					t.Errorf("the answer or the file holds the secret %q", v)
				}
			}
			if names := s.reload.Current().ChannelNames(); strings.Join(names, ",") != strings.Join(c.channels, ",") {
				t.Errorf("channels in use = %v, want %v", names, c.channels)
			}
			hist, err := s.store.History(ctxT(t), 10)
			if err != nil || len(hist) != 2 || hist[1].Action != ActionOriginal {
				t.Fatalf("history = %+v, %v; want the save after the original file", hist, err)
			}
			h := hist[0]
			if h.Version != v1 || h.Action != c.action || strings.Join(h.Rules, ",") != strings.Join(c.history, ",") || h.Summary != c.summary {
				t.Errorf("history = %+v, want action %s, names %v, summary %q", h, c.action, c.history, c.summary)
			}
		})
	}
}

// TestCreatedChannelInUse creates a channel, points a rule at it and
// checks what GET /api/v1/channels shows.
func TestCreatedChannelInUse(t *testing.T) {
	s := newServer(t, original, nil)
	if r := s.do("PUT", "/api/v1/channels/pager", "", pagerBody); r.code != http.StatusCreated {
		t.Fatalf("create = %d %s", r.code, r.body)
	}
	r := s.do("POST", "/api/v1/rules", s.version(), map[string]any{"name": "page", "when": "true", "send": sends("pager", "hi")})
	if r.code != http.StatusCreated {
		t.Fatalf("a rule sending to the new channel = %d %s", r.code, r.body)
	}
	ch, ok := s.reload.Current().Channels["pager"]
	if !ok || ch.Kind != "slack" || ch.RatePerSecond != 0.5 || ch.Burst != 2 || ch.Timeout.String() != "5s" {
		t.Fatalf("channel in use = %+v", ch)
	}
	var out struct {
		Channels []ChannelSettings `json:"channels"`
	}
	r = s.do("GET", "/api/v1/channels", "", nil)
	r.decode(t, &out)
	var pager *ChannelSettings
	for i := range out.Channels {
		if out.Channels[i].Name == "pager" {
			pager = &out.Channels[i]
		}
	}
	if pager == nil {
		t.Fatalf("GET /api/v1/channels = %s, want pager", r.body)
	}
	slack, _ := pager.Settings["slack"].(map[string]any)
	if pager.Kind != "slack" || slack["token"] != "${SLACK_TOKEN}" || slack["channel"] != "#pager" || pager.Settings["timeout"] != "5s" {
		t.Errorf("pager = %+v, want the reference, never the value", pager)
	}
	if strings.Contains(string(r.body), testEnv["SLACK_TOKEN"]) {
		t.Errorf("GET /api/v1/channels shows the token: %s", r.body)
	}
}

func TestRefusedChannelWrites(t *testing.T) {
	slackWith := func(k, v string) map[string]any {
		return map[string]any{"slack": map[string]any{k: v, "channel": "#x"}}
	}
	httpWith := func(url string, headers map[string]any) map[string]any {
		return map[string]any{"http": map[string]any{"url": url, "headers": headers}}
	}
	cases := []struct {
		name     string
		method   string
		path     string
		ifMatch  string
		body     any
		wantCode int
		wantErr  string
		// wantField and wantMessage, if set, are one expected detail.
		wantField   string
		wantMessage string
	}{
		{name: "literal token", method: "PUT", path: "/api/v1/channels/pager", body: slackWith("token", "xoxb-1234-literal"),
			wantCode: http.StatusUnprocessableEntity, wantField: "slack.token", wantMessage: "secret fields take a ${VAR} reference, never a value"},
		{name: "token sent back as <secret>", method: "PUT", path: "/api/v1/channels/ops", body: slackWith("token", "<secret>"),
			wantCode: http.StatusUnprocessableEntity, wantField: "slack.token", wantMessage: "give the variable that holds it"},
		{name: "literal webhook URL", method: "PUT", path: "/api/v1/channels/hook",
			body:     map[string]any{"slack": map[string]any{"webhook_url": "https://hooks.slack.com/services/T0/B0/XYZ"}},
			wantCode: http.StatusUnprocessableEntity, wantField: "slack.webhook_url", wantMessage: "never a value"},
		{name: "literal password", method: "PUT", path: "/api/v1/channels/mail",
			body: map[string]any{"email": map[string]any{"host": "smtp.example.com", "username": "u", "password": "hunter2",
				"from": "a@example.com", "to": []any{"b@example.com"}}},
			wantCode: http.StatusUnprocessableEntity, wantField: "email.password", wantMessage: "never a value"},
		{name: "literal signing secret", method: "PUT", path: "/api/v1/channels/crm",
			body:     map[string]any{"http": map[string]any{"url": "https://crm.example.com/hook", "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
			wantCode: http.StatusUnprocessableEntity, wantField: "http.signing_secret", wantMessage: "never a value"},
		{name: "literal header", method: "PUT", path: "/api/v1/channels/crm",
			body:     httpWith("https://crm.example.com/hook", map[string]any{"Authorization": "Bearer abc123"}),
			wantCode: http.StatusUnprocessableEntity, wantField: "http.headers.Authorization", wantMessage: "header values are secrets"},
		{name: "literal X- header", method: "PUT", path: "/api/v1/channels/crm",
			body:     httpWith("https://crm.example.com/hook", map[string]any{"X-Api-Key": "abc123"}),
			wantCode: http.StatusUnprocessableEntity, wantField: "http.headers.X-Api-Key", wantMessage: "header values are secrets"},
		{name: "password in the URL", method: "PUT", path: "/api/v1/channels/crm",
			body:     httpWith("https://user:pass@crm.example.com/hook", nil),
			wantCode: http.StatusUnprocessableEntity, wantField: "http.url", wantMessage: "user and password of a URL are secrets"},
		{name: "token in the query", method: "PUT", path: "/api/v1/channels/crm",
			body:     httpWith("https://crm.example.com/hook?token=abc123", nil),
			wantCode: http.StatusUnprocessableEntity, wantField: "http.url", wantMessage: "query of a URL is secret"},
		{name: "unknown key", method: "PUT", path: "/api/v1/channels/ops", body: slackWith("tokn", "${SLACK_TOKEN}"),
			wantCode: http.StatusUnprocessableEntity, wantField: "slack.tokn", wantMessage: `unknown key "tokn"`},
		{name: "wrong type", method: "PUT", path: "/api/v1/channels/ops",
			body:     map[string]any{"concurrency": "four", "slack": map[string]any{"token": "${SLACK_TOKEN}", "channel": "#ops"}},
			wantCode: http.StatusUnprocessableEntity, wantField: "concurrency", wantMessage: "whole number"},
		{name: "bad duration", method: "PUT", path: "/api/v1/channels/ops",
			body:     map[string]any{"timeout": "ten", "slack": map[string]any{"token": "${SLACK_TOKEN}", "channel": "#ops"}},
			wantCode: http.StatusUnprocessableEntity, wantField: "timeout", wantMessage: "duration"},
		{name: "two kinds", method: "PUT", path: "/api/v1/channels/ops",
			body:     map[string]any{"slack": map[string]any{"token": "${SLACK_TOKEN}", "channel": "#ops"}, "http": map[string]any{"url": "https://x.example.com"}},
			wantCode: http.StatusUnprocessableEntity, wantMessage: "exactly one of slack, email, http"},
		{name: "bad name", method: "PUT", path: "/api/v1/channels/ops", body: map[string]any{"name": "ops room", "slack": slackWith("token", "${SLACK_TOKEN}")["slack"]},
			wantCode: http.StatusUnprocessableEntity, wantField: "name", wantMessage: "use letters"},
		{name: "invalid for the load", method: "PUT", path: "/api/v1/channels/ops",
			body:     map[string]any{"slack": map[string]any{"token": "${SLACK_TOKEN}"}},
			wantCode: http.StatusUnprocessableEntity, wantErr: "would be invalid", wantField: "channels.ops.slack.channel", wantMessage: "required with token"},
		{name: "rename while rules use it", method: "PUT", path: "/api/v1/channels/ops",
			body:     map[string]any{"name": "chat", "slack": map[string]any{"token": "${SLACK_TOKEN}", "channel": "#ops"}},
			wantCode: http.StatusUnprocessableEntity, wantErr: "would be invalid", wantField: "send[0].to", wantMessage: `unknown channel "ops"`},
		{name: "delete while rules use it", method: "DELETE", path: "/api/v1/channels/ops",
			wantCode: http.StatusUnprocessableEntity, wantErr: "would be invalid", wantField: "send[0].to", wantMessage: `unknown channel "ops"`},
		{name: "delete unknown", method: "DELETE", path: "/api/v1/channels/nope",
			wantCode: http.StatusNotFound, wantErr: `no channel named "nope"`},
		{name: "rename unknown", method: "PUT", path: "/api/v1/channels/nope", body: map[string]any{"name": "other", "slack": slackWith("token", "${SLACK_TOKEN}")["slack"]},
			wantCode: http.StatusNotFound, wantErr: `no channel named "nope"`},
		{name: "rename onto another channel", method: "PUT", path: "/api/v1/channels/crm",
			body:     map[string]any{"name": "ops", "http": map[string]any{"url": "https://crm.example.com/hook"}},
			wantCode: http.StatusConflict, wantErr: "already exists"},
		{name: "stale If-Match", method: "PUT", path: "/api/v1/channels/pager", ifMatch: "0123456789abcdef", body: pagerBody,
			wantCode: http.StatusConflict, wantErr: "changed since version 0123456789abcdef"},
		{name: "not an object", method: "PUT", path: "/api/v1/channels/pager", body: []string{"slack"},
			wantCode: http.StatusBadRequest, wantErr: "body must be a channel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, original, nil)
			r := s.do(c.method, c.path, c.ifMatch, c.body)
			if r.code != c.wantCode {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, r.code, r.body, c.wantCode)
			}
			var out struct {
				Error  string        `json:"error"`
				Errors []ErrorDetail `json:"errors"`
			}
			r.decode(t, &out)
			if !strings.Contains(out.Error, c.wantErr) {
				t.Errorf("error = %q, want it to contain %q", out.Error, c.wantErr)
			}
			if c.wantField != "" || c.wantMessage != "" {
				found := false
				for _, d := range out.Errors {
					if d.Field == c.wantField && strings.Contains(d.Message, c.wantMessage) {
						found = true
					}
				}
				if !found {
					t.Errorf("errors = %+v, want one for field %q saying %q", out.Errors, c.wantField, c.wantMessage)
				}
			}
			for _, v := range []string{"xoxb-1234-literal", "hunter2", "abc123", "whsec_MfKQ", "user:pass", "T0/B0/XYZ"} {
				if strings.Contains(string(r.body), v) {
					t.Errorf("the answer echoes the secret %q: %s", v, r.body)
				}
			}
			if got := s.file(); got != original {
				t.Errorf("the rules file changed:\n%s", got)
			}
			assertNoTempFiles(t, s)
			if h, err := s.store.History(ctxT(t), 10); err != nil || len(h) != 0 {
				t.Errorf("history = %+v, %v; want nothing recorded", h, err)
			}
		})
	}
}

func TestAcceptedSecretForms(t *testing.T) {
	cases := []struct {
		name string
		body map[string]any
		want string // in the written block
	}{
		{name: "reference with a default", body: map[string]any{"slack": map[string]any{"token": "${SLACK_TOKEN:-}", "channel": "#x"}},
			want: "token: ${SLACK_TOKEN:-}"},
		{name: "webhook URL reference", body: map[string]any{"slack": map[string]any{"webhook_url": "${SLACK_WEBHOOK_URL}"}},
			want: "webhook_url: ${SLACK_WEBHOOK_URL}"},
		{name: "URL credentials as references", body: map[string]any{"http": map[string]any{
			"url": "https://${CRM_USER}:${CRM_PASSWORD}@crm.example.com/hook?token=${CRM_TOKEN}"}},
			want: "url: https://${CRM_USER}:${CRM_PASSWORD}@crm.example.com/hook?token=${CRM_TOKEN}"},
		{name: "templated header", body: map[string]any{"http": map[string]any{"url": "https://crm.example.com/hook",
			"headers": map[string]any{"X-Customer": "{{ .customer.external_id }}", "User-Agent": "billing-bot"}}},
			want: "User-Agent: billing-bot"},
		{name: "email password reference", body: map[string]any{"email": map[string]any{"host": "smtp.example.com", "port": 587,
			"username": "billing", "password": "${SMTP_PASSWORD}", "from": "Billing <billing@example.com>", "to": []any{"finance@example.com", "{{ .customer.email }}"}}},
			want: "password: ${SMTP_PASSWORD}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, original, nil)
			r := s.do("PUT", "/api/v1/channels/extra", "", c.body)
			if r.code != http.StatusCreated {
				t.Fatalf("PUT = %d %s, want 201", r.code, r.body)
			}
			got := s.file()
			if !strings.HasPrefix(got, strings.SplitAfter(original, crmChannel)[0]) || !strings.HasSuffix(got, strings.SplitAfter(original, crmChannel)[1]) {
				t.Errorf("the file changed outside the new channel:\n%s", got)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("file =\n%s\nwant it to hold %q", got, c.want)
			}
			if _, ok := s.reload.Current().Channels["extra"]; !ok {
				t.Error("the new channel is not in use")
			}
		})
	}
}

// TestReadOnlyChannelWrites: an immutable rules file (see
// TestReadOnlyRulesFile) refuses channel edits with 403.
func TestReadOnlyChannelWrites(t *testing.T) {
	s := newServer(t, original, nil)
	if out, err := exec.Command("chattr", "+i", s.path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i not available here (%v: %s); a read-only rules file cannot be simulated", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", s.path).Run() })
	cases := []struct {
		name, method, path string
		body               any
	}{
		{name: "create", method: "PUT", path: "/api/v1/channels/pager", body: pagerBody},
		{name: "delete", method: "DELETE", path: "/api/v1/channels/crm"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.method, c.path, "", c.body)
			var out struct {
				Error string `json:"error"`
			}
			r.decode(t, &out)
			if r.code != http.StatusForbidden || !strings.Contains(out.Error, "read-only") {
				t.Errorf("%s on a read-only file = %d %q, want 403", c.method, r.code, out.Error)
			}
			if s.file() != original {
				t.Error("the rules file changed")
			}
			assertNoTempFiles(t, s)
		})
	}
}
