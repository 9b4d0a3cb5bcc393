package router

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// benchSizes are the rule counts the routing benchmarks compare: the
// per-message cost with 10,000 rules should stay within 2× the cost with 1.
var benchSizes = []int{1, 100, 1000, 10000}

// benchMatching is the one rule of the benchmark rules files that matches
// the invoice.created fixture.
const benchMatching = "invoice-created"

// benchSlackMessage is a typical inline Slack template.
const benchSlackMessage = `:moneybag: Invoice *{{ .invoice.number }}* for {{ .invoice.customer.name | default .invoice.customer.external_id }}: {{ money .invoice.total_amount_cents .invoice.currency }}{{ with .invoice.file_url }} <{{ . }}|PDF>{{ end }}`

const benchChannels = `sources:
  lago:
    lago: {}
channels:
  ops:
    slack: {token: xoxb-bench, channel: "#billing"}
  hook:
    http: {url: "https://hooks.example.com/lago"}
  mail:
    email: {host: localhost, port: 2525, tls: none, from: "Billing <billing@example.com>", to: [finance@example.com]}
`

// benchRulesFile returns a rules file of n rules: n-1 that never match,
// spread round-robin over the catalog's webhook types, each
// `webhook_type == "<T>" && <object>.lago_id == "<unique>"`, then the one
// that matches invoice.created, with a Slack message target and an HTTP
// target with the default body.
func benchRulesFile(types []lago.Type, n int) string {
	var b strings.Builder
	b.WriteString(benchChannels + "rules:\n")
	for i := range n - 1 {
		t := types[i%len(types)]
		fmt.Fprintf(&b, "  - name: never-%05d\n    when: 'webhook_type == %q && %s.lago_id == \"00000000-0000-4000-8000-%012d\"'\n    send: [{to: hook}]\n",
			i, t.WebhookType, t.ObjectKey, i)
	}
	fmt.Fprintf(&b, "  - name: %s\n    when: webhook_type == \"invoice.created\"\n    send:\n      - to: ops\n        message: %q\n      - to: hook\n",
		benchMatching, benchSlackMessage)
	return b.String()
}

// benchLoad writes a configuration into a temp dir and loads it the way
// serve does (with the catalog).
func benchLoad(tb testing.TB, rules string, templates map[string]string) (*Ruleset, LoadOptions) {
	tb.Helper()
	dir := tb.TempDir()
	o := LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: filepath.Join(dir, "templates"),
		Env: testEnv(nil), Catalog: mustCatalog(tb),
	}
	if err := os.WriteFile(o.RulesPath, []byte(rules), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(o.TemplatesDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, src := range templates {
		if err := os.WriteFile(filepath.Join(o.TemplatesDir, name), []byte(src), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	rs, _, err := Load(o)
	if err != nil {
		tb.Fatal(err)
	}
	return rs, o
}

// benchFixture returns the invoice.created fixture, raw.
func benchFixture(tb testing.TB) []byte {
	tb.Helper()
	raw, ok := mustCatalog(tb).Example("invoice.created")
	if !ok {
		tb.Fatal("no invoice.created fixture")
	}
	return raw
}

// benchRoute decodes and routes raw, as ingest does for each request.
func benchRoute(tb testing.TB, rs *Ruleset, raw []byte) Result {
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		tb.Fatal(err)
	}
	return rs.Route(&Message{ID: "msg-bench", Source: "lago", ReceivedAt: time.Unix(1700000000, 0), Body: raw, Data: data})
}

// checkBenchResult asserts that the fixture matched only the matching
// rule and rendered what it should.
func checkBenchResult(tb testing.TB, res Result, raw []byte) {
	tb.Helper()
	if !slices.Equal(res.Matched, []string{benchMatching}) || len(res.Errors) != 0 {
		tb.Fatalf("matched %v, errors %v", res.Matched, res.Errors)
	}
	if len(res.Deliveries) != 2 {
		tb.Fatalf("%d deliveries, want 2", len(res.Deliveries))
	}
	slack, hook := res.Deliveries[0], res.Deliveries[1]
	want := ":moneybag: Invoice *ACME-2025-0042* for Acme Robotics: $18,747.30 <https://lago-files.example.com/invoices/ACME-2025-0042.pdf|PDF>"
	if slack.Channel != "ops" || slack.Err != nil || slack.Parts.Text != want {
		tb.Fatalf("slack delivery: channel %s, err %v, text %q, want %q", slack.Channel, slack.Err, slack.Parts.Text, want)
	}
	if hook.Channel != "hook" || hook.Err != nil || hook.Parts.Body != string(raw) {
		tb.Fatalf("http delivery: channel %s, err %v, body of %d bytes, want the message as received", hook.Channel, hook.Err, len(hook.Parts.Body))
	}
}

// TestBenchRulesRoute checks the benchmark's configurations: with any
// number of rules, the fixture matches only the one rule, renders the
// same deliveries, and every other catalog example matches nothing.
func TestBenchRulesRoute(t *testing.T) {
	catalog := mustCatalog(t)
	raw := benchFixture(t)
	for _, n := range []int{1, 2, 77, 1000} {
		t.Run(fmt.Sprintf("rules=%d", n), func(t *testing.T) {
			rs, _ := benchLoad(t, benchRulesFile(catalog.Types(), n), nil)
			if len(rs.Rules) != n {
				t.Fatalf("%d rules, want %d", len(rs.Rules), n)
			}
			checkBenchResult(t, benchRoute(t, rs, raw), raw)
			for _, typ := range catalog.Types() {
				if typ.WebhookType == "invoice.created" {
					continue
				}
				ex, _ := catalog.Example(typ.WebhookType)
				if res := benchRoute(t, rs, ex); len(res.Matched) != 0 || len(res.Errors) != 0 {
					t.Fatalf("%s matched %v, errors %v", typ.WebhookType, res.Matched, res.Errors)
				}
			}
		})
	}
}

// TestLoadTenThousandRules loads the 10,000-rule configuration (a
// start-up of `serve` does the same work) and logs how long it took; the
// target (≤ 1 s) is measured by BenchmarkLoad and bench/, not asserted
// here, where -race and a busy machine would make it flaky.
func TestLoadTenThousandRules(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 rules")
	}
	start := time.Now()
	rs, _ := benchLoad(t, benchRulesFile(mustCatalog(t).Types(), 10000), nil)
	t.Logf("router.Load of 10,000 rules: %s", time.Since(start).Round(time.Millisecond))
	raw := benchFixture(t)
	checkBenchResult(t, benchRoute(t, rs, raw), raw)
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	if c := rs.index.candidates(data, nil); len(c) != 1 || rs.Rules[c[0]].Name != benchMatching {
		t.Fatalf("the index offers %d candidates, want only %s", len(c), benchMatching)
	}
}

// BenchmarkRoute is the per-message routing cost on the ingest path:
// decode the invoice.created fixture, match it against n rules (one
// matches), and render that rule's Slack message and HTTP body.
func BenchmarkRoute(b *testing.B) {
	types := mustCatalog(b).Types()
	raw := benchFixture(b)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			rs, _ := benchLoad(b, benchRulesFile(types, n), nil)
			checkBenchResult(b, benchRoute(b, rs, raw), raw)
			b.ReportAllocs()
			for b.Loop() {
				if res := benchRoute(b, rs, raw); len(res.Deliveries) != 2 {
					b.Fatalf("%d deliveries", len(res.Deliveries))
				}
			}
		})
	}
}

// BenchmarkMatchOnly isolates matching (no decoding, no rendering): with
// the index Route uses, and with a loop over every rule for comparison.
func BenchmarkMatchOnly(b *testing.B) {
	types := mustCatalog(b).Types()
	raw := benchFixture(b)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			rs, _ := benchLoad(b, benchRulesFile(types, n), nil)
			var data map[string]any
			if err := json.Unmarshal(raw, &data); err != nil {
				b.Fatal(err)
			}
			m := &Message{ID: "msg-bench", Source: "lago", Body: raw, Data: data}
			m.prepare()
			b.Run("index", func(b *testing.B) {
				b.ReportAllocs()
				var buf [16]int
				for b.Loop() {
					matched := 0
					for _, i := range rs.index.candidates(data, buf[:0]) {
						c := rs.Rules[i].cond
						if c == nil { // matched exactly by the index
							matched++
						} else if ok, err := c.eval(data); err == nil && ok {
							matched++
						}
					}
					if matched != 1 {
						b.Fatalf("%d rules matched", matched)
					}
				}
			})
			b.Run("naive", func(b *testing.B) {
				// Every rule's compiled condition, evaluated in turn.
				conds := make([]*condition, 0, len(rs.Rules))
				for _, r := range rs.Rules {
					c, err := compileCondition(r.When, exprOptions(time.Now))
					if err != nil {
						b.Fatal(err)
					}
					conds = append(conds, c)
				}
				b.ReportAllocs()
				for b.Loop() {
					matched := 0
					for _, c := range conds {
						if ok, err := c.eval(data); err == nil && ok {
							matched++
						}
					}
					if matched != 1 {
						b.Fatalf("%d rules matched", matched)
					}
				}
			})
		})
	}
}

// BenchmarkRender is the cost of rendering one matched rule's delivery,
// per kind of target, on the invoice.created fixture.
func BenchmarkRender(b *testing.B) {
	const emailTemplate = `{{ define "subject" }}Invoice {{ .invoice.number }} for {{ .invoice.customer.name }}{{ end }}
{{ define "text" }}Invoice {{ .invoice.number }}: {{ money .invoice.total_amount_cents .invoice.currency }}, due {{ .invoice.payment_due_date }}.{{ end }}
{{ define "html" }}<p>Invoice <b>{{ .invoice.number }}</b>: {{ money .invoice.total_amount_cents .invoice.currency }}</p>
<table>{{ range .invoice.fees }}<tr><td>{{ .item.name }}</td><td>{{ money .amount_cents .amount_currency }}</td></tr>{{ end }}</table>{{ end }}
`
	rules := benchChannels + fmt.Sprintf(`rules:
  - name: slack-message
    when: "true"
    send: [{to: ops, message: %q}]
  - name: slack-default
    when: "true"
    send: [{to: ops}]
  - name: email-template
    when: "true"
    send: [{to: mail, template: invoice.tmpl}]
  - name: http-default
    when: "true"
    send: [{to: hook}]
`, benchSlackMessage)
	rs, _ := benchLoad(b, rules, map[string]string{"invoice.tmpl": emailTemplate})
	raw := benchFixture(b)
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		b.Fatal(err)
	}
	m := &Message{ID: "msg-bench", Source: "lago", ReceivedAt: time.Unix(1700000000, 0), Body: raw, Data: data}
	m.prepare()
	checks := map[string]func(p Outgoing) bool{
		"slack-message": func(o Outgoing) bool { return strings.Contains(o.Parts.Text, "*ACME-2025-0042* for Acme Robotics") },
		"slack-default": func(o Outgoing) bool { return strings.Contains(o.Parts.Text, "ACME-2025-0042") },
		"email-template": func(o Outgoing) bool {
			return o.Parts.Subject == "Invoice ACME-2025-0042 for Acme Robotics" && strings.Contains(o.Parts.HTML, "<td>")
		},
		"http-default": func(o Outgoing) bool { return o.Parts.Body == string(raw) },
	}
	for _, r := range rs.Rules {
		b.Run(r.Name, func(b *testing.B) {
			out := rs.render(r, m, false)
			if len(out) != 1 || out[0].Err != nil || !checks[r.Name](out[0]) {
				b.Fatalf("rendered %+v", out)
			}
			b.ReportAllocs()
			for b.Loop() {
				if out := rs.render(r, m, false); out[0].Err != nil {
					b.Fatal(out[0].Err)
				}
			}
		})
	}
}

// BenchmarkLoad is the start-up cost of a configuration: parse, validate
// and compile n rules (the target: 10,000 rules ready in ≤ 1 s,
// store and listener included).
func BenchmarkLoad(b *testing.B) {
	types := mustCatalog(b).Types()
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			_, o := benchLoad(b, benchRulesFile(types, n), nil)
			b.ReportAllocs()
			for b.Loop() {
				rs, _, err := Load(o)
				if err != nil {
					b.Fatal(err)
				}
				if len(rs.Rules) != n {
					b.Fatalf("%d rules", len(rs.Rules))
				}
			}
		})
	}
}

// BenchmarkLoadRetained is what a loaded configuration keeps: after each
// Load, with the garbage collected, live-B/op is the heap the Ruleset
// holds and inuse-B/op the heap spans it occupies (live plus the free
// space of partly used spans), the part of serve's idle RSS that grows
// with the rules. Load runs at GC percent 30, as serve loads.
func BenchmarkLoadRetained(b *testing.B) {
	types := mustCatalog(b).Types()
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			_, o := benchLoad(b, benchRulesFile(types, n), nil)
			defer debug.SetGCPercent(debug.SetGCPercent(30))
			var live, inuse float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				rs, _, err := Load(o)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if len(rs.Rules) != n {
					b.Fatalf("%d rules", len(rs.Rules))
				}
				live += float64(after.HeapAlloc) - float64(before.HeapAlloc)
				inuse += float64(after.HeapInuse) - float64(before.HeapInuse)
				runtime.KeepAlive(rs)
			}
			b.ReportMetric(live/float64(b.N), "live-B/op")
			b.ReportMetric(inuse/float64(b.N), "inuse-B/op")
		})
	}
}
