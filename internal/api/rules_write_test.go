package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/store"
)

// original is a hand-written rules file: comments everywhere, irregular
// blank lines, a folded expression, flow style and a trailing comment.
const original = `# Billing rules.
# Edited by hand and in the editor.

sources:
  lago:
    lago:
      hmac_secret: ${LAGO_SECRET}   # from Lago's webhook settings

channels:
  ops:                 # the ops room
    slack:
      token: ${SLACK_TOKEN}
      channel: "#ops"
  crm:
    http:
      url: https://crm.example.com/hook
      headers:
        Authorization: "Bearer ${CRM_TOKEN}"

rules:
  # Money first.
  - name: big-invoice   # the one finance cares about
    description: Large invoices
    when: >-
      webhook_type == "invoice.created"
      && invoice.total_amount_cents >= 100000
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }} is big"

  # Failures.
  - name: payment-failed
    when: webhook_type == "invoice.payment_failure"
    send:
      - to: ops
        message: 'Payment failed for {{ .invoice.number }}'


  - name: wallet
    enabled: false
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: ops, message: "wallet"}]
# trailing comment
`

// Blocks of original, as edits replace them.
const (
	bigInvoice = `  - name: big-invoice   # the one finance cares about
    description: Large invoices
    when: >-
      webhook_type == "invoice.created"
      && invoice.total_amount_cents >= 100000
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }} is big"
`
	paymentFailed = `  - name: payment-failed
    when: webhook_type == "invoice.payment_failure"
    send:
      - to: ops
        message: 'Payment failed for {{ .invoice.number }}'
`
	wallet = `  - name: wallet
    enabled: false
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: ops, message: "wallet"}]
`
)

func sends(to, message string) []map[string]string {
	m := map[string]string{"to": to}
	if message != "" {
		m["message"] = message
	}
	return []map[string]string{m}
}

// replaceOnce returns original with old replaced by new, failing if old is
// not there exactly once: everything else stays byte for byte.
func replaceOnce(t *testing.T, old, new string) string {
	t.Helper()
	if strings.Count(original, old) != 1 {
		t.Fatalf("fixture does not hold %q exactly once", old)
	}
	return strings.Replace(original, old, new, 1)
}

func TestEditsKeepEverythingElse(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		path     string
		body     any
		wantCode int
		// want returns the whole expected file.
		want func(t *testing.T) string
		// rules are the rule names the Ruleset holds afterwards, in order.
		rules []string
	}{
		{
			name: "update", method: "PUT", path: "/api/v1/rules/payment-failed", wantCode: http.StatusOK,
			body: map[string]any{"name": "payment-failed", "when": `webhook_type == "invoice.payment_failure" && invoice.total_amount_cents > 0`,
				"send": sends("ops", "Payment failed")},
			want: func(t *testing.T) string {
				return replaceOnce(t, paymentFailed, `  - name: payment-failed
    when: webhook_type == "invoice.payment_failure" && invoice.total_amount_cents > 0
    send:
      - to: ops
        message: Payment failed
`)
			},
			rules: []string{"big-invoice", "payment-failed", "wallet"},
		},
		{
			name: "disable", method: "PUT", path: "/api/v1/rules/big-invoice", wantCode: http.StatusOK,
			body: map[string]any{"name": "big-invoice", "enabled": false, "description": "Large invoices",
				"when": "webhook_type == \"invoice.created\"\n&& invoice.total_amount_cents >= 100000",
				"send": sends("ops", "Invoice {{ .invoice.number }} is big")},
			want: func(t *testing.T) string {
				return replaceOnce(t, bigInvoice, `  - name: big-invoice
    description: Large invoices
    enabled: false
    when: |-
      webhook_type == "invoice.created"
      && invoice.total_amount_cents >= 100000
    send:
      - to: ops
        message: Invoice {{ .invoice.number }} is big
`)
			},
			rules: []string{"big-invoice", "payment-failed", "wallet"},
		},
		{
			name: "rename", method: "PUT", path: "/api/v1/rules/wallet", wantCode: http.StatusOK,
			body: map[string]any{"name": "wallet-empty", "enabled": false, "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
				"send": sends("ops", "wallet")},
			want: func(t *testing.T) string {
				return replaceOnce(t, wallet, `  - name: wallet-empty
    enabled: false
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send:
      - to: ops
        message: wallet
`)
			},
			rules: []string{"big-invoice", "payment-failed", "wallet-empty"},
		},
		{
			name: "create", method: "POST", path: "/api/v1/rules", wantCode: http.StatusCreated,
			body: map[string]any{"name": "refund", "when": `webhook_type == "credit_note.refund_failure"`, "send": sends("crm", "")},
			want: func(t *testing.T) string {
				return replaceOnce(t, wallet, wallet+`
  - name: refund
    when: webhook_type == "credit_note.refund_failure"
    send:
      - to: crm
`)
			},
			rules: []string{"big-invoice", "payment-failed", "wallet", "refund"},
		},
		{
			name: "delete", method: "DELETE", path: "/api/v1/rules/payment-failed", wantCode: http.StatusNoContent,
			want: func(t *testing.T) string {
				// The comment right above the rule goes with it, and one
				// of the blank lines around it.
				return replaceOnce(t, "\n  # Failures.\n"+paymentFailed, "")
			},
			rules: []string{"big-invoice", "wallet"},
		},
		{
			name: "delete the last", method: "DELETE", path: "/api/v1/rules/wallet", wantCode: http.StatusNoContent,
			want: func(t *testing.T) string {
				return replaceOnce(t, "\n\n"+wallet, "\n")
			},
			rules: []string{"big-invoice", "payment-failed"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, original, nil)
			v0 := s.version()
			if v0 != rulesfile.Hash([]byte(original)) {
				t.Fatalf("GET /api/v1/rules version = %s, want the file's hash %s", v0, rulesfile.Hash([]byte(original)))
			}
			r := s.do(c.method, c.path, v0, c.body)
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
				var saved SavedRule
				r.decode(t, &saved)
				if saved.Version != v1 || saved.Name != c.body.(map[string]any)["name"] {
					t.Errorf("answer = %+v, want the rule and version %s", saved, v1)
				}
			}
			// The save went through the reload path: the Ruleset in use
			// is the new file.
			if names := s.reload.Current().RuleNames(); strings.Join(names, ",") != strings.Join(c.rules, ",") {
				t.Errorf("rules in use = %v, want %v", names, c.rules)
			}
			if st, err := os.Stat(s.path); err != nil || st.Mode().Perm() != 0o640 {
				t.Errorf("file mode = %v, %v; want 0640 kept", st.Mode().Perm(), err)
			}
			hist, err := s.store.History(ctxT(t), 10)
			// The save, after the file as it was before it.
			if err != nil || len(hist) != 2 || hist[0].Version != v1 || hist[0].Author != "admin" ||
				hist[1].Action != ActionOriginal || hist[1].Version != v0 {
				t.Fatalf("history = %+v, %v; want the save of version %s after the original file", hist, err, v1)
			}
			if wantAction := map[string]string{"update": "update", "disable": "update", "rename": "rename", "create": "create",
				"delete": "delete", "delete the last": "delete"}[c.name]; hist[0].Action != wantAction {
				t.Errorf("history action = %s, want %s", hist[0].Action, wantAction)
			}
			t.Logf("summary: %s", hist[0].Summary)
		})
	}
}

func TestSummaries(t *testing.T) {
	s := newServer(t, original, nil)
	steps := []struct {
		method, path string
		body         any
		want         string
	}{
		// The folded `when: >-` reads as one line: the same condition.
		{"PUT", "/api/v1/rules/big-invoice", map[string]any{"name": "big-invoice", "enabled": false, "description": "Large invoices",
			"when": `webhook_type == "invoice.created" && invoice.total_amount_cents >= 100000`,
			"send": sends("ops", "Invoice {{ .invoice.number }} is big")}, `disabled rule "big-invoice"`},
		{"PUT", "/api/v1/rules/wallet", map[string]any{"name": "wallet-empty", "when": "true", "send": sends("ops", "wallet")},
			`renamed rule "wallet" to "wallet-empty"; enabled rule "wallet-empty"; changed when of rule "wallet-empty"`},
		{"DELETE", "/api/v1/rules/payment-failed", nil, `deleted rule "payment-failed"`},
	}
	for _, st := range steps {
		if r := s.do(st.method, st.path, "", st.body); r.code >= 300 {
			t.Fatalf("%s %s = %d %s", st.method, st.path, r.code, r.body)
		}
		h, err := s.store.History(ctxT(t), 1)
		if err != nil || len(h) != 1 || h[0].Summary != st.want {
			t.Errorf("after %s %s: history = %+v, %v; want summary %q", st.method, st.path, h, err, st.want)
		}
	}
}

func TestRefusedWritesLeaveTheFile(t *testing.T) {
	good := map[string]any{"name": "refund", "when": `webhook_type == "credit_note.refund_failure"`, "send": sends("ops", "refund")}
	cases := []struct {
		name     string
		method   string
		path     string
		ifMatch  string
		body     any
		before   func(s *server) // runs after the server started
		wantCode int
		// wantErr is in the "error" text.
		wantErr string
		// wantDetail, if set, is one expected 422 detail.
		wantDetail *ErrorDetail
	}{
		{name: "stale If-Match", method: "POST", path: "/api/v1/rules", ifMatch: "0123456789abcdef", body: good,
			wantCode: http.StatusConflict, wantErr: "changed since version 0123456789abcdef"},
		{name: "invalid expression", method: "PUT", path: "/api/v1/rules/payment-failed",
			body:     map[string]any{"name": "payment-failed", "when": `webhook_type == "x" &&`, "send": sends("ops", "x")},
			wantCode: http.StatusUnprocessableEntity, wantErr: "would be invalid",
			// The rule is rewritten from line 32 of the candidate, its
			// when on line 33; the column is where the expression ends.
			wantDetail: &ErrorDetail{Rule: "payment-failed", Field: "when", Line: 33, Column: 32}},
		{name: "unknown channel", method: "POST", path: "/api/v1/rules",
			body:     map[string]any{"name": "x", "when": "true", "send": sends("slak", "x")},
			wantCode: http.StatusUnprocessableEntity, wantErr: "slak"},
		{name: "no send", method: "POST", path: "/api/v1/rules",
			body:     map[string]any{"name": "x", "when": "true", "send": []any{}},
			wantCode: http.StatusUnprocessableEntity, wantErr: "send"},
		{name: "create existing name", method: "POST", path: "/api/v1/rules",
			body:     map[string]any{"name": "wallet", "when": "true", "send": sends("ops", "x")},
			wantCode: http.StatusConflict, wantErr: `a rule named "wallet" already exists`},
		{name: "rename onto another rule", method: "PUT", path: "/api/v1/rules/wallet",
			body:     map[string]any{"name": "big-invoice", "when": "true", "send": sends("ops", "x")},
			wantCode: http.StatusConflict, wantErr: "already exists"},
		{name: "update unknown", method: "PUT", path: "/api/v1/rules/nope", body: good,
			wantCode: http.StatusNotFound, wantErr: `no rule named "nope"`},
		{name: "delete unknown", method: "DELETE", path: "/api/v1/rules/nope",
			wantCode: http.StatusNotFound, wantErr: `no rule named "nope"`},
		{name: "unknown field", method: "POST", path: "/api/v1/rules",
			body:     map[string]any{"name": "x", "when": "true", "send": sends("ops", "x"), "priority": 1},
			wantCode: http.StatusBadRequest, wantErr: "priority"},
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
			if c.wantDetail != nil {
				found := false
				for _, d := range out.Errors {
					if d.Rule == c.wantDetail.Rule && d.Field == c.wantDetail.Field && d.Line == c.wantDetail.Line && d.Column == c.wantDetail.Column && strings.Contains(d.Message, "unexpected token EOF") {
						found = true
					}
				}
				if !found {
					t.Errorf("errors = %+v, want one like %+v", out.Errors, *c.wantDetail)
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

func assertNoTempFiles(t *testing.T, s *server) {
	t.Helper()
	entries, err := os.ReadDir(strings.TrimSuffix(s.path, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// The lock file stays on purpose: every writer locks one inode.
		if e.Name() != "rules.yaml" && e.Name() != "templates" && e.Name() != ".rules.yaml.lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestConcurrentEditOnDisk: a client reads the rules, someone edits the
// file by hand, then the client saves with the version it read.
func TestConcurrentEditOnDisk(t *testing.T) {
	s := newServer(t, original, nil)
	v0 := s.version()
	handEdited := strings.Replace(original, "# trailing comment", "# edited by hand meanwhile", 1)
	if err := os.WriteFile(s.path, []byte(handEdited), 0o640); err != nil {
		t.Fatal(err)
	}
	r := s.do("PUT", "/api/v1/rules/wallet", v0, map[string]any{"name": "wallet", "when": "true", "send": sends("ops", "x")})
	if r.code != http.StatusConflict {
		t.Fatalf("PUT with the version read before the hand edit = %d %s, want 409", r.code, r.body)
	}
	var out struct {
		Version string `json:"version"`
	}
	r.decode(t, &out)
	if out.Version != rulesfile.Hash([]byte(handEdited)) {
		t.Errorf("409 names version %s, want the file's current %s", out.Version, rulesfile.Hash([]byte(handEdited)))
	}
	if s.file() != handEdited {
		t.Error("the hand edit was overwritten")
	}
	// With the current version the save goes through and keeps the hand
	// edit.
	r = s.do("PUT", "/api/v1/rules/wallet", out.Version, map[string]any{"name": "wallet", "when": "true", "send": sends("ops", "x")})
	if r.code != http.StatusOK || !strings.Contains(s.file(), "# edited by hand meanwhile") {
		t.Fatalf("PUT with the current version = %d %s; file:\n%s", r.code, r.body, s.file())
	}
}

// TestReadOnlyRulesFile makes the rules file immutable (chattr +i): the
// tests run as root, for whom permission bits do not stop a write, and an
// immutable file refuses even root's rename over it, as a read-only mount
// would.
func TestReadOnlyRulesFile(t *testing.T) {
	s := newServer(t, original, nil)
	if out, err := exec.Command("chattr", "+i", s.path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i not available here (%v: %s); a read-only rules file cannot be simulated", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", s.path).Run() })
	var st struct {
		Writable *bool `json:"writable"`
	}
	s.do("GET", "/api/v1/status", "", nil).decode(t, &st)
	if st.Writable == nil || *st.Writable {
		t.Errorf("status writable = %v, want false", st.Writable)
	}
	r := s.do("POST", "/api/v1/rules", "", map[string]any{"name": "refund", "when": "true", "send": sends("ops", "x")})
	var out struct {
		Error string `json:"error"`
	}
	r.decode(t, &out)
	if r.code != http.StatusForbidden || !strings.Contains(out.Error, "read-only") || !strings.Contains(out.Error, s.path) {
		t.Errorf("POST on a read-only file = %d %q, want 403 naming the file", r.code, out.Error)
	}
	if s.file() != original {
		t.Error("the rules file changed")
	}
	assertNoTempFiles(t, s)
	if err := exec.Command("chattr", "-i", s.path).Run(); err != nil {
		t.Fatal(err)
	}
	s.do("GET", "/api/v1/status", "", nil).decode(t, &st)
	if st.Writable == nil || !*st.Writable {
		t.Errorf("status writable = %v after chattr -i, want true", st.Writable)
	}
}

func TestHistoryRestore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			o := b.opts(t)
			s := newServer(t, original, &o)
			steps := []struct {
				method, path string
				body         any
			}{
				{"POST", "/api/v1/rules", map[string]any{"name": "refund", "when": "true", "send": sends("ops", "refund")}},
				{"PUT", "/api/v1/rules/refund", map[string]any{"name": "refund", "when": "false", "send": sends("ops", "refund")}},
				{"DELETE", "/api/v1/rules/big-invoice", nil},
			}
			var files []string
			for _, st := range steps {
				if r := s.do(st.method, st.path, "", st.body); r.code >= 300 {
					t.Fatalf("%s %s = %d %s", st.method, st.path, r.code, r.body)
				}
				files = append(files, s.file())
			}
			var list struct {
				History []store.Save `json:"history"`
			}
			r := s.do("GET", "/api/v1/history?limit=2", "", nil)
			r.decode(t, &list)
			if len(list.History) != 2 || list.History[0].Action != "delete" || list.History[1].Action != "update" ||
				list.History[1].Version != rulesfile.Hash([]byte(files[1])) || list.History[1].Rules[0] != "refund" {
				t.Fatalf("GET /api/v1/history?limit=2 = %s", r.body)
			}
			// Restore the first save: the exact bytes come back.
			s.do("GET", "/api/v1/history", "", nil).decode(t, &list)
			// The oldest entry is the file as it was before the first
			// save; the first save comes next.
			if original := list.History[len(list.History)-1]; original.Action != ActionOriginal || original.Author != "file" {
				t.Fatalf("oldest entry = %+v, want the file as it was", original)
			}
			first := list.History[len(list.History)-2]
			if first.Action != "create" {
				t.Fatalf("first save = %+v", first)
			}
			r = s.do("POST", "/api/v1/history/"+itoa(first.ID)+"/restore", s.version(), nil)
			var out struct {
				Version string `json:"version"`
			}
			r.decode(t, &out)
			if r.code != http.StatusOK || out.Version != rulesfile.Hash([]byte(files[0])) {
				t.Fatalf("restore = %d %s, want 200 with version %s", r.code, r.body, rulesfile.Hash([]byte(files[0])))
			}
			if s.file() != files[0] {
				t.Fatalf("after restore the file is:\n%s\nwant:\n%s", s.file(), files[0])
			}
			if _, ok := s.reload.Current().Rule("big-invoice"); !ok {
				t.Error("the restored rules are not in use")
			}
			s.do("GET", "/api/v1/history?limit=1", "", nil).decode(t, &list)
			if h := list.History[0]; h.Action != "restore" || h.Version != out.Version || !strings.Contains(h.Summary, "#"+itoa(first.ID)) {
				t.Errorf("latest history entry = %+v, want the restore", h)
			}
			// Stale and unknown restores are refused.
			if r := s.do("POST", "/api/v1/history/"+itoa(first.ID)+"/restore", "0000000000000000", nil); r.code != http.StatusConflict {
				t.Errorf("restore with a stale version = %d %s, want 409", r.code, r.body)
			}
			if r := s.do("POST", "/api/v1/history/999999/restore", "", nil); r.code != http.StatusNotFound {
				t.Errorf("restore of an unknown entry = %d %s, want 404", r.code, r.body)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Alert-fatigue settings go through the rules API with the YAML's keys;
// an update that leaves them out (the editor's form) keeps them.
func TestRulesAPIFatigueSettings(t *testing.T) {
	s := newServer(t, original, nil)
	r := s.do("POST", "/api/v1/rules", "", map[string]any{
		"name": "wallet-throttled", "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
		"send":     []map[string]any{{"to": "ops"}},
		"throttle": map[string]any{"key": "{{ .wallet.external_customer_id }}", "every": "6h"},
		"group":    map[string]any{"by": "{{ .webhook_type }}", "wait": "30s", "interval": "5m"},
		"schedule": map[string]any{"timezone": "Europe/Paris", "quiet": []string{"Sat-Sun"}, "during_quiet": "hold"},
	})
	if r.code != 201 {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	file := s.file()
	for _, want := range []string{"throttle:", "every: 6h\n", "wait: 30s\n", "interval: 5m\n", "timezone: Europe/Paris", "- Sat-Sun"} {
		if !strings.Contains(file, want) {
			t.Fatalf("file lacks %q:\n%s", want, file)
		}
	}
	if err := s.reload.Reload("test", true); err != nil {
		t.Fatal(err)
	}
	var got RuleJSON
	s.do("GET", "/api/v1/rules/wallet-throttled", "", nil).decode(t, &got)
	if got.Throttle == nil || got.Throttle.Every != "6h" || got.Group == nil || got.Group.Interval != "5m" ||
		got.Schedule == nil || got.Schedule.Timezone != "Europe/Paris" {
		t.Fatalf("GET: %+v", got)
	}

	// An update without the keys keeps them; null removes one.
	r = s.do("PUT", "/api/v1/rules/wallet-throttled", "", map[string]any{
		"name": "wallet-throttled", "description": "edited in the form", "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
		"send": []map[string]any{{"to": "ops"}}})
	if r.code != 200 || !strings.Contains(s.file(), "every: 6h") || !strings.Contains(s.file(), "edited in the form") {
		t.Fatalf("PUT without the keys: %d %s\n%s", r.code, r.body, s.file())
	}
	r = s.do("PUT", "/api/v1/rules/wallet-throttled", "", map[string]any{
		"name": "wallet-throttled", "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
		"send": []map[string]any{{"to": "ops"}}, "group": nil})
	if r.code != 200 || strings.Contains(s.file(), "group:") || !strings.Contains(s.file(), "throttle:") {
		t.Fatalf("PUT group null: %d %s\n%s", r.code, r.body, s.file())
	}
	// Bad settings: 422, file unchanged.
	before := s.file()
	r = s.do("PUT", "/api/v1/rules/wallet-throttled", "", map[string]any{
		"name": "wallet-throttled", "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
		"send": []map[string]any{{"to": "ops"}}, "throttle": map[string]any{"every": "6 hours"}})
	if r.code != 422 || !strings.Contains(string(r.body), `throttle.every: \"6 hours\" is not a duration`) || s.file() != before {
		t.Fatalf("bad duration: %d %s", r.code, r.body)
	}
	r = s.do("PUT", "/api/v1/rules/wallet-throttled", "", map[string]any{
		"name": "wallet-throttled", "when": `webhook_type == "wallet.depleted_ongoing_balance"`,
		"send": []map[string]any{{"to": "ops"}}, "schedule": map[string]any{"timezone": "Mars/Base", "quiet": []string{"Sat"}}})
	if r.code != 422 || !strings.Contains(string(r.body), "unknown time zone") || s.file() != before {
		t.Fatalf("bad time zone: %d %s", r.code, r.body)
	}
}

// TestTwoReplicasConcurrentCreate: two servers (each with its own API,
// in-process lock and reloader, as two replicas are) edit one rules
// file. Concurrent creates with the same If-Match: exactly one is saved
// (201), the other answers 409, and the file holds the saved rule — no
// edit is lost silently. Repeated, since a race shows only sometimes.
func TestTwoReplicasConcurrentCreate(t *testing.T) {
	a := newServer(t, original, nil)
	b := serverOn(t, a.path, nil)
	for round := range 10 {
		version := a.do("GET", "/api/v1/rules", "", nil).etag
		names := []string{fmt.Sprintf("from-a-%d", round), fmt.Sprintf("from-b-%d", round)}
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i, s := range []*server{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rule := map[string]any{"name": names[i], "when": "true", "send": sends("ops", "x")}
				codes[i] = s.do("POST", "/api/v1/rules", version, rule).code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != http.StatusCreated || codes[1] != http.StatusConflict {
			t.Fatalf("round %d: answers %v, want one 201 and one 409", round, codes)
		}
		file := a.file()
		saved := 0
		for _, n := range names {
			if strings.Contains(file, "name: "+n) {
				saved++
			}
		}
		if saved != 1 {
			t.Fatalf("round %d: the file holds %d of the two rules, want the one answered 201", round, saved)
		}
	}
}

// TestRulesFileLock: the lock excludes a second holder (another open
// file, as another process has) until it is released.
func TestRulesFileLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	first, err := rulesfile.Lock(ctxT(t), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	if _, err := rulesfile.Lock(ctx, path); !errors.Is(err, rulesfile.ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	first.Unlock()
	second, err := rulesfile.Lock(ctxT(t), path)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	second.Unlock()
}

// TestUnsafeRuleNameRefused: a name that would be a path or a query in
// the editor's URLs is refused, and the file is untouched.
func TestUnsafeRuleNameRefused(t *testing.T) {
	s := newServer(t, original, nil)
	for _, name := range []string{"../history/1/restore?x=", "a/b", "x y", "<b>"} {
		r := s.do("POST", "/api/v1/rules", "", map[string]any{"name": name, "when": "true", "send": sends("ops", "x")})
		if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "use letters, digits") {
			t.Errorf("create %q = %d %s, want 422", name, r.code, r.body)
		}
	}
	if s.file() != original {
		t.Error("a refused name changed the rules file")
	}
}
