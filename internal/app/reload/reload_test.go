package reload

import (
	"encoding/json"

	"github.com/switchboard-dev/switchboard/router"

	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// writeConfig writes a rules file and templates into a new directory and
// returns the options that load them.
func writeConfig(t *testing.T, rules string, templates map[string]string) router.LoadOptions {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	td := filepath.Join(dir, "templates")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range templates {
		if err := os.WriteFile(filepath.Join(td, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return router.LoadOptions{Builder: wiring.Builder{}, RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: td, Env: noEnv}
}

// msg is a message with body as its payload.
func msg(t *testing.T, body string) *router.Message {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal([]byte(body), &data); err != nil {
		t.Fatal(err)
	}
	return &router.Message{ID: "m1", Source: "lago", ReceivedAt: time.Unix(1700000000, 0).UTC(), Body: []byte(body), Data: data}
}

func rulesWithMessage(text string) string {
	return `
channels:
  ops:
    slack: {token: xoxb-test, channel: "#ops"}
rules:
  - name: r
    when: "true"
    send: [{to: ops, message: "` + text + `"}]
`
}

// renderedText routes a message through the current rules and returns
// the text of the first delivery.
func renderedText(t *testing.T, r *Reloader) string {
	t.Helper()
	res := r.Current().Route(msg(t, `{"webhook_type":"x"}`))
	if len(res.Deliveries) == 0 {
		return ""
	}
	return res.Deliveries[0].Parts.Text
}

// writeAtomic saves like an editor: write a temp file, rename it over.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, 10*time.Second, cond)
}

func startWatch(t *testing.T, o router.LoadOptions) (*Reloader, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry())
	r, err := New(o, slog.New(slog.DiscardHandler), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Debounce = 50 * time.Millisecond
	r.Poll = time.Hour // events only: the test must prove the watcher works
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Watch(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	time.Sleep(100 * time.Millisecond) // let the watcher register
	return r, m
}

// TestReloadEditorSave: an editor-style save (temp file + rename) takes
// effect; a broken save is rejected, the old rules keep routing, the
// metric and the status show it; fixing the file recovers.
func TestReloadEditorSave(t *testing.T) {
	o := writeConfig(t, rulesWithMessage("one"), nil)
	r, m := startWatch(t, o)
	if renderedText(t, r) != "one" {
		t.Fatal("initial rules not loaded")
	}
	writeAtomic(t, o.RulesPath, rulesWithMessage("two"))
	waitFor(t, "reload to two", func() bool { return renderedText(t, r) == "two" })
	if testutil.ToFloat64(m.ConfigLastReloadSuccessful) != 1 {
		t.Fatal("reload metric not 1")
	}

	writeAtomic(t, o.RulesPath, rulesWithMessage("three")+"\n  - name: bad\n    when: 'webhook_type =='\n    send: [{to: ops}]\n")
	waitFor(t, "rejection", func() bool { return !r.Status().OK })
	if renderedText(t, r) != "two" {
		t.Fatal("a broken file replaced the working rules")
	}
	if testutil.ToFloat64(m.ConfigLastReloadSuccessful) != 0 {
		t.Fatal("reload metric not 0 after a rejected file")
	}
	st := r.Status()
	if len(st.Errors) == 0 || st.Errors[0].Line == 0 || st.Errors[0].Rule != "bad" {
		t.Fatalf("status errors %+v", st.Errors)
	}

	writeAtomic(t, o.RulesPath, rulesWithMessage("four"))
	waitFor(t, "recovery", func() bool { return renderedText(t, r) == "four" && r.Status().OK })
}

// TestReloadTemplateChange: editing a template reloads too.
func TestReloadTemplateChange(t *testing.T) {
	o := writeConfig(t, `
channels:
  ops:
    slack: {token: xoxb-test, channel: "#ops"}
rules:
  - name: r
    when: "true"
    send: [{to: ops, template: t.tmpl}]
`, map[string]string{"t.tmpl": `{{ define "text" }}before{{ end }}`})
	r, _ := startWatch(t, o)
	writeAtomic(t, filepath.Join(o.TemplatesDir, "t.tmpl"), `{{ define "text" }}after{{ end }}`)
	waitFor(t, "template reload", func() bool { return renderedText(t, r) == "after" })
}

// TestReloadKubernetesSymlinkSwap: a ConfigMap volume holds
// rules.yaml -> ..data/rules.yaml, and ..data -> ..<timestamp>; an update
// creates a new timestamped directory and renames a new ..data link over
// the old one. Watching the directory catches it.
func TestReloadKubernetesSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, content string) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "rules.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("..2026_01_01_00_00_00.1", rulesWithMessage("v1"))
	if err := os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/rules.yaml", filepath.Join(dir, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	o := router.LoadOptions{Builder: wiring.Builder{}, RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: filepath.Join(dir, "templates"), Env: noEnv}
	r, _ := startWatch(t, o)
	if renderedText(t, r) != "v1" {
		t.Fatal("initial")
	}
	mk("..2026_01_01_00_01_00.2", rulesWithMessage("v2"))
	tmpLink := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..2026_01_01_00_01_00.2", tmpLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1"))
	waitFor(t, "symlink swap reload", func() bool { return renderedText(t, r) == "v2" })
}

// TestForcedReloadAndUnchangedFile: Reload(force) reloads unchanged files;
// a non-forced reload of unchanged content is a no-op.
func TestForcedReloadAndUnchangedFile(t *testing.T) {
	o := writeConfig(t, rulesWithMessage("x"), nil)
	swaps := 0
	r, err := New(o, slog.New(slog.DiscardHandler), nil, func(_, _ *router.Ruleset) { swaps++ })
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload("poll", false); err != nil || swaps != 0 {
		t.Fatalf("unchanged reload swapped (%d) or failed: %v", swaps, err)
	}
	if err := r.Reload("SIGHUP", true); err != nil || swaps != 1 {
		t.Fatalf("forced reload: swaps %d, err %v", swaps, err)
	}
}

// TestInitialLoadFailure: with no working configuration to fall back on,
// the reloader refuses to start and says why.
func TestInitialLoadFailure(t *testing.T) {
	o := writeConfig(t, "rules: [", nil)
	_, err := New(o, slog.New(slog.DiscardHandler), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:1:") {
		t.Fatalf("err = %v", err)
	}
}
