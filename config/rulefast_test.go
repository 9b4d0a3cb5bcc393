package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// TestDecodeRuleFastAgrees decodes every rule of the repository's rules
// files and of the cases below both ways: whenever the fast path accepts
// a rule, the general decoder reads the same configuration and reports
// nothing.
func TestDecodeRuleFastAgrees(t *testing.T) {
	srcs := map[string]string{
		"cases": `rules:
  - name: plain
    when: webhook_type == "invoice.created"
    send: [{to: ops}]
  - name: "quoted"
    description: 'single'
    enabled: false
    when: >-
      webhook_type == "a" &&
      invoice.total_amount_cents > 10
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }}\n"
        thread: "{{ .invoice.lago_id }}"
        broadcast: true
      - {to: hook, template: x.tmpl, update: k}
  - {name: flow, when: "true", send: [{to: a}]}
  - name: number
    when: 5
    send: [{to: a}]
  - name: nulls
    description:
    when: "true"
    send: [{to: a}]
  - name: empty-send
    when: "true"
    send: []
  - name: unknown
    when: "true"
    sned: [{to: a}]
    send: [{to: a}]
  - name: tagged
    when: !!str "true"
    send: [{to: a}]
  - &anchor
    name: anchored
    when: "true"
    send: [{to: a}]
  - *anchor
  - name: nested-bad
    when: "true"
    send: [{to: a, broadcast: "yes"}]
  - name: literal
    when: |
      true
    send:
      - to: a
        message: |
          line one
          line two
  - name: throttled
    when: "true"
    throttle: {every: 5m}
    send: [{to: a}]
  - name: bool-name
    when: "true"
    enabled: "false"
    send: [{to: a}]
`,
	}
	files, _ := filepath.Glob("../router/testdata/rules/*.yaml")
	files = append(files, "../rules.example.yaml", "../router/testdata/fuzz_rules.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
	}
	fast, slow := 0, 0
	for name, src := range srcs {
		f, err := parser.ParseBytes([]byte(src), 0)
		if err != nil || len(f.Docs) == 0 {
			if name == "cases" {
				t.Fatal(err)
			}
			continue
		}
		seq, ok := Lookup(f.Docs[0].Body, "rules").(*ast.SequenceNode)
		if !ok {
			continue
		}
		for i, item := range seq.Values {
			var got RuleConfig
			if !decodeRuleFast(item, &got, &sendSlab{}) {
				slow++
				continue
			}
			fast++
			var want RuleConfig
			ds := &Diags{}
			if !decodeNode(name, item, &want, "rules[0]", "", ds) || len(ds.List) > 0 {
				t.Errorf("%s: rules[%d]: the fast path accepted a rule the decoder rejects: %v", name, i, ds.List)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: rules[%d]: fast path read\n%+v\nthe decoder\n%+v", name, i, got, want)
			}
		}
	}
	if fast < 10 || slow < 8 {
		t.Fatalf("%d rules took the fast path and %d the general one: the cases do not cover both", fast, slow)
	}
}
