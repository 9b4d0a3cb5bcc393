package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestOneVersionAndPlainJSON: /api/v1/status and /api/v1/rules give the
// same version (the one writes take in If-Match), errors is a list and
// never null, and JSON keeps && and < > as they are.
func TestOneVersionAndPlainJSON(t *testing.T) {
	s := newServer(t, `channels:
  ops:
    slack: {webhook_url: "https://hooks.slack.com/services/T/B/x"}
rules:
  - name: big
    when: webhook_type == "invoice.created" && invoice.total_amount_cents > 10
    send: [{to: ops, message: "<https://example.com|see> {{ .invoice.number }}"}]
`, nil)
	var status struct {
		Version       string `json:"version"`
		ConfigVersion string `json:"config_version"`
	}
	st := s.do("GET", "/api/v1/status", "", nil)
	st.decode(t, &status)
	if status.Version == "" || status.Version != s.version() {
		t.Errorf("status version %q, rules version %q", status.Version, s.version())
	}
	if status.ConfigVersion == "" || status.ConfigVersion != s.reload.Current().Version {
		t.Errorf("config_version %q, want the configuration's %q", status.ConfigVersion, s.reload.Current().Version)
	}
	if !strings.Contains(string(st.body), `"errors": []`) {
		t.Errorf("status errors not []:\n%s", st.body)
	}
	rules := s.do("GET", "/api/v1/rules", "", nil)
	if !strings.Contains(string(rules.body), `webhook_type == \"invoice.created\" && invoice.total_amount_cents > 10`) ||
		strings.Contains(string(rules.body), `\u0026`) {
		t.Errorf("rules JSON escapes the expression:\n%s", rules.body)
	}
	test := s.do("POST", "/api/v1/test", "", map[string]any{"message": map[string]any{
		"webhook_type": "invoice.created", "invoice": map[string]any{"number": "A-1", "total_amount_cents": 100}}})
	if test.code != http.StatusOK || !strings.Contains(string(test.body), `"errors": []`) ||
		!strings.Contains(string(test.body), `"text": "<https://example.com|see> A-1"`) {
		t.Errorf("test:\n%s", test.body)
	}
	// ?state= is the same filter as ?status=: an unknown state is refused.
	if d := s.do("GET", "/api/v1/deliveries?state=lost", "", nil); d.code != http.StatusBadRequest {
		t.Errorf("?state=lost: %d %s", d.code, d.body)
	}
}
