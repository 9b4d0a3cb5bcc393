package render

import (
	"os"
	"testing"
)

func benchData(b *testing.B) map[string]any {
	b.Helper()
	raw, err := os.ReadFile("testdata/invoice.created.json")
	if err != nil {
		b.Fatal(err)
	}
	data := decode(b, string(raw))
	data["meta"] = map[string]any{"source": "lago", "id": "msg_0001", "received_at": "2024-03-10T12:00:00Z"}
	return data
}

// BenchmarkExecute renders a typical Slack text template on a decoded
// invoice payload: the work done per delivery on the ingest path.
func BenchmarkExecute(b *testing.B) {
	data := benchData(b)
	tm, err := Parse("bench", `:moneybag: Invoice *{{ .invoice.number }}* for {{ .invoice.customer.name | default .invoice.customer.external_id }}: {{ money .invoice.total_amount_cents .invoice.currency }}{{ with .invoice.file_url }} <{{ . }}|PDF>{{ end }}`, Mrkdwn, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := tm.Execute(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tm.Execute(data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkExecuteDefault renders the built-in Slack and email html
// templates.
func BenchmarkExecuteDefault(b *testing.B) {
	data := benchData(b)
	for _, c := range []struct {
		kind, block string
		esc         Escape
	}{{"slack", "text", Mrkdwn}, {"email", "html", HTML}} {
		tm, err := Default(c.kind).Block(c.block, c.esc, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.kind+"/"+c.block, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tm.Execute(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompile measures compiling one block, which happens per
// template at every configuration load.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench", `Invoice {{ .invoice.number }}: {{ money .invoice.total_amount_cents .invoice.currency }}`, Mrkdwn, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
