package router

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
)

func TestRetentionMessages(t *testing.T) {
	base := "sources:\n  lago:\n    lago: {}\nchannels:\n  ops:\n    slack: {token: x, channel: \"#o\"}\nrules:\n  - name: r\n    when: \"true\"\n    send: [{to: ops}]\n"
	cases := []struct {
		name, extra string
		want        time.Duration
		err         string
	}{
		{"default", "", 0, ""},
		{"days", "retention: {messages: 30d}\n", 30 * 24 * time.Hour, ""},
		{"hours", "retention:\n  messages: 36h\n", 36 * time.Hour, ""},
		{"too short", "retention: {messages: 2h}\n", 0, "rules.yaml:11:12: retention.messages must be at least 24h"},
		{"unknown key", "retention: {deliveries: 3d}\n", 0, `unknown key "deliveries"`},
		{"bad", "retention: {messages: soon}\n", 0, `invalid duration "soon"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(p, []byte(base+c.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			rs, _, err := Load(LoadOptions{Builder: wiring.Builder{}, RulesPath: p, TemplatesDir: filepath.Join(dir, "templates")})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rs.MessageRetention != c.want {
				t.Errorf("retention %s, want %s", rs.MessageRetention, c.want)
			}
		})
	}
}
