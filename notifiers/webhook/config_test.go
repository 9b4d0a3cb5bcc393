package webhook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/webhook"
)

// testSecret is a valid Standard Webhooks secret (base64 of 24 bytes).
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		// want maps each expected field to a fragment of its message; nil
		// means valid.
		want map[string]string
	}{
		{name: "minimal", cfg: webhook.Config{URL: "https://crm.example.com/hooks/billing"}},
		{name: "everything", cfg: webhook.Config{
			URL:           "https://user:pw@crm.example.com:8443/hooks/{{ .customer.external_id }}?kind={{ .webhook_type }}&token=abc",
			Method:        "put",
			Headers:       map[string]secret.String{"Authorization": "Bearer x", "X-Tenant": "{{ .organization_id }}", "Content-Type": "text/plain"},
			SigningSecret: testSecret,
		}},
		{name: "host only", cfg: webhook.Config{URL: "http://127.0.0.1:9000"}},
		{name: "missing url", cfg: webhook.Config{}, want: map[string]string{"url": "required"}},
		{name: "relative url", cfg: webhook.Config{URL: "/hooks/billing"}, want: map[string]string{"url": "absolute http or https"}},
		{name: "ftp scheme", cfg: webhook.Config{URL: "ftp://user:hunter2@files.example.com/x"}, want: map[string]string{"url": "scheme must be http or https"}},
		{name: "no host", cfg: webhook.Config{URL: "https:///hooks"}, want: map[string]string{"url": "must have a host"}},
		{name: "template in host", cfg: webhook.Config{URL: "https://{{ .customer.domain }}/hooks"}, want: map[string]string{"url": "scheme and host cannot be templates"}},
		{name: "template in host suffix", cfg: webhook.Config{URL: "https://crm.{{ .tld }}"}, want: map[string]string{"url": "scheme and host cannot be templates"}},
		{name: "template in scheme", cfg: webhook.Config{URL: "{{ .scheme }}://crm.example.com/x"}, want: map[string]string{"url": "scheme and host cannot be templates"}},
		{name: "template in userinfo", cfg: webhook.Config{URL: "https://{{ .user }}@crm.example.com/x"}, want: map[string]string{"url": "scheme and host cannot be templates"}},
		{name: "fragment", cfg: webhook.Config{URL: "https://crm.example.com/x#frag"}, want: map[string]string{"url": "fragment"}},
		{name: "bad port", cfg: webhook.Config{URL: "https://crm.example.com:port/x"}, want: map[string]string{"url": "absolute http or https"}},
		{name: "method GET", cfg: webhook.Config{URL: "https://h.example.com", Method: "GET"}, want: map[string]string{"method": `"GET" is not allowed`}},
		{name: "method DELETE", cfg: webhook.Config{URL: "https://h.example.com", Method: "DELETE"}, want: map[string]string{"method": "POST, PUT or PATCH"}},
		{name: "reserved headers", cfg: webhook.Config{URL: "https://h.example.com", Headers: map[string]secret.String{
			"Host": "evil.example.com", "content-length": "1", "Webhook-Id": "x", "webhook-signature": "v1,x", "WEBHOOK-TIMESTAMP": "1", "X-Switchboard-Rule": "r",
		}}, want: map[string]string{
			"headers.Host":               "set by Switchboard",
			"headers.content-length":     "set by Switchboard",
			"headers.Webhook-Id":         "set by Switchboard",
			"headers.webhook-signature":  "set by Switchboard",
			"headers.WEBHOOK-TIMESTAMP":  "set by Switchboard",
			"headers.X-Switchboard-Rule": "set by Switchboard",
		}},
		{name: "bad header name", cfg: webhook.Config{URL: "https://h.example.com", Headers: map[string]secret.String{"X Bad": "v", "X-{{ .a }}": "v"}},
			want: map[string]string{"headers.X Bad": "not a valid header name", "headers.X-{{ .a }}": "not a valid header name"}},
		{name: "header value with line break", cfg: webhook.Config{URL: "https://h.example.com", Headers: map[string]secret.String{"X-Token": "abcd\r\nX-Injected: 1"}},
			want: map[string]string{"headers.X-Token": "control characters"}},
		{name: "signing secret not base64", cfg: webhook.Config{URL: "https://h.example.com", SigningSecret: "whsec_not*base64!"},
			want: map[string]string{"signing_secret": "not whsec_ followed by base64"}},
		{name: "signing secret too short", cfg: webhook.Config{URL: "https://h.example.com", SigningSecret: "whsec_c2hvcnQ="},
			want: map[string]string{"signing_secret": "shorter than 16 bytes"}},
		{name: "several problems at once", cfg: webhook.Config{URL: "https://{{ .h }}/x", Method: "GET", SigningSecret: "whsec_!!"},
			want: map[string]string{"url": "templates", "method": "not allowed", "signing_secret": "base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := fieldErrors(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %v, want fields %v", err, tt.want)
			}
			for field, frag := range tt.want {
				msg, ok := got[field]
				if !ok {
					t.Errorf("no error for field %q; got %v", field, err)
					continue
				}
				if !strings.Contains(msg, frag) {
					t.Errorf("field %q: message %q does not contain %q", field, msg, frag)
				}
			}
			if err != nil {
				text := err.Error()
				for _, s := range []string{"hunter2", "evil.example.com", "abcd", "not*base64", "c2hvcnQ"} {
					if strings.Contains(text, s) {
						t.Errorf("error text %q reveals secret value %q", text, s)
					}
				}
			}
			if _, nerr := webhook.New(tt.cfg, notifiers.Options{}); (nerr != nil) != (tt.want != nil) {
				t.Errorf("New() error = %v, want error: %v", nerr, tt.want != nil)
			}
		})
	}
}

// fieldErrors maps each *notifiers.FieldError joined in err to its message.
func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err == nil {
		return out
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var fe *notifiers.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *notifiers.FieldError", e)
		}
		out[fe.Field] = fe.Message
	}
	return out
}

func TestBaseAndPathTemplate(t *testing.T) {
	tests := []struct {
		name, url, base, path string
	}{
		{"path", "https://crm.example.com/hooks/billing", "https://crm.example.com", "/hooks/billing"},
		{"no path", "https://crm.example.com", "https://crm.example.com", "/"},
		{"root", "https://crm.example.com/", "https://crm.example.com", "/"},
		{"query without path", "https://crm.example.com?token=abc", "https://crm.example.com", "/?token=abc"},
		{"userinfo and port", "https://u:p@crm.example.com:8443/a?b=c", "https://u:p@crm.example.com:8443", "/a?b=c"},
		{"templated path and query", "http://127.0.0.1:9000/hooks/{{ .customer.external_id }}?type={{ .webhook_type }}",
			"http://127.0.0.1:9000", "/hooks/{{ .customer.external_id }}?type={{ .webhook_type }}"},
		{"template holding slashes", "https://crm.example.com/{{ printf \"%s/%s\" .a .b }}", "https://crm.example.com", "/{{ printf \"%s/%s\" .a .b }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webhook.Config{URL: secret.URL(tt.url)}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if got := c.Base(); got != tt.base {
				t.Errorf("Base() = %q, want %q", got, tt.base)
			}
			if got := c.PathTemplate(); got != tt.path {
				t.Errorf("PathTemplate() = %q, want %q", got, tt.path)
			}
		})
	}
}
