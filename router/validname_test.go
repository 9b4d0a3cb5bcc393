package router

import (
	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDotNamesRefused checks that a source or channel named "." or ".."
// fails check with the key's position: /webhooks/.. can never be reached.
func TestDotNamesRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	src := `sources:
  "..":
    generic: {}
  ".":
    generic: {}
channels:
  "..":
    http:
      url: https://example.com/hook
rules:
  - name: r
    when: "true"
    send:
      - to: ".."
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: filepath.Join(dir, "templates"), Env: testEnv(nil)})
	if err == nil {
		t.Fatal("Load accepted sources and channels named . and ..")
	}
	var got []string
	for _, d := range diags {
		if d.Severity == config.SeverityError {
			got = append(got, d.String())
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		path + `:2:3: source name "..": use letters, digits, '-' and '_' (it is a URL path segment)`,
		path + `:4:3: source name ".": use letters, digits, '-' and '_' (it is a URL path segment)`,
		path + `:7:3: channel name "..": use letters, digits, '-', '_' and '.'`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	for _, name := range []string{".", ".."} {
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true", name)
		}
	}
	for _, name := range []string{"a.b", ".a", "a..b", "lago"} {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false", name)
		}
	}
}
