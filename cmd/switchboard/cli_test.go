package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/cli")

// cli is one run of the binary.
type cli struct {
	dir  string   // working directory (default: this package's)
	env  []string // added to a clean environment (no SWITCHBOARD_* of the machine's)
	args []string
}

// result is what a run printed and how it exited.
type result struct {
	code           int
	stdout, stderr string
}

func (c cli) run(t *testing.T) result {
	t.Helper()
	cmd := exec.Command(binary, c.args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHBOARD_") && !strings.HasPrefix(kv, "USER=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.env...)
	var out, errb testkit.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// runCLI runs the binary here and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	r := cli{env: env, args: args}.run(t)
	return r.code, r.stdout, r.stderr
}

// String is the form golden files hold: the command, its exit code and
// both outputs.
func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n-- stdout --\n" + r.stdout + "-- stderr --\n" + r.stderr
}

// golden compares got with testdata/cli/<name>.golden (rewritten with
// -update; read the diff). Temporary directories read $DIR.
func golden(t *testing.T, name, got string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		got = strings.ReplaceAll(got, d, "$DIR")
	}
	path := filepath.Join("testdata", "cli", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// exampleEnv sets every variable rules.example.yaml reads.
var exampleEnv = []string{"LAGO_WEBHOOK_SECRET=x", "SLACK_BOT_TOKEN=xoxb-1", "SMTP_USER=u", "SMTP_PASSWORD=p", "CRM_TOKEN=t",
	"CRM_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}

// TestCheckCommand: exit 0 on the example with its variables set; exit 1
// with every problem, each with file:line:column, on a broken file.
func TestCheckCommand(t *testing.T) {
	code, out, errOut := runCLI(t, exampleEnv, "check", "--rules", "../../rules.example.yaml", "--templates", "../../templates")
	if code != 0 || !strings.Contains(out, "OK — 11 rules, 3 channels, 1 source") || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	writeFile(t, rules, `channels:
  ops:
    slack: {token: xoxb-1, channel: "#ops"}
rules:
  - name: big-invoice
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >=
    send: [{to: ops}]
  - name: wallet
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: slak}]
  - name: typo
    when: webhook_type == "invoice.created" && invoice.total_amout_cents > 0
    send: [{to: ops, template: nope.tmpl}]
`)
	code, out, errOut = runCLI(t, nil, "check", "--rules", rules, "--templates", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		rules + `:6:76: rule "big-invoice": when: unexpected token EOF`,
		rules + `:10:17: rule "wallet": unknown channel "slak"`,
		rules + `:12:56: warning: rule "typo": when: invoice.total_amout_cents does not exist in invoice.created payloads`,
		rules + `:13:32: rule "typo": template "nope.tmpl" not found`,
		rules + `: 3 errors`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}

// TestCheckFiles: check checks the files it is given, every one of them,
// never ./rules.yaml instead; a missing file is named as missing.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), "rules:\n  - name: fine\n    when: \"true\"\n    send: [{to: ops}]\nchannels:\n  ops:\n    slack: {webhook_url: \"https://hooks.slack.com/services/T/B/x\"}\n")
	writeFile(t, filepath.Join(dir, "b2.yaml"), "rules:\n  - name: broken\n    when: webhook_type ==\n    send: [{to: nowhere}]\n")
	// A good ./rules.yaml must not hide a broken b2.yaml.
	r := cli{dir: dir, args: []string{"check", "b2.yaml"}}.run(t)
	golden(t, "check-named-file", r.String(), dir)
	r = cli{dir: dir, args: []string{"check", "rules.yaml", "b2.yaml", "missing.yaml"}}.run(t)
	golden(t, "check-several-files", r.String(), dir)
	r = cli{dir: dir, args: []string{"check"}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, "rules.yaml: OK — 1 rule, 1 channel, 0 sources") {
		t.Errorf("check with no argument checks --rules (rules.yaml):\n%s", r)
	}
	r = cli{dir: dir, args: []string{"check", "--rules", "b2.yaml"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "b2.yaml: 2 errors") {
		t.Errorf("check --rules b2.yaml:\n%s", r)
	}
}

// TestCheckFindsWhatTestFinds: type mismatches, the arguments of template
// functions, misspelt template fields and every bad duration of a rule
// are found without a message.
func TestCheckFindsWhatTestFinds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "templates", "invoice.tmpl"),
		"{{ define \"text\" }}Invoice {{ .invocie.number }}: {{ money .invoice.total_amount_cents }}{{ end }}\n")
	writeFile(t, filepath.Join(dir, "rules.yaml"), `channels:
  ops:
    slack: {webhook_url: "https://hooks.slack.com/services/T/B/x"}
rules:
  - name: quoted-number
    when: webhook_type == "invoice.created" && invoice.total_amount_cents > "1000000"
    send: [{to: ops}]
  - name: money-and-typo
    when: webhook_type == "invoice.created"
    send: [{to: ops, template: invoice.tmpl}]
  - name: inline-typo
    when: webhook_type == "invoice.created"
    send: [{to: ops, message: "Invoice {{ .invocie.number }}"}]
  - name: durations
    when: webhook_type == "invoice.created"
    throttle: {every: 6 hours}
    group: {wait: soon, interval: 5m}
    send: [{to: slak}]
  - name: trial-age
    when: webhook_type == "invoice.created" && hours_since(invoice.trial_ended_at) > 1
    send: [{to: ops}]
  - name: needs-a-field
    when: webhook_type == "invoice.created"
    send: [{to: ops, message: '{{ required "the invoice has no coupon" .invoice.coupon_code }}'}]
  - name: broken-blocks
    when: object_type == "order"
    send: [{to: ops, template: blocks.tmpl}]
`)
	writeFile(t, filepath.Join(dir, "templates", "blocks.tmpl"),
		"{{ define \"text\" }}Order{{ end }}{{ define \"blocks\" }}[{\"type\": \"section\", \"text\": {{ .order.id }}]{{ end }}\n")
	r := cli{dir: dir, args: []string{"check", "rules.yaml"}}.run(t)
	golden(t, "check-what-test-finds", r.String(), dir)
}

// TestTemplatesNextToRules: the templates directory is found next to the
// rules file, wherever the command runs; a missing one is named.
func TestTemplatesNextToRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf", "templates", "hello.tmpl"), "{{ define \"text\" }}Hello {{ .invoice.number }}{{ end }}\n")
	writeFile(t, filepath.Join(dir, "conf", "rules.yaml"), `channels:
  ops:
    slack: {webhook_url: "https://hooks.slack.com/services/T/B/x"}
rules:
  - name: hello
    when: webhook_type == "invoice.created"
    send: [{to: ops, template: hello.tmpl}]
`)
	elsewhere := t.TempDir()
	r := cli{dir: elsewhere, args: []string{"check", filepath.Join(dir, "conf", "rules.yaml")}}.run(t)
	if r.code != 0 {
		t.Errorf("templates next to the rules file not found:\n%s", r)
	}
	r = cli{dir: elsewhere, args: []string{"test", "--rules", filepath.Join(dir, "conf", "rules.yaml"),
		filepath.Join(mustAbs(t, "../../internal/lago/testdata"), "invoice.created.json")}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, "text: Hello ACME-2025-0042") {
		t.Errorf("test with templates next to the rules file:\n%s", r)
	}
	r = cli{dir: elsewhere, args: []string{"check", "--templates", "nowhere", filepath.Join(dir, "conf", "rules.yaml")}}.run(t)
	golden(t, "check-missing-templates", r.String(), dir)
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCheckExampleWithoutSecrets: the example checks without its secrets
// (warnings, exit 0), as promtool checks a file; --require-env makes them
// errors, as serve without --dry-run has them.
func TestCheckExampleWithoutSecrets(t *testing.T) {
	r := cli{args: []string{"check", "../../rules.example.yaml"}}.run(t)
	golden(t, "check-example-without-secrets", r.String())
	r = cli{args: []string{"check", "--require-env", "../../rules.example.yaml"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "environment variable SLACK_BOT_TOKEN is not set (set it") ||
		!strings.Contains(r.stderr, "../../rules.example.yaml: 6 errors") {
		t.Errorf("check --require-env:\n%s", r)
	}
	r = cli{env: exampleEnv, args: []string{"check", "--require-env", "../../rules.example.yaml"}}.run(t)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("check --require-env with the variables set:\n%s", r)
	}
}

// TestTestCommand prints the matched rules and the rendered notifications
// and sends nothing (no variables are set, no peer exists).
func TestTestCommand(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "test", "--rules", "../../rules.example.yaml", "--templates", "../../templates",
		"../../internal/lago/testdata/invoice.created.json", "../../internal/lago/testdata/customer.created.json",
		"../../internal/lago/testdata/invoice.drafted.json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`matched rule "large-invoice"`,
		"-> finance (email, template large_invoice.tmpl)",
		"subject: Large invoice ACME-2025-0042: $18,747.30 for Acme Robotics",
		"-> billing-alerts (slack, message)",
		"text: :moneybag: Invoice *ACME-2025-0042* for Acme Robotics: $18,747.30",
		`matched rule "customers-to-crm"`,
		"-> crm (http, default)",
		"no rule matched",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("test output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runCLI(t, nil, "test", "--rules", "../../rules.example.yaml", "--templates", "../../templates", "nope.json"); code != 1 {
		t.Errorf("a missing message file: exit %d", code)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.json"), "{\n  \"webhook_type\": \"invoice.created\",\n  \"invoice\": {\"number\": 1,}\n}\n")
	writeFile(t, filepath.Join(dir, "list.json"), "[1, 2]\n")
	r := cli{dir: dir, args: []string{"test", "--rules", mustAbs(t, "../../rules.example.yaml"), "bad.json", "list.json"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.json:3:27: not valid JSON: invalid character '}'") ||
		!strings.Contains(r.stderr, "list.json: not a JSON object") {
		t.Errorf("message files that are not JSON objects:\n%s", r)
	}
}

// testRules has a rule whose condition fails at run time, one whose
// template fails, and one that does not match.
const testRules = `channels:
  ops:
    slack: {webhook_url: "https://hooks.slack.com/services/T/B/x"}
rules:
  - name: large-invoice
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 100000000
    send: [{to: ops}]
  - name: any-invoice
    when: webhook_type == "invoice.created" && invoice.currency == "USD"
    send: [{to: ops, message: "Invoice {{ .invoice.number }} & more"}]
  - name: trial-age
    when: webhook_type == "invoice.created" && hours_since(invoice.trial_ended_at) > 1
    send: [{to: ops}]
  - name: needs-a-field
    when: webhook_type == "invoice.created"
    send: [{to: ops, message: '{{ required "the invoice has no coupon" .invoice.coupon_code }}'}]
`

// TestTestFailsCI: test exits 1 on a condition error or a would-be dead
// letter, says why each rule did not match, and checks expectations.
func TestTestFailsCI(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), testRules)
	msg := mustAbs(t, "../../internal/lago/testdata/invoice.created.json")
	writeFile(t, filepath.Join(dir, "msg.json"), string(fixture(t, "invoice.created")))
	r := cli{dir: dir, args: []string{"test", "msg.json"}}.run(t)
	golden(t, "test-errors-and-dead-letters", r.String(), dir)

	// Only the working rules: exit 0; then expectations.
	writeFile(t, filepath.Join(dir, "ok.yaml"), strings.Split(testRules, "  - name: trial-age")[0])
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no expectations", nil, 0, ""},
		{"expected match", []string{"--expect-match", "any-invoice"}, 0, ""},
		{"expected match missing", []string{"--expect-match", "large-invoice"}, 1, `expected rule "large-invoice" to match; it did not`},
		{"expected no match", []string{"--expect-no-match", "large-invoice"}, 0, ""},
		{"unexpected match", []string{"--expect-no-match", "any-invoice,large-invoice"}, 1, `expected rule "any-invoice" not to match; it did`},
		{"unknown rule", []string{"--expect-match", "nope"}, 1, `no rule named "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"test", "--rules", "ok.yaml", msg}, tc.args...)
			r := cli{dir: dir, args: args}.run(t)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", r.code, tc.code, tc.want, r)
			}
			if !strings.Contains(r.stdout+r.stderr, `not matched "large-invoice": invoice.total_amount_cents >= 100000000 is false`) &&
				!strings.Contains(r.stderr, "no rule named") {
				t.Errorf("the text output does not say why large-invoice did not match:\n%s", r)
			}
		})
	}
	// JSON keeps & as it is, and errors is a list even when empty.
	r = cli{dir: dir, args: []string{"test", "--json", "--rules", "ok.yaml", msg}}.run(t)
	if r.code != 0 || strings.Contains(r.stdout, `\u0026`) || !strings.Contains(r.stdout, `"errors": []`) ||
		!strings.Contains(r.stdout, `"text": "Invoice ACME-2025-0042 & more"`) || !strings.Contains(r.stdout, `"problems": []`) {
		t.Errorf("test --json:\n%s", r)
	}
}

// TestMissingRulesFile: check and test name the missing file, with exit 1.
func TestMissingRulesFile(t *testing.T) {
	dir := t.TempDir()
	msg := mustAbs(t, "../../internal/lago/testdata/invoice.created.json")
	var all strings.Builder
	for _, args := range [][]string{{"check"}, {"test", msg}, {"test", "--rules", "other.yaml", msg}} {
		r := cli{dir: dir, args: args}.run(t)
		all.WriteString("$ switchboard " + strings.Join(args, " ") + "\n" + r.String() + "\n")
	}
	golden(t, "missing-rules-file", strings.ReplaceAll(all.String(), msg, "$MSG"), dir)
}

// TestReadOnlyCommandsCreateNoStore: commands that work on the store serve
// keeps never create one; they say where they looked, and exit 1.
func TestReadOnlyCommandsCreateNoStore(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), testRules)
	var all strings.Builder
	for _, args := range [][]string{
		{"deliveries"},
		{"deliveries", "show", "019a"},
		{"replay", "--all-dead"},
		{"silence", "list"},
		{"silence", "expire", "sil-01"},
		{"silence", "add", "--rule", "any-invoice", "--for", "1h", "--reason", "test"},
		{"deliveries", "--data", "elsewhere"},
	} {
		r := cli{dir: dir, args: args}.run(t)
		all.WriteString("$ switchboard " + strings.Join(args, " ") + "\n" + r.String() + "\n")
	}
	golden(t, "no-store", all.String(), dir)
	for _, d := range []string{"data", "elsewhere"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("%s was created (%v)", d, err)
		}
	}
}

// TestHelp: every command has help in one style, the same from "help CMD",
// "CMD --help" and "CMD -h", on stdout with exit 0.
func TestHelp(t *testing.T) {
	var all strings.Builder
	for _, name := range []string{"serve", "check", "test", "catalog", "deliveries", "deliveries show", "replay", "backtest", "unmatched",
		"silence add", "silence list", "silence expire", "version"} {
		words := strings.Fields(name)
		h := cli{args: append([]string{"help"}, words...)}.run(t)
		if h.code != 0 || h.stderr != "" {
			t.Errorf("help %s: %s", name, h)
		}
		for _, flag := range []string{"--help", "-h"} {
			r := cli{args: append(append([]string(nil), words...), flag)}.run(t)
			if r != h {
				t.Errorf("%s %s differs from help %s:\n%s\n%s", name, flag, name, r, h)
			}
		}
		for _, want := range []string{"\nUsage:\n  switchboard " + name, "\nExample:\n  switchboard "} {
			if !strings.Contains(h.stdout, want) {
				t.Errorf("help %s lacks %q", name, want)
			}
		}
		if strings.Contains(h.stdout, "  -") && !strings.Contains(h.stdout, "  --") {
			t.Errorf("help %s shows single-dash flags", name)
		}
		all.WriteString("$ switchboard help " + name + "\n" + h.stdout + "\n")
	}
	golden(t, "help", all.String())
	r := cli{args: []string{"help"}}.run(t)
	golden(t, "overview", r.String())
	for _, args := range [][]string{{"silence", "--help"}, {"help", "silence"}} {
		if r := (cli{args: args}).run(t); r.code != 0 || !strings.Contains(r.stdout, "switchboard silence add") {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// TestUsageErrors: a wrong command line exits 2 for every command, with
// the problem and where to find the usage on stderr.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:\n  switchboard COMMAND"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve", "--bogus"}, "switchboard serve: unknown flag --bogus"},
		{[]string{"serve", "extra"}, `serve takes no arguments (got "extra")`},
		{[]string{"check", "--bogus"}, "switchboard check: unknown flag --bogus"},
		{[]string{"test"}, "give at least one message file"},
		{[]string{"test", "--nope", "m.json"}, "unknown flag --nope"},
		{[]string{"catalog", "a", "b"}, "give at most one webhook type"},
		{[]string{"deliveries", "--limit", "x"}, `invalid value "x" for flag --limit`},
		{[]string{"deliveries", "--status", "lost"}, "--status must be one of"},
		{[]string{"deliveries", "show"}, "give one delivery ID"},
		{[]string{"replay"}, "give delivery IDs, --all-dead, or filters"},
		{[]string{"silence"}, "give a subcommand"},
		{[]string{"silence", "mute"}, `unknown command "silence mute"`},
		{[]string{"silence", "add", "extra"}, "silence add takes no arguments"},
		{[]string{"silence", "add", "--force", "--rule", "r", "--for", "1h"}, "--reason: a reason is required"},
		{[]string{"silence", "add", "--force", "--rule", "r", "--reason", "x"}, "--for: a positive duration"},
		{[]string{"silence", "add", "--force", "--rule", "r", "--reason", "x", "--for", "soon"}, "--for: a positive duration"},
		{[]string{"silence", "expire"}, "give at least one silence ID"},
		{[]string{"version", "extra"}, "version takes no arguments"},
	} {
		r := cli{dir: t.TempDir(), args: tc.args}.run(t)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("switchboard %s: exit %d, want 2 and %q:\n%s", strings.Join(tc.args, " "), r.code, tc.want, r)
		}
	}
	if r := (cli{args: []string{"version"}}).run(t); r.code != 0 || !strings.HasPrefix(r.stdout, "switchboard ") {
		t.Errorf("version: %s", r)
	}
	if r := (cli{args: []string{"help", "help"}}).run(t); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
		t.Errorf("help help: %s", r)
	}
}

// TestCatalog: Lago's types and their example payloads from the CLI.
func TestCatalog(t *testing.T) {
	r := cli{args: []string{"catalog"}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, "invoice.created") || !strings.Contains(r.stdout, "wallet.depleted_ongoing_balance") {
		t.Errorf("catalog:\n%s", r)
	}
	r = cli{args: []string{"catalog", "invoice.created"}}.run(t)
	if r.code != 0 || r.stdout != string(fixture(t, "invoice.created")) {
		t.Errorf("catalog invoice.created is not the example payload:\n%s", r)
	}
	r = cli{args: []string{"catalog", "--json", "invoice.created"}}.run(t)
	if r.code != 0 || !strings.Contains(r.stdout, `"webhook_type": "invoice.created"`) || !strings.Contains(r.stdout, `"example": {`) {
		t.Errorf("catalog --json invoice.created:\n%s", r)
	}
	r = cli{args: []string{"catalog", "invoice.creatd"}}.run(t)
	if r.code != 1 || !strings.Contains(r.stderr, `"invoice.creatd" is not a Lago webhook type`) {
		t.Errorf("catalog of an unknown type:\n%s", r)
	}
}
