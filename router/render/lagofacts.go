package render

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// Fact is one labelled value of a message, as the built-in templates show
// it: "Customer" "acme_1042", "Total" "$18,747.30".
type Fact struct {
	// Label names the value for a reader, e.g. "Invoice" or "Threshold".
	Label string
	// Value is the value as text; amounts are already formatted as money.
	Value string
	// Code is true for identifiers and codes, which Slack shows as code.
	Code bool
}

// lagoFacts lists what a notification about a message should say beside
// its event type: the object's identifying fields (number, external IDs,
// the customer), what is specific to its event (an alert's threshold and
// value, a checkout or 3-D Secure link, a wallet transaction's wallet and
// amount, a subscription's end date), statuses, amounts formatted as money,
// the provider's error, and the Lago ID. A Lago message's object is the one
// its object_type names; any other JSON object is read from its top level.
// Missing fields are left out; nothing here fails on an unexpected shape.
func lagoFacts(msg any) []Fact {
	m, _ := msg.(map[string]any)
	if m == nil {
		return nil
	}
	o, _ := lagoObject(m).(map[string]any)
	lago := o != nil
	if !lago {
		o = m
	}
	var fs facts
	switch objectType, _ := m["object_type"].(string); objectType {
	case "payment_dispute_lost":
		// The disputed invoice is the subject.
		if inv, ok := o["invoice"].(map[string]any); ok {
			fs.invoice("Invoice", inv)
		}
	case "triggered_alert":
		fs.alert(o)
	case "wallet_transaction":
		fs.walletTransaction(o)
	case "payment_receipt":
		fs.code("Receipt", o["number"])
		if p, ok := o["payment"].(map[string]any); ok {
			fs.code("Customer", p["external_customer_id"])
			fs.list("Invoices", p["invoice_numbers"])
			fs.money("Amount", p["amount_cents"], p["amount_currency"])
			fs.text("Payment status", p["payment_status"])
		}
	case "events_errors":
		// Transaction IDs of rejected events, by reason.
		for _, k := range sortedKeys(o) {
			label := strings.ReplaceAll(k, "_", " ")
			fs.list(strings.ToUpper(label[:1])+label[1:], o[k])
		}
	case "dunning_campaign":
		fs.code("Customer", first(o["external_customer_id"], o["customer_external_id"]))
		fs.code("Campaign", o["dunning_campaign_code"])
		fs.money("Overdue balance", o["overdue_balance_cents"], o["overdue_balance_currency"])
	case "quote":
		fs.code("Quote", o["number"])
		fs.code("Customer (Lago ID)", o["lago_customer_id"])
		fs.text("Order type", o["order_type"])
		if v, ok := o["version"].(map[string]any); ok {
			fs.text("Version", v["version"])
			fs.text("Status", v["status"])
			fs.text("Currency", v["currency"])
		}
	case "order", "order_form":
		label := "Order"
		if objectType == "order_form" {
			label = "Order form"
		}
		fs.code(label, o["number"])
		fs.code("Customer (Lago ID)", o["lago_customer_id"])
		fs.text("Order type", o["order_type"])
		fs.text("Status", o["status"])
		fs.text("Expires at", o["expires_at"])
		fs.text("Signed document", o["signed_document_url"])
		fs.text("Reason", o["void_reason"])
	default:
		fs.generic(o, lago)
	}
	fs.code("Lago ID", o["lago_id"])
	if !lago {
		fs.code("ID", o["id"])
	}
	return fs.list_
}

// facts collects Facts, skipping empty values and repeated ones.
type facts struct {
	list_ []Fact
}

func (fs *facts) add(label string, v any, code bool) {
	s := textOf(v)
	if s == "" {
		return
	}
	for _, f := range fs.list_ {
		if code && f.Code && f.Value == s {
			return // the same ID under two keys says nothing new
		}
	}
	fs.list_ = append(fs.list_, Fact{Label: label, Value: s, Code: code})
}

func (fs *facts) code(label string, v any) { fs.add(label, v, true) }
func (fs *facts) text(label string, v any) { fs.add(label, v, false) }

// money adds an amount of minor units of a currency, formatted.
func (fs *facts) money(label string, cents, currency any) {
	if cents == nil {
		return
	}
	cur, _ := currency.(string)
	if s, err := Money(cents, cur); err == nil {
		fs.text(label, s)
	}
}

// units adds an amount written in whole units ("500.0"), as wallet
// transactions carry them, formatted as money.
func (fs *facts) units(label string, amount, currency any) {
	cur, _ := currency.(string)
	if s, ok := unitsMoney(amount, cur); ok {
		fs.text(label, s)
	}
}

// list adds the values of an array joined by commas.
func (fs *facts) list(label string, v any) {
	items, _ := v.([]any)
	var parts []string
	for _, it := range items {
		if s := textOf(it); s != "" {
			parts = append(parts, s)
		}
	}
	fs.text(label, strings.Join(parts, ", "))
}

// generic reads the fields most Lago objects share.
func (fs *facts) generic(o map[string]any, lago bool) {
	fs.code("Number", o["number"])
	fs.code("External ID", o["external_id"])
	fs.code("Code", o["code"])
	fs.text("Name", o["name"])
	fs.code("Customer", first(o["external_customer_id"], dig(o, "customer", "external_id"),
		dig(o, "wallet", "external_customer_id")))
	fs.text("Email", o["email"])
	fs.code("Invoice", o["invoice_number"])
	// The object an error or a payment is about.
	fs.code("Lago invoice ID", o["lago_invoice_id"])
	fs.code("Lago credit note ID", o["lago_credit_note_id"])
	fs.code("Lago payment request ID", o["lago_payment_request_id"])
	fs.code("Lago wallet transaction ID", o["lago_wallet_transaction_id"])
	fs.list("Invoices", o["invoice_numbers"])
	fs.code("Plan", o["plan_code"])
	fs.code("Subscription", o["external_subscription_id"])
	fs.text("Ends at", o["ending_at"])
	fs.text("Terminated at", o["terminated_at"])
	if t, ok := o["usage_threshold"].(map[string]any); ok {
		fs.money("Threshold", t["amount_cents"], first(o["plan_amount_currency"], dig(o, "plan", "amount_currency")))
		fs.text("Threshold name", t["threshold_display_name"])
	}
	fs.text("Issuing date", o["issuing_date"])
	fs.code("Item", first(dig(o, "item", "code"), dig(o, "item", "name")))
	fs.text("Checkout URL", o["checkout_url"])
	if o["status"] == "requires_action" || o["payment_status"] == "requires_action" {
		// The 3-D Secure page the customer must visit.
		fs.text("Action URL", first(dig(o, "next_action", "redirect_to_url", "url"), dig(o, "next_action", "url")))
	}
	if v, ok := o["vies_check"].(map[string]any); ok {
		fs.text("VIES check", map[bool]string{true: "valid", false: "not valid"}[v["valid"] == true])
	}
	fs.providerName(o)
	fs.text("Action", o["action"])
	fs.text("Status", o["status"])
	fs.text("Payment status", o["payment_status"])
	// A credit note's two statuses: its credit and its refund.
	fs.text("Credit status", o["credit_status"])
	fs.text("Refund status", o["refund_status"])
	cur := first(o["currency"], o["amount_currency"], o["total_amount_currency"])
	fs.money("Total", o["total_amount_cents"], cur)
	fs.money("Amount", o["amount_cents"], cur)
	if due, ok := o["total_due_amount_cents"].(float64); ok && due != o["total_amount_cents"] {
		fs.money("Due", due, cur)
	}
	fs.money("Balance", o["balance_cents"], cur)
	fs.money("Ongoing balance", o["ongoing_balance_cents"], cur)
	fs.text("Error", errorText(o["provider_error"]))
	if e := textOf(o["error"]); e != "" {
		if msg := textOf(o["message"]); msg != "" {
			e += " (" + msg + ")"
		}
		fs.text("Error", e)
	}
	if !lago {
		return
	}
	if ev, ok := o["event"].(map[string]any); ok {
		fs.code("Event code", ev["code"])
		fs.code("Transaction ID", ev["transaction_id"])
	}
}

// providerName adds the payment, accounting, CRM or tax provider with its
// code, or a payment provider's name.
func (fs *facts) providerName(o map[string]any) {
	for _, k := range []string{"payment_provider", "accounting_provider", "crm_provider", "tax_provider", "provider"} {
		name := textOf(o[k])
		if name == "" {
			continue
		}
		if c := textOf(o[k+"_code"]); c != "" {
			name += " (" + c + ")"
		}
		fs.text("Provider", name)
		return
	}
	if name := textOf(o["payment_provider_name"]); name != "" {
		if c := textOf(o["payment_provider_code"]); c != "" {
			name += " (" + c + ")"
		}
		fs.text("Provider", name)
		return
	}
	fs.text("Provider", first(o["tax_provider_code"], o["payment_provider_code"]))
}

// invoice adds an invoice's number, customer, statuses and total.
func (fs *facts) invoice(label string, inv map[string]any) {
	fs.code(label, inv["number"])
	fs.code("Customer", first(dig(inv, "customer", "external_id"), inv["external_customer_id"]))
	fs.text("Status", inv["status"])
	fs.text("Payment status", inv["payment_status"])
	fs.money("Total", inv["total_amount_cents"], inv["currency"])
	fs.code("Lago invoice ID", inv["lago_id"])
}

// alert adds what crossed which threshold: Lago writes the values as
// decimal strings, in cents for amount alerts (whose currency the message
// does not carry) and in units otherwise.
func (fs *facts) alert(o map[string]any) {
	fs.text("Alert", o["alert_name"])
	fs.code("Alert code", o["alert_code"])
	fs.text("Alert type", o["alert_type"])
	fs.code("Metric", o["billable_metric_code"])
	fs.code("Customer", first(o["external_customer_id"], o["customer_external_id"]))
	fs.code("Subscription", first(o["external_subscription_id"], o["subscription_external_id"]))
	fs.code("Wallet (Lago ID)", o["lago_wallet_id"])
	amount := strings.Contains(textOf(o["alert_type"]), "amount")
	value := func(v any) string {
		if amount {
			s, err := Money(v, "")
			if err == nil {
				return s
			}
		}
		return plainNumber(v)
	}
	var thresholds []string
	items, _ := o["crossed_thresholds"].([]any)
	for _, it := range items {
		t, _ := it.(map[string]any)
		if s := value(t["value"]); s != "" {
			if t["recurring"] == true {
				s += " (recurring)"
			}
			thresholds = append(thresholds, s)
		}
	}
	fs.text("Threshold", strings.Join(thresholds, ", "))
	fs.text("Current value", value(o["current_value"]))
	fs.text("Previous value", value(o["previous_value"]))
	fs.text("Triggered at", o["triggered_at"])
}

// walletTransaction adds the wallet, customer and amount of a wallet
// transaction; its amounts are in whole units of the wallet's currency.
func (fs *facts) walletTransaction(o map[string]any) {
	w, _ := o["wallet"].(map[string]any)
	fs.code("Customer", dig(o, "wallet", "external_customer_id"))
	name := textOf(dig(o, "wallet", "name"))
	if c := textOf(dig(o, "wallet", "code")); c != "" {
		if name != "" {
			name += " (" + c + ")"
		} else {
			name = c
		}
	}
	fs.text("Wallet", name)
	if w == nil {
		fs.code("Wallet (Lago ID)", o["lago_wallet_id"])
	}
	fs.text("Transaction", strings.TrimSpace(textOf(o["transaction_type"])+" "+textOf(o["transaction_status"])))
	fs.units("Amount", o["amount"], dig(o, "wallet", "currency"))
	fs.text("Credits", plainNumber(o["credit_amount"]))
	fs.text("Status", o["status"])
	fs.code("Lago invoice ID", o["lago_invoice_id"])
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// first returns the first argument that is not empty.
func first(vs ...any) any {
	for _, v := range vs {
		if textOf(v) != "" {
			return v
		}
	}
	return nil
}

// dig walks nested objects; nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// textOf writes a scalar as text: strings as they are, numbers without a
// trailing ".0", booleans as true/false; objects, arrays and null as "".
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

// plainNumber writes a number or numeric string with thousands separators
// and without a trailing ".0": "5240.0" is "5,240", "12.5" stays "12.5".
func plainNumber(v any) string {
	s := textOf(v)
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	if strings.ContainsAny(whole, "eE") || strings.ContainsAny(frac, "eE") {
		return textOf(v)
	}
	out := groupThousands(whole)
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// errorText is a provider error as text: Lago sends an object
// ({message, error_code} or {message, code}); older versions a string.
func errorText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		msg := textOf(x["message"])
		code := textOf(first(x["error_code"], x["code"]))
		switch {
		case msg != "" && code != "":
			return msg + " [" + code + "]"
		case msg != "":
			return msg
		case code != "":
			return code
		}
		if b, err := marshalJSON(x, false, ""); err == nil {
			return b
		}
	}
	return ""
}

// unitsMoney formats an amount written in whole units of a currency
// ("500.0" USD is "$500.00"), by moving the decimal point to minor units.
func unitsMoney(amount any, currency string) (string, bool) {
	s := textOf(amount)
	if s == "" {
		return "", false
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return "", false
	}
	code := strings.ToUpper(strings.TrimSpace(currency))
	d := lago.CurrencyDecimals(code)
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimLeft(s, "+-"), ".")
	if strings.ContainsAny(whole+frac, "eE") {
		return "", false
	}
	frac += strings.Repeat("0", d)
	cents := whole + frac[:d] + "." + frac[d:]
	if neg {
		cents = "-" + cents
	}
	out, err := Money(cents, code)
	return out, err == nil
}

// String formats a fact as "Label: value", for debugging and tests.
func (f Fact) String() string { return fmt.Sprintf("%s: %s", f.Label, f.Value) }
