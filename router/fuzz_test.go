package router

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// FuzzLoad feeds arbitrary rules files to the loader: it must report
// problems, never panic, and never return a Ruleset together with errors.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/rules/*.yaml")
	seeds = append(seeds, "../rules.example.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("rules: [{name: a, when: '!', send: [{to: x}]}]"))
	dir := f.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		rs, diags, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: "testdata/templates", Env: testEnv(map[string]string{"SLACK_BOT_TOKEN": "x"})})
		if err != nil && rs != nil {
			t.Fatal("a Ruleset was returned with errors")
		}
		for _, d := range diags {
			if d.Message == "" {
				t.Fatalf("empty diagnostic %+v", d)
			}
		}
	})
}

// FuzzRoute evaluates expressions and renders templates against arbitrary
// JSON payloads: errors are per rule and per delivery, never a panic.
func FuzzRoute(f *testing.F) {
	catalog := mustCatalog(f)
	for _, typ := range catalog.Types() {
		ex, _ := catalog.Example(typ.WebhookType)
		f.Add(ex)
	}
	f.Add([]byte(`{"webhook_type":null,"invoice":{"total_amount_cents":"x","customer":null}}`))
	f.Add([]byte(`{"wallet":[1,2,3],"meta":7}`))
	rs, _, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: "../rules.example.yaml", TemplatesDir: "../templates", Env: testEnv(exampleEnv), Catalog: catalog})
	if err != nil {
		f.Fatal(err)
	}
	extra, _, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: "testdata/fuzz_rules.yaml", TemplatesDir: "testdata/templates", Env: testEnv(nil)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var data map[string]any
		if json.Unmarshal(body, &data) != nil || data == nil {
			return
		}
		for _, r := range []*Ruleset{rs, extra} {
			d := map[string]any{}
			for k, v := range data {
				d[k] = v
			}
			res := r.Route(&Message{ID: "f", Source: "lago", Body: body, Data: d})
			for _, o := range res.Deliveries {
				if o.Err == nil && o.ID == "" {
					t.Fatal("delivery without ID")
				}
			}
			_ = r.Explain(&Message{ID: "f", Source: "lago", Body: body, Data: d})
		}
	})
}
