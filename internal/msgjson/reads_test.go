package msgjson

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// readsRules reads messages in many ways: conditions with chains, `?.`,
// `??` and closures, and exact ones the rule index answers alone; templates with range, with, $, index; email
// recipients and subject; an HTTP url path, query and header; throttle and
// group keys; and an HTTP body that is the message as received.
const readsRules = `sources:
  lago: {lago: {}}
channels:
  ops: {slack: {token: xoxb-test, channel: "#ops"}}
  mail: {email: {host: localhost, port: 2525, tls: none, from: "Billing <billing@example.com>", to: ["{{ .invoice.customer.email }}"], subject: "Invoice {{ .invoice.number }}"}}
  hook: {http: {url: "http://127.0.0.1:1/in/{{ .webhook_type }}?customer={{ .invoice.customer.external_id }}", headers: {X-Org: "{{ .organization_id }}"}}}
  raw: {http: {url: "http://127.0.0.1:1/raw"}}
rules:
  - name: fees
    when: webhook_type == "invoice.created" && invoice.fees_amount_cents > 0
    send:
      - to: ops
        message: "{{ range .invoice.fees }}{{ .item.code }} of {{ $.invoice.number }}; {{ end }}"
      - to: mail
        message: "{{ .invoice.total_amount_cents }} {{ .invoice.currency }}"
      - to: hook
  - name: customers
    when: invoice?.customer?.name != nil || customer.external_id != ""
    throttle: {key: "{{ .invoice.customer.external_id }}", every: 5m}
    send:
      - to: ops
        message: '{{ with .invoice.customer }}{{ .name }}{{ else }}{{ .customer.name }}{{ end }} {{ index .invoice.customer "name" }}'
  - name: anything
    when: webhook_type startsWith "wallet" || any(credit_note?.items ?? [], .amount_cents > 0)
    group: {by: "{{ .wallet.external_customer_id }}", wait: 3m}
    send:
      - to: ops
        message: "{{ .wallet.lago_id }}{{ .credit_note.number }} {{ .meta.source }}"
  - name: exact
    when: webhook_type == "wallet.depleted_ongoing_balance" && wallet.external_customer_id == "acme_1042"
    send: [{to: raw}]
  - name: exact-invoice
    when: 'webhook_type == "invoice.created" && invoice.lago_id == "18b4929d-c6b5-437f-ab2c-8f42085b641e"'
    send: [{to: raw}]
  - name: everything-raw
    when: webhook_type != ""
    send: [{to: raw}]
`

// TestMessageReadsSameRouting routes every Lago fixture decoded only as
// far as the ruleset reads (what ingest does) and decoded whole, through
// rules that read in many ways, the built-in templates of every kind and
// the example rules file, and checks the results are the same.
func TestMessageReadsSameRouting(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "lago", "testdata", "*.*.json"))
	if len(files) < 70 {
		t.Fatalf("%d Lago fixtures", len(files))
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "rules.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := strings.Replace(readsRules, "rules:\n", `rules:
  - name: defaults
    when: webhook_type != ""
    send: [{to: ops}, {to: mail}, {to: raw}]
`, 1)
	cases := []struct {
		name, rules string
		partial     bool // MessageReads is not everything
	}{
		{"custom", readsRules, true},
		{"built-in templates", defaults, false},
		{"example", string(example), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := load(t, c.rules)
			reads := rs.MessageReads()
			if (reads != nil) != c.partial {
				t.Fatalf("MessageReads = %+v, want partial %v", reads, c.partial)
			}
			var d Decoder
			sent, matched := 0, map[string]bool{}
			for _, f := range files {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				part, ok := d.Object(body, reads)
				whole, ok2 := d.Object(body, nil)
				if !ok || !ok2 {
					t.Fatalf("%s: not decoded", f)
				}
				at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
				a := rs.Route(&router.Message{ID: "m", Source: "lago", ReceivedAt: at, Body: body, Data: part})
				b := rs.Route(&router.Message{ID: "m", Source: "lago", ReceivedAt: at, Body: body, Data: whole})
				if got, want := comparable(a), comparable(b); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: routed from the part read\n%+v\nfrom the whole message\n%+v", filepath.Base(f), got, want)
				}
				sent += len(b.Deliveries)
				for _, name := range b.Matched {
					matched[name] = true
				}
			}
			if sent < 10 {
				t.Fatalf("%d deliveries: the case checks little", sent)
			}
			for _, name := range rs.RuleNames() {
				if !matched[name] && c.partial {
					t.Errorf("rule %s never matched: the case does not check it", name)
				}
			}
		})
	}
}

// comparable is a routing result without its fresh delivery IDs.
func comparable(r router.Result) router.Result {
	out := router.Result{Matched: r.Matched, Errors: r.Errors}
	for _, d := range r.Deliveries {
		d.ID = ""
		if d.Conversation != nil {
			c := *d.Conversation
			c.Rerender = nil // a func: compared by rendering below
			if d.Conversation.Rerender != nil {
				p, err := d.Conversation.Rerender(router.Previous{})
				d.Parts.Text += "\nrerendered: " + p.Text + fmt.Sprint(err)
			}
			d.Conversation = &c
		}
		if d.Policy != nil {
			p := *d.Policy
			p.Rerender = nil
			if d.Policy.Rerender != nil {
				parts, err := d.Policy.Rerender(3)
				d.Parts.Text += "\nrerendered with 3 suppressed: " + parts.Text + fmt.Sprint(err)
			}
			d.Policy = &p
		}
		if d.Err != nil {
			d.Err = errorText(d.Err.Error())
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	return out
}

type errorText string

func (e errorText) Error() string { return string(e) }

func load(t *testing.T, rules string) *router.Ruleset {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "CRM_SIGNING_SECRET" {
			return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true
		}
		if name == "SMTP_PORT" {
			return "587", true
		}
		return "x", true
	}
	rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: p,
		TemplatesDir: filepath.Join("..", "..", "templates"), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	return rs
}
