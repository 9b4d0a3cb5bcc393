package router

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// loadBoth loads a configuration whole and chunked, chunkRules rules at
// a time, and fails unless both give the same diagnostics and rules.
func loadBoth(t *testing.T, o LoadOptions, chunkRules int) {
	t.Helper()
	o.chunkRules = -1
	whole, wantDiags, wantErr := Load(o)
	o.chunkRules = chunkRules
	chunked, gotDiags, gotErr := Load(o)
	if !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Fatalf("chunks of %d: diagnostics\n%s\nwhole:\n%s", chunkRules, diagLines(gotDiags), diagLines(wantDiags))
	}
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("chunks of %d: error %v, whole: %v", chunkRules, gotErr, wantErr)
	}
	if whole == nil {
		return
	}
	if len(chunked.Rules) != len(whole.Rules) {
		t.Fatalf("chunks of %d: %d rules, whole: %d", chunkRules, len(chunked.Rules), len(whole.Rules))
	}
	for i, w := range whole.Rules {
		g := chunked.Rules[i]
		if g.Name != w.Name || g.When != w.When || g.Enabled != w.Enabled || g.Index != w.Index ||
			!reflect.DeepEqual(g.Sends(), w.Sends()) || !reflect.DeepEqual(g.Targets(), w.Targets()) ||
			!reflect.DeepEqual(g.FatigueConfig(), w.FatigueConfig()) || (g.cond == nil) != (w.cond == nil) || (g.conv == nil) != (w.conv == nil) {
			t.Fatalf("chunks of %d: rule %d differs: %+v, whole: %+v", chunkRules, i, g, w)
		}
	}
	if !reflect.DeepEqual(chunked.index, whole.index) {
		t.Fatalf("chunks of %d: the index differs", chunkRules)
	}
}

func diagLines(ds []config.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

// TestChunkedLoadAgrees loads every rules file of the tests whole and a
// few rules at a time: the diagnostics (texts, positions, order) and the
// compiled rules are the same, whether the file cuts into chunks or, when
// a chunk does not parse on its own, is parsed whole after all.
func TestChunkedLoadAgrees(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.yaml")
	files = append(files, "testdata/fuzz_rules.yaml", "../rules.example.yaml")
	env := testEnv(map[string]string{"SLACK_BOT_TOKEN": "xoxb-secret-token", "LAGO_SECRET": "lago-hmac-secret", "HOME": "/home/someone"})
	split := 0
	for _, f := range files {
		if src, err := os.ReadFile(f); err == nil {
			if _, chunks, ok := config.SplitRules(src, 1); ok && len(chunks) > 1 {
				split++
			}
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			o := LoadOptions{Builder: wiring.Builder{}, RulesPath: f, TemplatesDir: "testdata/templates", Env: env, Catalog: mustCatalog(t)}
			for _, n := range []int{1, 2, 3} {
				loadBoth(t, o, n)
			}
		})
	}
	if split < len(files)/2 {
		t.Fatalf("only %d of %d files cut into chunks", split, len(files))
	}
}

// TestChunkedCompileFallsBack covers files a chunk of which does not
// parse on its own: each is then parsed whole, with the same messages.
func TestChunkedCompileFallsBack(t *testing.T) {
	head := "channels:\n  ops:\n    http: {url: \"https://example.com/hook\"}\nrules:\n"
	cases := map[string]string{
		"syntax error in a later rule": head + "  - name: a\n    when: \"true\"\n    send: [{to: ops}]\n  - name: b\n    when: \"true\n    send: [{to: ops}]\n",
		"alias across rules":           head + "  - name: a\n    when: &w \"true\"\n    send: [{to: ops}]\n  - name: b\n    when: *w\n    send: [{to: ops}]\n",
		"anchor from the head":         "x: &s [{to: ops}]\n" + head + "  - name: a\n    when: \"true\"\n    send: *s\n",
		"merge key":                    head + "  - &r {name: a, when: \"true\", send: [{to: ops}]}\n  - <<: *r\n    name: b\n",
		"rules given twice":            head + "  - name: a\n    when: \"true\"\n    send: [{to: ops}]\nrules:\n  - name: b\n",
		"entries at two indentations":  head + "  - name: a\n    when: \"true\"\n    send: [{to: ops}]\n - name: b\n",
		"document marker":              head + "  - name: a\n    when: \"true\"\n    send: [{to: ops}]\n---\nrules: []\n",
		"no rules":                     "channels: {}\nrules:\n",
		"unknown key and bad types":    head + "  - name: a\n    when: 5\n    sned: x\n    send: [{to: ops}]\n  - name: b\n    when: \"true\"\n    send: [{to: nope}]\n    throttle: {every: soon}\n",
		"after the rules":              head + "  - name: a\n    when: \"true\"\n    send: [{to: ops}]\non_failure: ops\n  - name: b\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			o := LoadOptions{Builder: wiring.Builder{}, Env: testEnv(nil), Catalog: mustCatalog(t), TemplatesDir: t.TempDir()}
			for _, n := range []int{1, 2} {
				o.chunkRules = -1
				whole, wantDiags, wantErr := Compile("rules.yaml", []byte(src), nil, o)
				o.chunkRules = n
				chunked, gotDiags, gotErr := Compile("rules.yaml", []byte(src), nil, o)
				if !reflect.DeepEqual(gotDiags, wantDiags) || (gotErr == nil) != (wantErr == nil) || (whole == nil) != (chunked == nil) {
					t.Fatalf("chunks of %d:\n%s(error %v)\nwhole:\n%s(error %v)", n, diagLines(gotDiags), gotErr, diagLines(wantDiags), wantErr)
				}
			}
		})
	}
}

// TestChunkedTenThousandRules compares the benchmark's 10,000-rule file
// loaded whole and in chunks of the default size.
func TestChunkedTenThousandRules(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 rules four times")
	}
	_, o := benchLoad(t, benchRulesFile(mustCatalog(t).Types(), 10000), nil)
	loadBoth(t, o, rulesPerChunk)
}
