package backtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// lagoHistory is every Lago fixture once, a minute apart, twice over.
func lagoHistory(t *testing.T) sliceMessages {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "lago", "testdata", "*.*.json"))
	if len(files) < 20 {
		t.Fatalf("%d Lago fixtures", len(files))
	}
	var msgs sliceMessages
	for round := range 2 {
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			at := t0.Add(time.Duration(round*len(files)+i) * time.Minute)
			msgs = append(msgs, Message{ID: filepath.Base(f), Source: "lago", ReceivedAt: at, Body: b})
		}
	}
	return msgs
}

// loadExample compiles rules.example.yaml with the repository's templates,
// after edit.
func loadExample(t *testing.T, edit func(string) string) *router.Ruleset {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "rules.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(edit(string(src))), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SMTP_PORT": "587", "CRM_SIGNING_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	env := func(name string) (string, bool) {
		if v, ok := vars[name]; ok {
			return v, true
		}
		return "x", true
	}
	rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: p, TemplatesDir: filepath.Join("..", "..", "templates"), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	return rs
}

const readsCurrent = testChannels + `rules:
  - name: fees
    when: webhook_type == "invoice.created" && invoice.fees_amount_cents > 0
    send:
      - to: ops
        message: "{{ range .invoice.fees }}{{ .item.code }} of {{ $.invoice.number }}; {{ end }}"
  - name: customers
    when: invoice?.customer?.name != nil || customer.external_id != ""
    throttle: {key: "{{ .invoice.customer.external_id }}", every: 5m}
    send:
      - to: ops
        message: '{{ with .invoice.customer }}{{ .name }}{{ else }}{{ .customer.name }}{{ end }} {{ index .invoice.customer "name" }}'
  - name: anything
    when: webhook_type startsWith "wallet" || any(credit_note?.items ?? [], .amount_cents > 0)
    send:
      - to: finance
        message: "{{ .wallet.lago_id }}{{ .credit_note.number }}"
`

// readsNew is a rule only the candidate has, with the built-in template
// (which reads everything).
const readsNew = `
  - name: new
    when: webhook_type == "invoice.created" || webhook_type == "credit_note.created"
    group: {by: "{{ .invoice.customer.external_id }}", wait: 3m}
    send: [{to: finance}]
`

// TestPartialDecodingSameReport replays every Lago fixture through
// configurations whose rules read the messages in many ways (fields,
// range, with, $, index, closures, default and file templates, throttles)
// and checks that decoding only what they read gives the report decoding
// everything gives.
func TestPartialDecodingSameReport(t *testing.T) {
	msgs := lagoHistory(t)
	example := loadExample(t, func(s string) string { return s })
	renamed := loadExample(t, func(s string) string {
		return strings.Replace(s, "name: large-invoice", "name: large-invoice-before", 1)
	})
	custom := load(t, readsCurrent)
	customEdited := load(t, strings.ReplaceAll(readsCurrent, "; {{ end }}", "! {{ end }}"))
	cases := []struct {
		name      string
		cand, cur *router.Ruleset
		examples  int
	}{
		{"example alone", example, nil, 3},
		{"example renamed rule", example, renamed, 3},
		{"example no examples", renamed, example, -1},
		{"custom", customEdited, custom, 2},
		{"custom against the example", custom, example, 3},
		{"custom with a new rule", load(t, readsCurrent+readsNew), custom, 3},
		{"custom with a new rule, no examples", load(t, readsCurrent+readsNew), custom, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Candidate: c.cand, Current: c.cur, Examples: c.examples, Now: func() time.Time { return t0 }}
			part, err := Run(context.Background(), msgs, o)
			if err != nil {
				t.Fatal(err)
			}
			o.decodeWhole = true
			whole, err := Run(context.Background(), msgs, o)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(part, whole) {
				a, _ := json.MarshalIndent(part, "", " ")
				b, _ := json.MarshalIndent(whole, "", " ")
				t.Fatalf("reports differ:\npartial %s\nwhole %s", a, b)
			}
			if whole.Totals.BeforeSent+whole.Totals.AfterSent == 0 {
				t.Fatal("nothing sent: the case checks nothing")
			}
		})
	}
}
