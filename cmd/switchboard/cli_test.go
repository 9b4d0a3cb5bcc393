package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the binary and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestCheckCommand: exit 0 on the example with its variables set; exit 1
// with every problem, each with file:line:column, on a broken file.
func TestCheckCommand(t *testing.T) {
	env := []string{"LAGO_WEBHOOK_SECRET=x", "SLACK_BOT_TOKEN=xoxb-1", "SMTP_USER=u", "SMTP_PASSWORD=p", "CRM_TOKEN=t",
		"CRM_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	code, out, errOut := runCLI(t, env, "check", "--rules", "../../rules.example.yaml", "--templates", "../../templates")
	if code != 0 || !strings.Contains(out, "OK — 8 rules, 3 channels, 1 source") {
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
}

func TestUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, out, _ := runCLI(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "switchboard ") {
		t.Errorf("version: %d %q", code, out)
	}
}
