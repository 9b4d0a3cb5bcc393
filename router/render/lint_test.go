package render

import (
	"strings"
	"testing"
)

func TestCheckerAnalyze(t *testing.T) {
	c := NewChecker()
	for _, tc := range []struct {
		name, text string
		fields     []string // paths read at the root, in order
		problems   []string // "line:col: message"
	}{
		{"fields", "{{ .invoice.number }} {{ $.wallet.name }}", []string{"invoice.number", "wallet.name"}, nil},
		{"range and with change the dot", "{{ range .invoice.fees }}{{ .amount_cents }}{{ $.invoice.currency }}{{ end }}{{ with .customer }}{{ .name }}{{ else }}{{ .other }}{{ end }}",
			[]string{"invoice.fees", "invoice.currency", "customer", "other"}, nil},
		{"arguments in conditions and pipelines", `{{ if eq .invoice.status "x" }}{{ .a | default "b" }}{{ end }}`, []string{"invoice.status", "a"}, nil},
		{"money with one argument", "Total {{ money .invoice.total_amount_cents }}", []string{"invoice.total_amount_cents"},
			[]string{"1:10: money takes 2 arguments, got 1 (write money .invoice.total_amount_cents .invoice.currency)"}},
		{"a pipeline gives the last argument", "{{ .invoice.currency | money .invoice.total_amount_cents }}", []string{"invoice.currency", "invoice.total_amount_cents"}, nil},
		{"too many", "{{ upper .a .b }}\n{{ trunc 3 }}", []string{"a", "b"},
			[]string{"1:4: upper takes 1 argument, got 2", "2:4: trunc takes 2 arguments, got 1"}},
		{"variadic", "{{ printf }}{{ printf \"%s\" .a .b }}{{ default }}", []string{"a", "b"},
			[]string{"1:4: printf takes at least 1 argument, got 0", "1:39: default takes at least 1 argument, got 0"}},
		{"does not parse", "{{ .a ", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.Analyze("t", tc.text)
			var fields []string
			for _, f := range a.Fields {
				fields = append(fields, strings.Join(f.Path, "."))
			}
			if strings.Join(fields, " ") != strings.Join(tc.fields, " ") {
				t.Errorf("fields %q, want %q", fields, tc.fields)
			}
			var problems []string
			for _, p := range a.Problems {
				problems = append(problems, strings.TrimPrefix(p.Error(), "t:"))
			}
			if strings.Join(problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems %q, want %q", problems, tc.problems)
			}
		})
	}
	// Positions of fields are where the chain starts.
	a := c.Analyze("t", "ab\n  {{ .invocie.number }}")
	if len(a.Fields) != 1 || a.Fields[0].Line != 2 || a.Fields[0].Column != 6 || a.Fields[0].Offset != 8 {
		t.Errorf("field position %+v", a.Fields)
	}
}
