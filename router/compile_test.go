package router

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestCompileFromBytes compiles a rules file and templates held in
// memory, as the admin API does for unsaved rules and rule writes, and
// names both in diagnostics as given.
func TestCompileFromBytes(t *testing.T) {
	src := []byte(`sources:
  lago:
    lago: {}
channels:
  hook:
    http:
      url: https://example.com/hook
rules:
  - name: r
    when: "true"
    send:
      - to: hook
        template: body.tmpl
`)
	tmpls := fstest.MapFS{
		"body.tmpl":      {Data: []byte(`{{ define "body" }}{"id": {{ toJson .meta.id }}}{{ end }}`)},
		".hidden/x.tmpl": {Data: []byte(`{{ broken`)},
		"backup.tmpl~":   {Data: []byte(`{{ broken`)},
	}
	rs, _, err := Compile("rules.yaml", src, tmpls, LoadOptions{TemplatesDir: "tpl", Env: testEnv(nil)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	rs.Close()

	tmpls["body.tmpl"] = &fstest.MapFile{Data: []byte(`{{ define "body" }}{{ .x `)}
	_, diags, err := Compile("rules.yaml", src, tmpls, LoadOptions{TemplatesDir: "tpl", Env: testEnv(nil)})
	if err == nil {
		t.Fatal("Compile accepted a broken template")
	}
	var all []string
	for _, d := range diags {
		all = append(all, d.String())
	}
	if got := strings.Join(all, "\n"); !strings.Contains(got, "tpl/body.tmpl") {
		t.Errorf("the broken template is not named under the templates directory:\n%s", got)
	}
}
