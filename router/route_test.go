package router

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/notifiers/webhook"
)

// writeConfig writes a rules file (and templates) into a temp dir.
func writeConfig(t *testing.T, rules string, templates map[string]string) LoadOptions {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	td := filepath.Join(dir, "templates")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range templates {
		if err := os.WriteFile(filepath.Join(td, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return LoadOptions{Builder: wiring.Builder{}, RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: td, Env: testEnv(nil)}
}

func mustLoad(t *testing.T, o LoadOptions) *Ruleset {
	t.Helper()
	rs, _, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func msg(t *testing.T, body string) *Message {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal([]byte(body), &data); err != nil {
		t.Fatal(err)
	}
	return &Message{ID: "m1", Source: "lago", ReceivedAt: time.Unix(1700000000, 0).UTC(), Body: []byte(body), Data: data}
}

const threeChannels = `
channels:
  ops:
    slack: {token: xoxb-test, channel: "#ops"}
  mail:
    email: {host: localhost, port: 2525, tls: none, from: "Ops <ops@example.com>", to: [ops@example.com]}
  hook:
    http: {url: "https://hooks.example.com/in"}
`

// TestRuntimeErrorsAreIsolated: a rule whose expression fails on a message
// does not match it, the error names the rule, and other rules still run.
func TestRuntimeErrorsAreIsolated(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: fails
    when: invoice.customer.email == "x"
    send: [{to: ops}]
  - name: matches
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: ops, message: "wallet {{ .wallet.external_customer_id }}"}]
`, nil))
	res := rs.Route(msg(t, `{"webhook_type":"wallet.depleted_ongoing_balance","wallet":{"external_customer_id":"acme"}}`))
	if len(res.Errors) != 1 || res.Errors[0].Rule != "fails" {
		t.Fatalf("errors = %v", res.Errors)
	}
	if strings.Join(res.Matched, ",") != "matches" || res.Deliveries[0].Parts.Text != "wallet acme" {
		t.Fatalf("matched %v, deliveries %+v", res.Matched, res.Deliveries)
	}
}

// TestRenderFailureIsolated: a template that fails fails only its own
// delivery, which carries the error; the other target is rendered.
func TestRenderFailureIsolated(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: "true"
    send:
      - to: ops
        message: '{{ required "invoice number is missing" .invoice.number }}'
      - to: hook
`, nil))
	res := rs.Route(msg(t, `{"webhook_type":"wallet.created"}`))
	if len(res.Deliveries) != 2 {
		t.Fatalf("%d deliveries", len(res.Deliveries))
	}
	if res.Deliveries[0].Err == nil || !strings.Contains(res.Deliveries[0].Err.Error(), "invoice number is missing") {
		t.Fatalf("first delivery error = %v", res.Deliveries[0].Err)
	}
	if res.Deliveries[1].Err != nil || res.Deliveries[1].Parts.Body != `{"webhook_type":"wallet.created"}` {
		t.Fatalf("second delivery: %+v", res.Deliveries[1])
	}
}

// TestAllMatchingRulesFireInOrder and disabled rules never fire.
func TestAllMatchingRulesFireInOrder(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: first
    when: webhook_type startsWith "invoice."
    send: [{to: ops, message: one}]
  - name: disabled
    enabled: false
    when: "true"
    send: [{to: ops}]
  - name: second
    when: invoice.total_amount_cents >= 1000000
    send: [{to: ops, message: two}, {to: hook}]
  - name: nomatch
    when: webhook_type == "wallet.created"
    send: [{to: ops}]
`, nil))
	res := rs.Route(msg(t, `{"webhook_type":"invoice.created","invoice":{"total_amount_cents":1500000}}`))
	if got := strings.Join(res.Matched, ","); got != "first,second" {
		t.Fatalf("matched %s", got)
	}
	if len(res.Deliveries) != 3 || res.Deliveries[0].Parts.Text != "one" || res.Deliveries[1].Parts.Text != "two" {
		t.Fatalf("deliveries %+v", res.Deliveries)
	}
	ids := map[string]bool{}
	for _, d := range res.Deliveries {
		if d.ID == "" || ids[d.ID] || d.MessageID != "m1" {
			t.Fatalf("bad delivery identity %+v", d.Notification)
		}
		ids[d.ID] = true
	}
}

// TestEnvExpansionOnlyInSecretFields: ${VAR} is expanded in connection and
// secret fields and nowhere else, so rule authors cannot read the
// environment through a condition or a template.
func TestEnvExpansionOnlyInSecretFields(t *testing.T) {
	o := writeConfig(t, `
channels:
  hook:
    http:
      url: https://hooks.example.com/${HOOK_PATH}
      headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
rules:
  - name: r
    when: webhook_type == "${HOOK_TOKEN}" || meta.source == "lago"
    send: [{to: hook, message: 'token=${HOOK_TOKEN} {{ .webhook_type }}'}]
`, nil)
	o.Env = testEnv(map[string]string{"HOOK_PATH": "in", "HOOK_TOKEN": "s3cr3t-token"})
	rs := mustLoad(t, o)
	res := rs.Route(msg(t, `{"webhook_type":"s3cr3t-token"}`))
	// The condition compares with the literal text "${HOOK_TOKEN}", so it
	// matched only through meta.source.
	if len(res.Matched) != 1 {
		t.Fatalf("matched %v", res.Matched)
	}
	if got := res.Deliveries[0].Parts.Body; got != "token=${HOOK_TOKEN} s3cr3t-token" {
		t.Fatalf("body %q: the message template must keep ${…} literally", got)
	}
	hook := rs.Channels["hook"].settings.(*webhook.Config)
	if hook.URL.Reveal() != "https://hooks.example.com/in" || hook.Headers["Authorization"].Reveal() != "Bearer s3cr3t-token" {
		t.Fatalf("connection fields not expanded: %s %v", hook.URL.Reveal(), hook.Headers)
	}
}

// TestMetaVariables: meta.source, meta.id and meta.received_at are
// available, and a payload's own meta wins.
func TestMetaVariables(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: meta.source == "lago"
    send: [{to: ops, message: "{{ .meta.id }} {{ .meta.received_at }}"}]
`, nil))
	res := rs.Route(msg(t, `{"webhook_type":"x"}`))
	if len(res.Deliveries) != 1 || res.Deliveries[0].Parts.Text != "m1 2023-11-14T22:13:20Z" {
		t.Fatalf("%+v", res.Deliveries)
	}
	res = rs.Route(msg(t, `{"webhook_type":"x","meta":{"source":"mine"}}`))
	if len(res.Matched) != 0 {
		t.Fatalf("the payload's own meta must win: %v", res.Matched)
	}
}

// TestHTTPTemplatedURLAndHeaders: path and query are templates with
// escaped values, header values too; scheme and host stay fixed.
func TestHTTPTemplatedURLAndHeaders(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, `
channels:
  crm:
    http:
      url: "https://crm.example.com/customers/{{ .customer.external_id }}?source={{ .webhook_type }}"
      headers:
        X-Customer: "{{ .customer.external_id }}"
        X-Static: fixed
rules:
  - name: r
    when: "true"
    send: [{to: crm}]
`, nil))
	res := rs.Route(msg(t, `{"webhook_type":"customer.created","customer":{"external_id":"a/b?c=d"}}`))
	d := res.Deliveries[0]
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	if want := "/customers/a%2Fb%3Fc=d?source=customer.created"; d.Parts.Path != want {
		t.Errorf("path %q, want %q", d.Parts.Path, want)
	}
	if d.Parts.Headers["X-Customer"] != "a/b?c=d" || d.Parts.Headers["X-Static"] != "" {
		t.Errorf("headers %v", d.Parts.Headers)
	}
	if d.Parts.ContentType != "application/json" {
		t.Errorf("content type %q", d.Parts.ContentType)
	}
}

// TestHTTPContentTypeOnly: a template with only content_type forwards
// the message as it came, under that content type; an inline message
// that is not JSON goes as text.
func TestHTTPContentTypeOnly(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, `
channels:
  crm:
    http: {url: "https://crm.example.com/lago"}
rules:
  - name: r
    when: "true"
    send:
      - {to: crm, template: ct.tmpl}
      - {to: crm, message: "Invoice {{ .n }}"}
`, map[string]string{"ct.tmpl": `{{ define "content_type" }}application/vnd.lago+json{{ end }}`}))
	body := `{"webhook_type":"invoice.created", "n": "INV-1"}`
	res := rs.Route(msg(t, body))
	if d := res.Deliveries[0]; d.Err != nil || d.Parts.Body != body || d.Parts.ContentType != "application/vnd.lago+json" {
		t.Errorf("content_type only: %v %q %q", d.Err, d.Parts.Body, d.Parts.ContentType)
	}
	if d := res.Deliveries[1]; d.Err != nil || d.Parts.Body != "Invoice INV-1" || d.Parts.ContentType != "text/plain; charset=utf-8" {
		t.Errorf("inline text: %v %q %q", d.Err, d.Parts.Body, d.Parts.ContentType)
	}
}

// TestEmailRecipientsAndSubjectPrecedence: to/cc are templates; the
// template's subject block wins over the channel's subject, which wins
// over the default (the built-in template's subject too); message: is
// also the subject when nothing else is.
func TestEmailRecipientsAndSubjectPrecedence(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, `
channels:
  plain:
    email: {host: localhost, port: 2525, tls: none, from: "B <b@example.com>", to: ["{{ .invoice.customer.email }}", "finance@example.com"], cc: ["{{ .cc }}"]}
  subj:
    email: {host: localhost, port: 2525, tls: none, from: "B <b@example.com>", to: [a@example.com], subject: "Channel {{ .webhook_type }}"}
rules:
  - name: r
    when: "true"
    send:
      - {to: subj, template: s.tmpl}
      - {to: subj, template: nos.tmpl}
      - {to: plain, message: "Inline {{ .webhook_type }}"}
      - {to: plain}
      - {to: subj}
`, map[string]string{
		"s.tmpl":   `{{ define "subject" }}Block {{ .webhook_type }}{{ end }}{{ define "text" }}t{{ end }}`,
		"nos.tmpl": `{{ define "html" }}<b>{{ .webhook_type }}</b>{{ end }}`,
	}))
	res := rs.Route(msg(t, `{"webhook_type":"invoice.created","invoice":{"customer":{"email":"cust@example.com"}},"cc":""}`))
	got := []string{}
	for _, d := range res.Deliveries {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		got = append(got, d.Parts.Subject)
	}
	if got[0] != "Block invoice.created" || got[1] != "Channel invoice.created" || got[2] != "Inline invoice.created" || !strings.Contains(got[3], "invoice.created") || got[4] != "Channel invoice.created" {
		t.Fatalf("subjects %q", got)
	}
	if to := strings.Join(res.Deliveries[2].Parts.To, ","); to != "<cust@example.com>,<finance@example.com>" && to != "cust@example.com,finance@example.com" {
		t.Fatalf("to %q", to)
	}
	if len(res.Deliveries[2].Parts.Cc) != 0 {
		t.Fatalf("an empty rendered cc must be dropped: %q", res.Deliveries[2].Parts.Cc)
	}
	if res.Deliveries[1].Parts.HTML != "<b>invoice.created</b>" {
		t.Fatalf("html %q", res.Deliveries[1].Parts.HTML)
	}
}

// TestSlackEscaping: values are escaped for mrkdwn, the template's own
// link syntax is kept.
func TestSlackEscaping(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: "true"
    send: [{to: ops, message: "<https://app.example.com|open> {{ .name }}"}]
`, nil))
	res := rs.Route(msg(t, `{"name":"A & B <script>"}`))
	if got := res.Deliveries[0].Parts.Text; got != "<https://app.example.com|open> A &amp; B &lt;script&gt;" {
		t.Fatalf("text %q", got)
	}
}

// TestExplain names the condition that was false.
func TestExplain(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: big
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 2000000
    send: [{to: ops}]
`, nil))
	ex := rs.Explain(msg(t, `{"webhook_type":"invoice.created","invoice":{"total_amount_cents":1500000}}`))
	if len(ex) != 1 || ex[0].Matched || len(ex[0].Parts) != 2 {
		t.Fatalf("%+v", ex)
	}
	if !*ex[0].Parts[0].Result || *ex[0].Parts[1].Result {
		t.Fatalf("conditions %+v", ex[0].Parts)
	}
	if !strings.Contains(ex[0].Parts[1].Expr, "2000000") {
		t.Fatalf("expr %q", ex[0].Parts[1].Expr)
	}
}

// TestTemplatedRecipientCannotAddRecipients: a customer whose email field
// holds "a@example.com, everyone@corp.example" would add a recipient
// through a templated to entry; that delivery fails instead. A static
// entry may list several addresses, and max_recipients allows more per
// templated entry where a field really holds a list.
func TestTemplatedRecipientCannotAddRecipients(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, `
channels:
  one:
    email: {host: localhost, port: 2525, tls: none, from: "B <b@example.com>", to: ["{{ .email }}", "finance@example.com, ops@example.com"]}
  two:
    email: {host: localhost, port: 2525, tls: none, from: "B <b@example.com>", to: [finance@example.com], cc: ["{{ .email }}"], max_recipients: 2}
rules:
  - name: r
    when: "true"
    send: [{to: one, message: x}, {to: two, message: x}]
`, nil))
	cases := []struct {
		email          string
		oneErr, twoErr string
		oneTo          string
	}{
		{email: "cust@example.com", oneTo: "cust@example.com,finance@example.com,ops@example.com"},
		{email: `"Doe, Jane" <jane@example.com>`, oneTo: `"Doe, Jane" <jane@example.com>,finance@example.com,ops@example.com`},
		{email: "a@example.com, everyone@corp.example", oneErr: "render to[0]: 2 addresses where max_recipients allows 1"},
		{email: "a@example.com, b@example.com, c@example.com", oneErr: "render to[0]: 3 addresses where max_recipients allows 1",
			twoErr: "render cc[0]: 3 addresses where max_recipients allows 2"},
	}
	for _, c := range cases {
		raw, _ := json.Marshal(map[string]any{"email": c.email})
		res := rs.Route(msg(t, string(raw)))
		one, two := res.Deliveries[0], res.Deliveries[1]
		if c.oneErr != "" {
			if one.Err == nil || !strings.Contains(one.Err.Error(), c.oneErr) {
				t.Errorf("%q: one err = %v, want %q", c.email, one.Err, c.oneErr)
			}
		} else if one.Err != nil || strings.Join(one.Parts.To, ",") != c.oneTo {
			t.Errorf("%q: one to = %q, %v; want %q", c.email, one.Parts.To, one.Err, c.oneTo)
		}
		if (c.twoErr == "") != (two.Err == nil) || (two.Err != nil && !strings.Contains(two.Err.Error(), c.twoErr)) {
			t.Errorf("%q: two err = %v, want %q", c.email, two.Err, c.twoErr)
		}
	}
}

// TestScrubCoversEveryExpandedValue: every value a ${VAR} expanded to is
// scrubbed from error texts, in any field — not only secret fields — so a
// value cannot come back through a DNS error or an SMTP greeting.
func TestScrubCoversEveryExpandedValue(t *testing.T) {
	o := writeConfig(t, `
channels:
  mail:
    email: {host: "${MAIL_HOST}", port: 2525, tls: none, from: "B <b@example.com>", to: [ops@example.com]}
rules:
  - name: r
    when: "true"
    send: [{to: mail, message: x}]
`, nil)
	o.Env = testEnv(map[string]string{"MAIL_HOST": "mail-host-value.internal"})
	rs := mustLoad(t, o)
	got := rs.Scrub("dial tcp: lookup mail-host-value.internal: no such host")
	if strings.Contains(got, "mail-host-value") {
		t.Errorf("Scrub left an expanded value: %s", got)
	}
}
