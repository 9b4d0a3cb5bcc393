package router

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchboard-dev/switchboard/internal/wiring"
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
	rs, _, err := Compile("rules.yaml", src, tmpls, LoadOptions{Builder: wiring.Builder{}, TemplatesDir: "tpl", Env: testEnv(nil)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	rs.Close()

	tmpls["body.tmpl"] = &fstest.MapFile{Data: []byte(`{{ define "body" }}{{ .x `)}
	_, diags, err := Compile("rules.yaml", src, tmpls, LoadOptions{Builder: wiring.Builder{}, TemplatesDir: "tpl", Env: testEnv(nil)})
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

// TestCompileNeedsBuilder: without a Builder nothing is compiled and the
// load says why, instead of crashing on the first channel.
func TestCompileNeedsBuilder(t *testing.T) {
	_, diags, err := Compile("rules.yaml", []byte("channels:\n  ops:\n    slack: {token: x, channel: C1}\nrules: []\n"), nil, LoadOptions{Env: testEnv(nil)})
	if err == nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "LoadOptions.Builder is nil") {
		t.Fatalf("err %v, diags %v", err, diags)
	}
}

// TestUnknownChannelKey: a channel's unknown key is listed against the
// shared settings and every registered kind.
func TestUnknownChannelKey(t *testing.T) {
	_, diags, err := Compile("rules.yaml", []byte("channels:\n  ops:\n    slak: {token: x}\nrules: []\n"), nil, LoadOptions{Builder: wiring.Builder{}, Env: testEnv(nil)})
	if err == nil {
		t.Fatal("an unknown kind was accepted")
	}
	want := `rules.yaml:3:5: unknown key "slak" (expected one of: breaker, concurrency, discord, email, http, on_failure, opsgenie, pacing, pagerduty, rate, retry, schedule, slack, teams, timeout)`
	if len(diags) == 0 || diags[0].String() != want {
		t.Fatalf("diags %v\nwant %s", diags, want)
	}
}
