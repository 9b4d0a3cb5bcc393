package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// storeRules throttle one rule, so that `test` against the store says
// what the throttle would do now.
const storeRules = `sources:
  lago:
    lago: {}
channels:
  ops:
    slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops"}
rules:
  - name: wallet-depleted
    when: webhook_type == "wallet.depleted_ongoing_balance"
    throttle: {key: "{{ .wallet.external_customer_id }}", every: 6h}
    send: [{to: ops}]
`

// TestCommandsOnAStore runs the commands that read and change the store of
// a real server: dry-run deliveries recorded as dry_run, deliveries show
// with a short ID, test reading SWITCHBOARD_DATA, silences refused for an
// unknown rule and expired by a short ID.
func TestCommandsOnAStore(t *testing.T) {
	s := startServer(t, config{rules: storeRules, args: []string{"--dry-run"}})
	data := filepath.Join(s.dir, "data")
	env := []string{"SWITCHBOARD_DATA=" + data, "SWITCHBOARD_RULES=" + filepath.Join(s.dir, "rules.yaml")}
	wallet := fixture(t, "wallet.depleted_ongoing_balance")
	if r := s.do("POST", "/webhooks/lago", wallet, "X-Lago-Unique-Key", "k1"); r.code != 202 {
		t.Fatalf("%d %s", r.code, r.body)
	}

	// Logged, not sent: recorded as dry_run, never as delivered.
	var list []map[string]any
	testkit.Eventually(t, "a dry_run delivery", 10*time.Second, func() bool {
		r := cli{env: env, args: []string{"deliveries", "--json"}}.run(t)
		list = nil
		_ = json.Unmarshal([]byte(r.stdout), &list)
		return len(list) == 1 && list[0]["state"] == "dry_run"
	})
	if list[0]["status"] != "dry_run" {
		t.Errorf("the JSON carries the state as status too: %v", list[0])
	}
	id := list[0]["id"].(string)
	r := cli{env: env, args: []string{"deliveries", "--state", "delivered"}}.run(t)
	if r.code != 0 || strings.Contains(r.stdout, id) {
		t.Errorf("a dry-run delivery listed as delivered:\n%s", r)
	}
	r = cli{env: env, args: []string{"deliveries", "--status", "dry_run"}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "STATE") {
		t.Errorf("deliveries --status dry_run:\n%s", r)
	}
	metrics := s.do("GET", "/metrics", nil).body
	mustContain(t, "metrics", metrics, `switchboard_deliveries_total{channel="ops",outcome="dry_run"} 1`)
	if strings.Contains(metrics, `switchboard_deliveries_total{channel="ops",outcome="delivered"}`) {
		t.Error("a dry-run delivery counted as delivered")
	}

	// deliveries show, by a short ID.
	r = cli{env: env, args: []string{"deliveries", "show", id[:13]}}.run(t)
	if r.code != 0 {
		t.Fatalf("deliveries show %s: %s", id[:13], r)
	}
	mustContain(t, "deliveries show", r.stdout, "ID:", id, "State:", "dry_run", "Rule:", "wallet-depleted",
		"Channel:", "ops", "text: ", "Attempts: 1", "dry_run")
	r = cli{env: env, args: []string{"deliveries", "show", "--json", id}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, `"attempts": [`) || strings.Contains(r.stdout, `\u0026`) {
		t.Errorf("deliveries show --json:\n%s", r)
	}
	if r := (cli{env: env, args: []string{"deliveries", "show", "ffff"}}).run(t); r.code != 1 || !strings.Contains(r.stderr, "ffff: no delivery with this ID") {
		t.Errorf("an unknown ID:\n%s", r)
	}

	// test reads SWITCHBOARD_DATA as serve does: the throttle window is open.
	msg := filepath.Join(t.TempDir(), "wallet.json")
	writeFile(t, msg, string(wallet))
	r = cli{env: env, args: []string{"test", msg}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, `now: suppress (throttled: key "acme_1042" already notified`) {
		t.Errorf("test with SWITCHBOARD_DATA does not see the throttle window:\n%s", r)
	}
	// A store named with --data must exist; one from the environment is
	// consulted when it does, and test says where it looked.
	nothing := filepath.Join(s.dir, "nothing-here")
	r = cli{args: []string{"test", "--rules", filepath.Join(s.dir, "rules.yaml"), "--data", nothing, msg}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "no store at "+filepath.Join(nothing, "switchboard.db")) {
		t.Errorf("test --data with no store there:\n%s", r)
	}
	r = cli{env: []string{"SWITCHBOARD_DATA=" + nothing}, args: []string{"test", "--rules", filepath.Join(s.dir, "rules.yaml"), msg}}.run(t)
	if r.code != 0 || !strings.Contains(r.stderr, "note: no store at "+filepath.Join(nothing, "switchboard.db")) ||
		!strings.Contains(r.stdout, `matched rule "wallet-depleted"`) {
		t.Errorf("test with a SWITCHBOARD_DATA that holds no store:\n%s", r)
	}
	if _, err := os.Stat(nothing); !os.IsNotExist(err) {
		t.Errorf("test created %s (%v)", nothing, err)
	}

	// A silence of a rule that does not exist mutes nothing: refused, as
	// when the rules file cannot be read.
	r = cli{env: env, args: []string{"silence", "add", "--rule", "wallet-depletd", "--for", "2h", "--reason", "migration"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, `no rule named "wallet-depletd"`) {
		t.Errorf("silence of an unknown rule:\n%s", r)
	}
	r = cli{env: []string{"SWITCHBOARD_DATA=" + data}, dir: t.TempDir(), args: []string{"silence", "add", "--rule", "wallet-depleted", "--for", "2h", "--reason", "migration"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, `cannot check that rule "wallet-depleted" exists: rules.yaml does not load (rules.yaml: the rules file does not exist)`) {
		t.Errorf("silence when the rules file cannot be read:\n%s", r)
	}
	r = cli{env: []string{"SWITCHBOARD_DATA=" + data}, dir: t.TempDir(), args: []string{"silence", "add", "--force", "--rule", "wallet-depleted", "--for", "1h", "--reason", "rules elsewhere"}}.run(t)
	if r.code != 0 {
		t.Errorf("silence add --force:\n%s", r)
	}
	var ids []string
	for i := 0; i < 2; i++ {
		r = cli{env: env, args: []string{"silence", "add", "--rule", "wallet-depleted", "--for", "2h", "--reason", "migration", "--author", "alice"}}.run(t)
		m := regexp.MustCompile(`^(sil-[0-9a-f-]+) silences rule wallet-depleted until `).FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("silence add:\n%s", r)
		}
		ids = append(ids, m[1])
	}
	// "sil-" is the start of every silence: ambiguous, nothing expired.
	r = cli{env: env, args: []string{"silence", "expire", "sil-"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, `"sil-" is ambiguous`) {
		t.Errorf("an ambiguous ID:\n%s", r)
	}
	// The start of an ID, as listings show it ("sil-01a2…"), is enough.
	short := ids[0][:len(ids[0])-6] + "…"
	if strings.HasPrefix(ids[1], strings.TrimSuffix(short, "…")) {
		t.Skipf("two silences share the prefix %s", short)
	}
	r = cli{env: env, args: []string{"silence", "expire", short}}.run(t)
	if r.code != 0 || !strings.HasPrefix(r.stdout, ids[0]+" expired at ") {
		t.Errorf("silence expire %s:\n%s", short, r)
	}
	r = cli{env: env, args: []string{"silence", "list", "--json"}}.run(t)
	var sils []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sils); err != nil || len(sils) != 2 {
		t.Fatalf("silence list --json: %v\n%s", err, r)
	}
	for _, sl := range sils {
		if sl["id"] == ids[0] || sl["state"] != "active" {
			t.Errorf("silence list after expiring %s: %v", ids[0], sl)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "switchboard.db")); err != nil {
		t.Fatal(err)
	}
}
