package router

import (
	"regexp"
	"strings"
	"testing"
)

// TestCheckRealLagoPathsNoWarnings: conditions over the fields Lago really
// sends (every field of every rebuilt fixture, and the fields older
// fixtures lacked) load without a "does not exist" warning.
func TestCheckRealLagoPathsNoWarnings(t *testing.T) {
	catalog := mustCatalog(t)
	ident := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	keyword := map[string]bool{"in": true, "not": true, "and": true, "or": true, "matches": true, "contains": true,
		"startsWith": true, "endsWith": true, "let": true, "nil": true, "true": true, "false": true}
	var rules strings.Builder
	rules.WriteString(threeChannels + "rules:\n")
	add := func(name, typ string, paths []string) {
		rules.WriteString("  - name: " + name + "\n    when: >-\n      webhook_type == \"" + typ + "\"\n")
		for _, p := range paths {
			rules.WriteString("      && " + p + " != nil\n")
		}
		rules.WriteString("    send: [{to: ops}]\n")
	}
	n := 0
	for _, typ := range catalog.Types() {
		var paths []string
	fields:
		for _, fd := range catalog.Fields(typ.WebhookType) {
			for _, seg := range strings.Split(fd.Path, ".") {
				if !ident.MatchString(seg) || keyword[seg] {
					continue fields
				}
			}
			paths = append(paths, fd.Path)
		}
		n += len(paths)
		add(strings.ReplaceAll(typ.WebhookType, ".", "-"), typ.WebhookType, paths)
	}
	if n < 2000 {
		t.Fatalf("only %d field paths", n)
	}
	// Fields the fixtures once lacked.
	add("real-invoice", "invoice.created", []string{"invoice.voided_at", "invoice.total_paid_amount_cents",
		"invoice.purchase_order_number", "invoice.xml_url", "invoice.total_offsetted_credit_note_amount_cents",
		"invoice.customer.external_salesforce_id"})
	add("real-credit-note", "credit_note.created", []string{"credit_note.precise_total_amount_cents",
		"credit_note.precise_taxes_amount_cents", "credit_note.xml_url"})
	add("real-subscription", "subscription.started", []string{"subscription.progressive_billing_disabled"})
	add("real-wallet-transaction", "wallet_transaction.created", []string{"wallet_transaction.billing_entity_code"})
	add("real-provider-error", "invoice.payment_failure", []string{"payment_provider_invoice_payment_error.provider_error.message",
		"payment_provider_invoice_payment_error.provider_error.error_code"})
	add("real-integration-error", "customer.crm_provider_error", []string{"crm_provider_customer_error.provider_error.code"})
	add("real-alert", "alert.triggered", []string{"triggered_alert.current_value", "triggered_alert.crossed_thresholds"})

	o := writeConfig(t, rules.String(), nil)
	o.Catalog = catalog
	_, diags, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if strings.Contains(d.Message, "does not exist") {
			t.Errorf("false warning: %s", d)
		}
	}
	// The check still catches a typo among real fields.
	o = writeConfig(t, threeChannels+`
rules:
  - name: typo
    when: webhook_type == "invoice.created" && invoice.total_paid_amout_cents > 0
    send: [{to: ops}]
`, nil)
	o.Catalog = catalog
	_, diags, _ = Load(o)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "invoice.total_paid_amout_cents does not exist") {
		t.Fatalf("diagnostics %v", diags)
	}
}
