package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/wiring"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testEnv is the environment every golden test sees: fixed, so outputs
// do not depend on the machine.
func testEnv(vars map[string]string) config.Env {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func mustCatalog(t testing.TB) *lago.Catalog {
	t.Helper()
	c, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckGolden loads every file in testdata/rules and compares all the
// diagnostics it produces with testdata/rules/<name>.golden. Run with
// -update to rewrite them, then read the diff.
func TestCheckGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules files: %v", err)
	}
	catalog := mustCatalog(t)
	env := testEnv(map[string]string{"SLACK_BOT_TOKEN": "xoxb-secret-token", "LAGO_SECRET": "lago-hmac-secret", "HOME": "/home/someone"})
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, diags, _ := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: f, TemplatesDir: "testdata/templates", Env: env, Catalog: catalog})
			var b strings.Builder
			for _, d := range diags {
				b.WriteString(d.String())
				b.WriteByte('\n')
			}
			got := b.String()
			for _, s := range []string{"xoxb-secret-token", "lago-hmac-secret"} {
				if strings.Contains(got, s) {
					t.Errorf("a secret leaked into the diagnostics:\n%s", got)
				}
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./router -run TestCheckGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestCheckReportsEveryProblem pins the essentials independently of the
// golden files: every mistake is reported, with its position and rule.
func TestCheckReportsEveryProblem(t *testing.T) {
	_, diags, err := Load(LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: "testdata/rules/three_mistakes.yaml", TemplatesDir: "testdata/templates",
		Env: testEnv(map[string]string{"SLACK_BOT_TOKEN": "x"}), Catalog: mustCatalog(t),
	})
	if err == nil {
		t.Fatal("a broken file loaded")
	}
	want := []string{
		`three_mistakes.yaml:9:`,    // the expression
		`rule "big-invoice": when:`, // named
		`three_mistakes.yaml:15:13: rule "wallet": unknown channel "slak"`, // exact position
		`duplicate rule name`,
		`template "missing.tmpl" not found`,
	}
	var all strings.Builder
	for _, d := range diags {
		all.WriteString(d.String() + "\n")
	}
	for _, w := range want {
		if !strings.Contains(all.String(), w) {
			t.Errorf("missing %q in:\n%s", w, all.String())
		}
	}
}

// TestTemplatesDirIsASymlink: a templates directory reached through a
// symbolic link (a mounted volume, a linked checkout) loads, and its files
// are named under the path given.
func TestTemplatesDirIsASymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "hi.tmpl"), []byte(`{{ define "text" }}hi {{ money 1 }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "templates")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("channels:\n  ops:\n    slack: {webhook_url: \"https://hooks.slack.com/services/T/B/x\"}\nrules:\n  - name: r\n    when: \"true\"\n    send: [{to: ops, template: hi.tmpl}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: rules, TemplatesDir: link})
	if err == nil || len(diags) != 1 || diags[0].File != filepath.Join(link, "hi.tmpl") || !strings.Contains(diags[0].Message, "money takes 2 arguments, got 1") {
		t.Fatalf("want the template's one error, named under the link: %v %v", err, diags)
	}
}

// TestUnsetVariablesHideNoOtherMistake: a channel whose credentials come
// from unset variables is still validated, as if they held values: a
// wrong setting beside them is an error, in check as in serve, while
// what the unset variables explain ("set token or webhook_url") is not
// said twice.
func TestUnsetVariablesHideNoOtherMistake(t *testing.T) {
	const rules = `channels:
  og:
    opsgenie:
      api_key: ${OG_KEY}
      region: apac
  hook:
    slack:
      webhook_url: ${SLACK_HOOK}
  page:
    pagerduty:
      routing_key: ${PD_KEY}
rules:
  - name: r
    when: webhook_type == "invoice.created"
    send: [{to: og}, {to: hook}, {to: page}]
`
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name              string
		checkOnly, dryRun bool
	}{{"check", true, false}, {"serve --dry-run", false, true}, {"serve", false, false}} {
		t.Run(mode.name, func(t *testing.T) {
			_, diags, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: dir,
				Env: testEnv(nil), CheckOnly: mode.checkOnly, DryRun: mode.dryRun})
			got := diagsString(diags)
			if err == nil || !strings.Contains(got, `rules.yaml:5:15: channel "og": region: must be us or eu`) {
				t.Fatalf("err %v, diagnostics:\n%s", err, got)
			}
			for _, d := range diags {
				if d.Severity == config.SeverityError && !strings.Contains(d.Message, "region") && !strings.Contains(d.Message, "is not set") {
					t.Errorf("an error the unset variables explain: %s", d)
				}
			}
		})
	}
}
