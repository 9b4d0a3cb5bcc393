package render

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const invoiceFile = `{{/* Invoice notification. */}}
{{ define "row" }}- {{ .code }}: {{ money .amount_cents $.currency }}{{ end }}

{{- define "subject" -}}
Invoice {{ .invoice.number }}
{{- end }}

{{- define "text" -}}
Invoice {{ .invoice.number }} for {{ .invoice.customer.name }}
{{- range .invoice.fees }}
{{ template "fee" . }}
{{- end }}
{{- end }}

{{- define "fee" }}* {{ .code }} ({{ .amount_cents }}){{ end }}

{{- define "html" -}}
<h1>Invoice {{ .invoice.number }}</h1><p>{{ .invoice.customer.name }}</p>
<ul>{{ range .invoice.fees }}<li>{{ template "fee" . }}</li>{{ end }}</ul>
<a href="{{ .invoice.file_url }}">PDF</a>
{{- end }}
`

func TestFileBlocks(t *testing.T) {
	f, err := ParseFile("invoice.tmpl", invoiceFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Blocks(); !slices.Equal(got, []string{"html", "subject", "text"}) {
		t.Errorf("Blocks() = %v", got)
	}
	for block, want := range map[string]bool{"text": true, "html": true, "subject": true, "fee": true, "row": true, "blocks": false, "body": false, "invoice.tmpl": false} {
		if got := f.Has(block); got != want {
			t.Errorf("Has(%q) = %v", block, got)
		}
	}
	data := decode(t, `{"invoice": {"number": "INV-7", "customer": {"name": "A & B"}, "fees": [{"code": "seats", "amount_cents": 1500000}],
		"file_url": "javascript:alert(1)"}}`)
	tests := []struct {
		block string
		esc   Escape
		want  string
	}{
		{"subject", Plain, "Invoice INV-7"},
		{"text", Mrkdwn, "Invoice INV-7 for A &amp; B\n* seats (1500000)"},
		{"text", Plain, "Invoice INV-7 for A & B\n* seats (1500000)"},
		{"html", HTML, "<h1>Invoice INV-7</h1><p>A &amp; B</p>\n<ul><li>* seats (1500000)</li></ul>\n<a href=\"#ZgotmplZ\">PDF</a>"},
		{"fee", Plain, "*  ()"},
	}
	for _, tt := range tests {
		t.Run(tt.block+" "+tt.esc.String(), func(t *testing.T) {
			tm, err := f.Block(tt.block, tt.esc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := tm.Execute(data)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v\nwant %q", got, err, tt.want)
			}
		})
	}
}

// TestFileBlockCopies: each Block compiles its own copy of the parsed file,
// so the same block under two escapings, or executed through html and
// text at once, stays independent.
func TestFileBlockCopies(t *testing.T) {
	f, err := ParseFile("x.tmpl", `{{ define "text" }}{{ .v }}{{ end }}{{ define "html" }}{{ template "text" . }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"v": "<&>"}
	for _, tt := range []struct {
		block string
		esc   Escape
		want  string
	}{
		{"text", Plain, "<&>"},
		{"text", Mrkdwn, "&lt;&amp;&gt;"},
		{"html", HTML, "&lt;&amp;&gt;"},
		{"text", Plain, "<&>"},
		{"text", URLQuery, "%3C%26%3E"},
	} {
		tm, err := f.Block(tt.block, tt.esc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tm.Execute(data); err != nil || got != tt.want {
			t.Errorf("%s %s: got %q, %v; want %q", tt.block, tt.esc, got, err, tt.want)
		}
	}
}

// TestFileErrors: ParseFile and Block report *Error values with the
// position in the file.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		block string // compiled with HTML when set
		want  Error
	}{
		{"unknown function", "{{ define \"text\" }}\nline 2\n  total {{ .x | nosuch }}\n{{ end }}", "", Error{"f.tmpl", 3, 17, `function "nosuch" not defined`}},
		{"unclosed action", "{{ define \"text\" }}\nHello {{ .invoice.number\n{{ end }}", "", Error{"f.tmpl", 2, 7, `unclosed action (no "}}" before the next "{{")`}},
		{"end without define", "{{ define \"text\" }}x{{ end }}\n{{ end }}", "", Error{"f.tmpl", 2, 1, "unexpected {{end}}"}},
		{"no known block", `{{ define "helper" }}x{{ end }} text outside`, "", Error{"f.tmpl", 0, 0, `defines none of text, blocks, subject, html, body (write {{ define "text" }}…{{ end }})`}},
		{"html ambiguity", "{{ define \"text\" }}t{{ end }}\n{{ define \"html\" }}\n<a href=\"{{ if .x }}/a{{ else }}/b?{{ end }}{{ .y }}\">{{ end }}", "html", Error{"f.tmpl", 3, 48, "{{ .y }} appears in an ambiguous context within a URL"}},
		{"html unfinished", "{{ define \"html\" }}\n<p title=\"{{ .x }}\n{{ end }}", "html", Error{"f.tmpl", 2, 19, `"html" ends inside unfinished HTML (Attr): close the tag, attribute, comment or script`}},
		{"html block calls a missing helper", "{{ define \"html\" }}\n<p>{{ template \"nope\" . }}</p>{{ end }}", "html", Error{"f.tmpl", 2, 16, `no such template "nope"`}},
		{"block not defined", `{{ define "text" }}x{{ end }}`, "body", Error{"f.tmpl", 0, 0, `no "body" block`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("f.tmpl", tt.src)
			if err == nil && tt.block != "" {
				esc := HTML
				if tt.block != "html" {
					esc = Plain
				}
				_, err = f.Block(tt.block, esc, Options{})
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if *e != tt.want {
				t.Fatalf("got  %#v\nwant %#v", *e, tt.want)
			}
		})
	}
}

// TestNilFile: a nil *File (a missing default) answers without panicking.
func TestNilFile(t *testing.T) {
	var f *File
	if f.Has("text") || len(f.Blocks()) != 0 {
		t.Error("a nil file has no blocks")
	}
	if _, err := f.Block("text", Plain, Options{}); err == nil || !strings.Contains(err.Error(), `no "text" block`) {
		t.Errorf("got %v", err)
	}
}

// TestUnusedBlocks: a define that no channel renders and no block calls
// is reported with its position (a misspelt "subjet"); helpers that are
// called, and known blocks, are not. A file with only content_type is a
// template (an HTTP channel forwarding the message under its own type).
func TestUnusedBlocks(t *testing.T) {
	src := "{{ define \"subjet\" }}S{{ end }}\n{{ define \"text\" }}{{ if .x }}{{ template \"footer\" . }}{{ end }}{{ end }}\n" +
		"{{ define \"footer\" }}--{{ end }}\n  {{ define \"spare\" }}x{{ end }}\n{{ define \"digest_text\" }}d{{ end }}"
	f, err := ParseFile("f.tmpl", src)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Unused()
	want := map[string]Position{"subjet": {1, 1}, "spare": {4, 3}}
	if len(got) != len(want) || got["subjet"] != want["subjet"] || got["spare"] != want["spare"] {
		t.Fatalf("unused %v, want %v", got, want)
	}
	if _, err := ParseFile("ct.tmpl", `{{ define "content_type" }}text/csv{{ end }}`); err != nil {
		t.Fatalf("a file with only content_type: %v", err)
	}
}
