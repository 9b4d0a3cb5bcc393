package router

import (
	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"encoding/json"
	"strings"
	"testing"
	"time"
)

var exampleEnv = map[string]string{
	"LAGO_WEBHOOK_SECRET": "lago-secret-value", "SLACK_BOT_TOKEN": "xoxb-1-example",
	"SMTP_USER": "billing-bot", "SMTP_PASSWORD": "smtp-password-value",
	"CRM_TOKEN": "crm-token-value", "CRM_SIGNING_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

func loadExample(t *testing.T, dryRun bool, env map[string]string) (*Ruleset, []config.Diagnostic) {
	t.Helper()
	rs, diags, err := Load(LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: "../rules.example.yaml", TemplatesDir: "../templates",
		Env: testEnv(env), DryRun: dryRun, Catalog: mustCatalog(t),
	})
	if err != nil {
		t.Fatalf("rules.example.yaml does not load: %v", err)
	}
	return rs, diags
}

// TestExampleRulesCheck keeps rules.example.yaml and templates/ valid: with
// every variable set there is nothing to report, and under --dry-run with
// nothing set there are only warnings.
func TestExampleRulesCheck(t *testing.T) {
	_, diags := loadExample(t, false, exampleEnv)
	for _, d := range diags {
		t.Errorf("unexpected diagnostic: %s", d)
	}
	_, diags = loadExample(t, true, map[string]string{})
	if len(diags) == 0 {
		t.Fatal("expected warnings about unset variables under --dry-run")
	}
	for _, d := range diags {
		if d.Severity != config.SeverityWarning {
			t.Errorf("dry run: %s", d)
		}
	}
}

func fixture(t *testing.T, webhookType string) ([]byte, map[string]any) {
	t.Helper()
	raw, ok := mustCatalog(t).Example(webhookType)
	if !ok {
		t.Fatalf("no fixture for %s", webhookType)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	return raw, data
}

func route(t *testing.T, rs *Ruleset, webhookType string) Result {
	t.Helper()
	raw, data := fixture(t, webhookType)
	return rs.Route(&Message{ID: "msg-1", Source: "lago", ReceivedAt: time.Unix(1700000000, 0), Body: raw, Data: data})
}

// TestExampleRulesRoute sends the fixtures through the example rules and
// checks which rules fire and what they render.
func TestExampleRulesRoute(t *testing.T) {
	rs, _ := loadExample(t, false, exampleEnv)
	tests := []struct {
		webhookType string
		rules       []string
		contains    map[string][]string // channel → substrings of its main part
	}{
		{"wallet.depleted_ongoing_balance", []string{"wallet-depleted"}, nil},
		{"invoice.payment_failure", []string{"payment-failed"}, nil},
		{"invoice.payment_status_updated", []string{"payment-succeeded"}, nil},
		{"invoice.payment_dispute_lost", []string{"payment-dispute-lost"}, nil},
		{"wallet_transaction.updated", []string{"wallet-topped-up"}, nil},
		{"invoice.created", []string{"large-invoice"}, nil},
		{"subscription.terminated", []string{"subscription-terminated"}, nil},
		{"credit_note.refund_failure", []string{"refund-failed"}, nil},
		{"customer.created", []string{"customers-to-crm"}, nil},
		{"alert.triggered", []string{"usage-alert"}, nil},
		{"invoice.drafted", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.webhookType, func(t *testing.T) {
			res := route(t, rs, tt.webhookType)
			if strings.Join(res.Matched, ",") != strings.Join(tt.rules, ",") {
				t.Fatalf("matched %v, want %v", res.Matched, tt.rules)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("rule errors: %v", res.Errors)
			}
			for _, d := range res.Deliveries {
				if d.Err != nil {
					t.Fatalf("%s → %s: %v", d.Rule, d.Channel, d.Err)
				}
				for _, p := range []string{d.Parts.Text, d.Parts.Subject, d.Parts.HTML, d.Parts.Body} {
					if strings.Contains(p, "<no value>") {
						t.Errorf("%s → %s rendered <no value>:\n%s", d.Rule, d.Channel, p)
					}
				}
			}
		})
	}
}

// TestExampleLargeInvoiceContent asserts the rendered content for the
// large-invoice rule: an email with subject, text and html, and a Slack
// heads-up with the formatted amount.
func TestExampleLargeInvoiceContent(t *testing.T) {
	rs, _ := loadExample(t, false, exampleEnv)
	_, data := fixture(t, "invoice.created")
	inv := data["invoice"].(map[string]any)
	number := inv["number"].(string)
	res := route(t, rs, "invoice.created")
	if len(res.Deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2", len(res.Deliveries))
	}
	mail, slack := res.Deliveries[0], res.Deliveries[1]
	if mail.Channel != "finance" || slack.Channel != "billing-alerts" {
		t.Fatalf("targets %s, %s", mail.Channel, slack.Channel)
	}
	if !strings.HasPrefix(mail.Parts.Subject, "Large invoice "+number+": $") {
		t.Errorf("subject %q", mail.Parts.Subject)
	}
	if strings.Join(mail.Parts.To, ",") != "finance@example.com" {
		t.Errorf("to %v", mail.Parts.To)
	}
	for _, part := range []string{mail.Parts.Text, mail.Parts.HTML} {
		if !strings.Contains(part, number) || !strings.Contains(part, "$") {
			t.Errorf("part lacks number or amount:\n%s", part)
		}
	}
	if !strings.Contains(mail.Parts.HTML, "<strong>$") {
		t.Errorf("html: %s", mail.Parts.HTML)
	}
	if !strings.HasPrefix(slack.Parts.Text, ":moneybag: Invoice *"+number+"* for ") || !strings.Contains(slack.Parts.Text, ": $") {
		t.Errorf("slack text %q", slack.Parts.Text)
	}
}
