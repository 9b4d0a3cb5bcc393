package router

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/router/render"
)

// TestDefaultTemplatesEveryLagoType renders the built-in template of every
// channel for the fixture of every Lago webhook type, compares the result
// with testdata/golden/<type>.golden (-update rewrites them), and asserts
// that the identifying fields of the object appear in the Slack text and
// the email.
func TestDefaultTemplatesEveryLagoType(t *testing.T) {
	catalog := mustCatalog(t)
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: everything
    when: "true"
    send: [{to: ops}, {to: mail}, {to: hook}]
`, nil))
	types := catalog.Types()
	if len(types) != 76 {
		t.Fatalf("catalog has %d types", len(types))
	}
	for _, typ := range types {
		t.Run(typ.WebhookType, func(t *testing.T) {
			raw, data := fixture(t, typ.WebhookType)
			res := route(t, rs, typ.WebhookType)
			if len(res.Deliveries) != 3 {
				t.Fatalf("%d deliveries", len(res.Deliveries))
			}
			slack, mail, hook := res.Deliveries[0], res.Deliveries[1], res.Deliveries[2]
			for _, d := range res.Deliveries {
				if d.Err != nil {
					t.Fatalf("%s: %v", d.Channel, d.Err)
				}
			}
			if hook.Parts.Body != string(raw) {
				t.Error("the HTTP default must forward the original bytes unchanged")
			}
			all := slack.Parts.Text + "\n" + mail.Parts.Subject + "\n" + mail.Parts.Text + "\n" + mail.Parts.HTML
			if strings.Contains(all, "<no value>") {
				t.Errorf("<no value> rendered:\n%s", all)
			}
			obj, _ := data[typ.ObjectType].(map[string]any)
			wants := identifying(t, typ.WebhookType, obj)
			specs, ok := typeFacts[typ.WebhookType]
			if !ok {
				t.Fatalf("typeFacts has no entry for %s: say what its notification must show", typ.WebhookType)
			}
			for _, spec := range specs {
				wants = append(wants, spec.value(t, data))
			}
			for _, want := range wants {
				mrkdwn := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(want)
				for name, part := range map[string][2]string{
					"slack text": {slack.Parts.Text, mrkdwn}, "email text": {mail.Parts.Text, want}, "email html": {mail.Parts.HTML, html.EscapeString(want)},
				} {
					if part, want := part[0], part[1]; !strings.Contains(part, want) {
						t.Errorf("%s lacks %q:\n%s", name, want, part)
					}
				}
			}
			if !strings.Contains(mail.Parts.Subject, typ.WebhookType) {
				t.Errorf("subject %q lacks the event type", mail.Parts.Subject)
			}
			golden := filepath.Join("testdata", "golden", typ.WebhookType+".golden")
			got := fmt.Sprintf("== slack text\n%s\n== email subject\n%s\n== email text\n%s\n== email html\n%s\n",
				slack.Parts.Text, mail.Parts.Subject, mail.Parts.Text, mail.Parts.HTML)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(want) != got {
				t.Errorf("differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// identifying lists the strings a default notification must show for an
// object: the event type, its external IDs, number, Lago ID, statuses and
// amounts formatted as money.
func identifying(t *testing.T, webhookType string, obj map[string]any) []string {
	t.Helper()
	out := []string{webhookType}
	for _, k := range []string{"external_customer_id", "external_id", "number", "lago_id", "status", "payment_status"} {
		if s, ok := obj[k].(string); ok && s != "" {
			out = append(out, s)
		}
	}
	currency, _ := obj["currency"].(string)
	if currency == "" {
		currency, _ = obj["amount_currency"].(string)
	}
	for _, k := range []string{"total_amount_cents", "amount_cents", "balance_cents"} {
		if v, ok := obj[k].(float64); ok && currency != "" {
			m, err := render.Money(v, currency)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
			break
		}
	}
	return out
}

// fact names a value a type's default notification must show: the field
// at path, as text, or as money when cents is set (with the currency at
// currency, or none), or in whole units of the currency when units is set.
type fact struct {
	literal  string
	path     string
	currency string
	cents    bool
	units    bool
}

func lit(s string) fact { return fact{literal: s} }

func f(path string) fact                 { return fact{path: path} }
func cents(path, currency string) fact   { return fact{path: path, currency: currency, cents: true} }
func unitsOf(path, currency string) fact { return fact{path: path, currency: currency, units: true} }

// value reads the fact's field in the message and formats it as the
// notification must show it.
func (sp fact) value(t *testing.T, data map[string]any) string {
	t.Helper()
	if sp.literal != "" {
		return sp.literal
	}
	v := fixturePath(data, sp.path)
	if v == nil {
		t.Fatalf("the fixture has no %s", sp.path)
	}
	cur, _ := fixturePath(data, sp.currency).(string)
	switch {
	case sp.cents:
		m, err := render.Money(v, cur)
		if err != nil {
			t.Fatal(err)
		}
		return m
	case sp.units:
		s, _ := v.(string)
		var units float64
		if _, err := fmt.Sscan(s, &units); err != nil {
			t.Fatalf("%s = %v: %v", sp.path, v, err)
		}
		m, err := render.Money(units*100, cur) // the fixtures' wallets use 2-decimal currencies
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	t.Fatalf("%s is %T", sp.path, v)
	return ""
}

func fixturePath(data map[string]any, path string) any {
	if path == "" {
		return nil
	}
	var v any = data
	for _, k := range strings.Split(path, ".") {
		if i, err := strconv.Atoi(k); err == nil {
			l, _ := v.([]any)
			if i >= len(l) {
				return nil
			}
			v = l[i]
			continue
		}
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// typeFacts is what the default notification of each Lago type must show
// beyond the generic identifying fields: the object's number and
// customer, what is specific to the event, and its amount where it has
// one.
var typeFacts = map[string][]fact{
	"alert.triggered": {f("triggered_alert.alert_name"), f("triggered_alert.billable_metric_code"),
		f("triggered_alert.external_subscription_id"), f("triggered_alert.external_customer_id"),
		lit("5,000"), lit("5,240")}, // "5000.0" and "5240.0" in the fixture
	"billable_metric.created":              {f("billable_metric.code"), f("billable_metric.name")},
	"billable_metric.deleted":              {f("billable_metric.code"), f("billable_metric.name")},
	"billable_metric.updated":              {f("billable_metric.code"), f("billable_metric.name")},
	"credit_note.created":                  {f("credit_note.number"), f("credit_note.invoice_number"), f("credit_note.customer.external_id"), cents("credit_note.total_amount_cents", "credit_note.currency")},
	"credit_note.generated":                {f("credit_note.number"), f("credit_note.invoice_number"), f("credit_note.customer.external_id"), cents("credit_note.total_amount_cents", "credit_note.currency")},
	"credit_note.refund_failure":           {f("credit_note_payment_provider_refund_error.lago_credit_note_id"), f("credit_note_payment_provider_refund_error.external_customer_id"), f("credit_note_payment_provider_refund_error.provider_error.message")},
	"customer.accounting_provider_created": {f("customer.external_id"), f("customer.name")},
	"customer.accounting_provider_error":   {f("accounting_provider_customer_error.external_customer_id"), f("accounting_provider_customer_error.provider_error.message")},
	"customer.checkout_url_generated":      {f("payment_provider_customer_checkout_url.external_customer_id"), f("payment_provider_customer_checkout_url.checkout_url")},
	"customer.created":                     {f("customer.external_id"), f("customer.name")},
	"customer.crm_provider_created":        {f("customer.external_id"), f("customer.name")},
	"customer.crm_provider_error":          {f("crm_provider_customer_error.external_customer_id"), f("crm_provider_customer_error.provider_error.message")},
	"customer.payment_provider_created":    {f("customer.external_id"), f("customer.name")},
	"customer.payment_provider_error":      {f("payment_provider_customer_error.external_customer_id"), f("payment_provider_customer_error.provider_error.message")},
	"customer.tax_provider_error":          {f("tax_provider_customer_error.external_customer_id"), f("tax_provider_customer_error.provider_error.message")},
	"customer.updated":                     {f("customer.external_id"), f("customer.name")},
	"customer.vies_check":                  {f("customer.external_id"), f("customer.name")},
	"dunning_campaign.finished":            {f("dunning_campaign.external_customer_id"), f("dunning_campaign.dunning_campaign_code"), cents("dunning_campaign.overdue_balance_cents", "dunning_campaign.overdue_balance_currency")},
	"event.error":                          {f("event_error.error"), f("event_error.event.code"), f("event_error.event.transaction_id")},
	"events.errors":                        {f("events_errors.invalid_code.0"), f("events_errors.missing_group_key.0")},
	"feature.created":                      {f("feature.code"), f("feature.name")},
	"feature.deleted":                      {f("feature.code"), f("feature.name")},
	"feature.updated":                      {f("feature.code"), f("feature.name")},
	"fee.created":                          {f("fee.external_customer_id"), f("fee.item.code"), cents("fee.amount_cents", "fee.amount_currency")},
	"fee.tax_provider_error":               {f("tax_provider_fee_error.tax_provider_code"), f("tax_provider_fee_error.provider_error.message")},
	"integration.provider_error":           {f("provider_error.provider"), f("provider_error.provider_error.message")},
	"invoice.add_on_added":                 invoiceFacts,
	"invoice.created":                      invoiceFacts,
	"invoice.deleted":                      invoiceFacts,
	"invoice.drafted":                      invoiceFacts,
	"invoice.generated":                    invoiceFacts,
	"invoice.one_off_created":              invoiceFacts,
	"invoice.paid_credit_added":            invoiceFacts,
	"invoice.payment_dispute_lost": {f("payment_dispute_lost.invoice.number"), f("payment_dispute_lost.invoice.customer.external_id"),
		cents("payment_dispute_lost.invoice.total_amount_cents", "payment_dispute_lost.invoice.currency")},
	"invoice.payment_failure":        {f("payment_provider_invoice_payment_error.lago_invoice_id"), f("payment_provider_invoice_payment_error.external_customer_id"), f("payment_provider_invoice_payment_error.provider_error.message")},
	"invoice.payment_overdue":        invoiceFacts,
	"invoice.payment_status_updated": invoiceFacts,
	"invoice.ready_to_finalize":      invoiceFacts,
	"invoice.resynced":               invoiceFacts,
	"invoice.voided":                 invoiceFacts,
	"order.created":                  {f("order.number"), f("order.lago_customer_id"), f("order.status")},
	"order.executed":                 {f("order.number"), f("order.lago_customer_id"), f("order.status")},
	"order_form.created":             {f("order_form.number"), f("order_form.lago_customer_id"), f("order_form.status")},
	"order_form.expired":             {f("order_form.number"), f("order_form.lago_customer_id"), f("order_form.status")},
	"order_form.signed":              {f("order_form.number"), f("order_form.lago_customer_id"), f("order_form.status")},
	"order_form.voided":              {f("order_form.number"), f("order_form.lago_customer_id"), f("order_form.status")},
	"payment.requires_action": {f("payment.external_customer_id"), f("payment.invoice_numbers.0"), cents("payment.amount_cents", "payment.amount_currency"),
		f("payment.next_action.redirect_to_url.url")},
	"payment.succeeded":         {f("payment.external_customer_id"), f("payment.invoice_numbers.0"), cents("payment.amount_cents", "payment.amount_currency")},
	"payment_provider.error":    {f("payment_provider_error.payment_provider_code"), f("payment_provider_error.provider_error.message")},
	"payment_receipt.created":   {f("payment_receipt.number"), f("payment_receipt.payment.external_customer_id"), cents("payment_receipt.payment.amount_cents", "payment_receipt.payment.amount_currency")},
	"payment_receipt.generated": {f("payment_receipt.number"), f("payment_receipt.payment.external_customer_id"), cents("payment_receipt.payment.amount_cents", "payment_receipt.payment.amount_currency")},
	"payment_request.created":   {f("payment_request.customer.external_id"), cents("payment_request.amount_cents", "payment_request.amount_currency")},
	"payment_request.payment_failure": {f("payment_provider_payment_request_payment_error.lago_payment_request_id"),
		f("payment_provider_payment_request_payment_error.external_customer_id"), f("payment_provider_payment_request_payment_error.provider_error.message")},
	"payment_request.payment_status_updated": {f("payment_request.customer.external_id"), cents("payment_request.amount_cents", "payment_request.amount_currency")},
	"plan.created":                           {f("plan.code"), f("plan.name"), cents("plan.amount_cents", "plan.amount_currency")},
	"plan.deleted":                           {f("plan.code"), f("plan.name"), cents("plan.amount_cents", "plan.amount_currency")},
	"plan.updated":                           {f("plan.code"), f("plan.name"), cents("plan.amount_cents", "plan.amount_currency")},
	"quote.approved":                         {f("quote.number"), f("quote.lago_customer_id"), f("quote.version.status")},
	"quote.created":                          {f("quote.number"), f("quote.lago_customer_id"), f("quote.version.status")},
	"quote.voided":                           {f("quote.number"), f("quote.lago_customer_id"), f("quote.version.status")},
	"subscription.canceled":                  subscriptionFacts,
	"subscription.incomplete":                subscriptionFacts,
	"subscription.started":                   subscriptionFacts,
	"subscription.terminated":                subscriptionFacts,
	"subscription.termination_alert":         append(subscriptionFacts, f("subscription.ending_at")),
	"subscription.trial_ended":               subscriptionFacts,
	"subscription.updated":                   subscriptionFacts,
	"subscription.usage_threshold_reached": append(subscriptionFacts,
		cents("subscription.usage_threshold.amount_cents", "subscription.plan_amount_currency")),
	"wallet.created":                  walletFacts,
	"wallet.depleted_ongoing_balance": walletFacts,
	"wallet.terminated":               walletFacts,
	"wallet.updated":                  walletFacts,
	"wallet_transaction.created":      walletTransactionFacts,
	"wallet_transaction.payment_failure": {f("payment_provider_wallet_transaction_payment_error.lago_wallet_transaction_id"),
		f("payment_provider_wallet_transaction_payment_error.external_customer_id"), f("payment_provider_wallet_transaction_payment_error.provider_error.message")},
	"wallet_transaction.updated": walletTransactionFacts,
}

var (
	invoiceFacts           = []fact{f("invoice.number"), f("invoice.customer.external_id"), cents("invoice.total_amount_cents", "invoice.currency")}
	subscriptionFacts      = []fact{f("subscription.external_id"), f("subscription.external_customer_id"), f("subscription.plan_code")}
	walletFacts            = []fact{f("wallet.external_customer_id"), f("wallet.name"), cents("wallet.balance_cents", "wallet.currency")}
	walletTransactionFacts = []fact{f("wallet_transaction.wallet.external_customer_id"), f("wallet_transaction.wallet.name"),
		unitsOf("wallet_transaction.amount", "wallet_transaction.wallet.currency")}
)
