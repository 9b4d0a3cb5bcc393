package fields

import (
	"slices"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// labels are the plain-word names of keys whose spelled-out key reads
// badly; every other key is named by spelling it out.
var labels = map[string]string{
	"lago_id":                                 "Lago ID",
	"webhook_type":                            "Event type",
	"object_type":                             "Object type",
	"organization_id":                         "Organization ID",
	"number":                                  "Number",
	"total_amount_cents":                      "Total amount",
	"total_due_amount_cents":                  "Amount due",
	"total_paid_amount_cents":                 "Amount paid",
	"fees_amount_cents":                       "Fees",
	"taxes_amount_cents":                      "Taxes",
	"amount_cents":                            "Amount",
	"sub_total_excluding_taxes_amount_cents":  "Subtotal before taxes",
	"sub_total_including_taxes_amount_cents":  "Subtotal with taxes",
	"coupons_amount_cents":                    "Coupons",
	"credit_notes_amount_cents":               "Credit notes",
	"prepaid_credit_amount_cents":             "Prepaid credits used",
	"progressive_billing_credit_amount_cents": "Progressive billing credit",
	"balance_cents":                           "Balance",
	"ongoing_balance_cents":                   "Ongoing balance",
	"ongoing_usage_balance_cents":             "Ongoing usage",
	"credits_balance":                         "Credits balance",
	"credits_ongoing_balance":                 "Credits ongoing balance",
	"overdue_balance_cents":                   "Overdue balance",
	"refund_amount_cents":                     "Refund amount",
	"credit_amount_cents":                     "Credited amount",
	"balance_amount_cents":                    "Remaining credit",
	"external_customer_id":                    "Customer's own ID",
	"external_subscription_id":                "Subscription's own ID",
	"external_id":                             "Own ID",
	"customer_external_id":                    "Customer's own ID",
	"net_payment_term":                        "Payment term (days)",
	"invoice_grace_period":                    "Grace period (days)",
	"issuing_date":                            "Issue date",
	"payment_due_date":                        "Due date",
	"payment_overdue":                         "Payment overdue",
	"payment_status":                          "Payment status",
	"invoice_type":                            "Invoice type",
	"legal_name":                              "Legal name",
	"legal_number":                            "Legal number",
	"tax_identification_number":               "Tax ID",
	"email":                                   "Email",
	"name":                                    "Name",
	"firstname":                               "First name",
	"lastname":                                "Last name",
	"zipcode":                                 "Postal code",
	"address_line1":                           "Address",
	"address_line2":                           "Address (2nd line)",
	"events_count":                            "Events",
	"version_number":                          "Version",
	"sequential_id":                           "Sequence number",
	"created_at":                              "Created",
	"updated_at":                              "Updated",
	"voided_at":                               "Voided",
	"terminated_at":                           "Terminated",
	"canceled_at":                             "Canceled",
	"started_at":                              "Started",
	"triggered_at":                            "Triggered",
	"file_url":                                "PDF link",
	"plan_code":                               "Plan code",
	"code":                                    "Code",
	"currency":                                "Currency",
	"alert_type":                              "Alert type",
	"customer_type":                           "Customer type",
	"credit_status":                           "Credit status",
	"refund_status":                           "Refund status",
	"transaction_status":                      "Transaction status",
	"transaction_type":                        "Direction",
	"payment_provider":                        "Payment provider",
	"document_locale":                         "Document language",
	"applicable_timezone":                     "Time zone in use",
	"rate_amount":                             "Credit price",
	"void_reason":                             "Reason voided",
	"error_code":                              "Error code",
}

// descriptions say what a key holds. A key may be qualified by its
// object's key ("invoice.status") when it means different things in
// different objects.
var descriptions = map[string]string{
	"webhook_type":             "What happened: the Lago event, such as invoice.created.",
	"object_type":              "The kind of object the message carries.",
	"organization_id":          "Your Lago organization.",
	"lago_id":                  "Lago's identifier of this object.",
	"invoice.number":           "The invoice number printed on the invoice.",
	"invoice.status":           "Where the invoice is in its life: a draft can still change, finalized is final.",
	"payment_status":           "Whether the payment went through.",
	"invoice_type":             "What the invoice bills: a subscription, an add-on, credits, a one-off.",
	"total_amount_cents":       "The total to pay, taxes included.",
	"total_due_amount_cents":   "What remains to be paid.",
	"total_paid_amount_cents":  "What has been paid so far.",
	"fees_amount_cents":        "The sum of the fees, before taxes.",
	"taxes_amount_cents":       "The taxes.",
	"amount_cents":             "The amount.",
	"currency":                 "The currency, as an ISO 4217 code such as EUR or USD.",
	"issuing_date":             "The date the document was issued.",
	"payment_due_date":         "The date payment is due.",
	"payment_overdue":          "Whether payment is late.",
	"net_payment_term":         "Days the customer has to pay.",
	"external_customer_id":     "Your own ID of the customer, as given to Lago.",
	"external_subscription_id": "Your own ID of the subscription, as given to Lago.",
	"external_id":              "Your own ID, as given to Lago.",
	"customer.name":            "The customer's name.",
	"customer.email":           "The customer's billing email address.",
	"customer.country":         "The customer's country, as a two-letter code (FR, US).",
	"customer_type":            "Whether the customer is a company or an individual.",
	"plan_code":                "The code of the plan.",
	"subscription.status":      "Whether the subscription is active, pending, terminated or canceled.",
	"wallet.status":            "Whether the wallet is active or terminated.",
	"balance_cents":            "The wallet's balance.",
	"ongoing_balance_cents":    "The balance after current usage.",
	"credit_status":            "Whether the credit can still be used.",
	"refund_status":            "Where the refund is.",
	"reason":                   "Why it happened.",
	"alert_type":               "What the alert watches.",
	"transaction_type":         "Inbound adds credits, outbound uses them.",
	"transaction_status":       "How the credits came or went.",
	"created_at":               "When it was created.",
	"updated_at":               "When it last changed.",
	"error_code":               "The provider's error code.",
	"message":                  "The error message.",
	"events_count":             "How many events.",
}

// enums are the values of keys that take one of a known set, from Lago's
// models; a key may be qualified by its object's key.
var enums = map[string][]string{
	"invoice.status":                         {"draft", "generating", "finalized", "voided", "failed", "pending", "deleted"},
	"payment_status":                         {"pending", "processing", "succeeded", "failed"},
	"invoice_type":                           {"subscription", "add_on", "credit", "one_off", "advance_charges", "progressive_billing"},
	"credit_status":                          {"available", "consumed", "voided"},
	"refund_status":                          {"pending", "succeeded", "failed"},
	"customer_type":                          {"company", "individual"},
	"subscription.status":                    {"pending", "active", "incomplete", "terminated", "canceled"},
	"wallet.status":                          {"active", "terminated"},
	"wallet_transaction.status":              {"pending", "settled", "failed"},
	"transaction_status":                     {"purchased", "granted", "voided", "invoiced"},
	"transaction_type":                       {"inbound", "outbound"},
	"interval":                               {"weekly", "monthly", "quarterly", "semiannual", "yearly"},
	"billing_time":                           {"calendar", "anniversary"},
	"alert_type":                             {"current_usage_amount", "billable_metric_current_usage_amount", "billable_metric_current_usage_units", "lifetime_usage_amount"},
	"credit_note.reason":                     {"duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation", "fraudulent_charge", "other"},
	"aggregation_type":                       {"count_agg", "sum_agg", "max_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg", "custom_agg"},
	"payment.status":                         {"pending", "processing", "succeeded", "failed", "requires_action"},
	"order_form.status":                      {"generated", "signed", "expired", "voided"},
	"order.status":                           {"created", "executed", "failed"},
	"version.status":                         {"draft", "approved", "voided"},
	"payable_type":                           {"Invoice", "PaymentRequest"},
	"payment_provider_type":                  {"stripe", "gocardless", "adyen", "cashfree", "moneyhash", "flutterwave"},
	"billing_configuration.payment_provider": {"stripe", "gocardless", "adyen", "cashfree", "moneyhash", "flutterwave"},
}

func enumValues(parent, key string) []string {
	if v, ok := enums[parent+"."+key]; ok {
		return v
	}
	return enums[key]
}

// currencies are the currencies Lago accepts (its Currencies enum, ISO
// 4217), most used first, then alphabetically.
var currencies = []string{
	"EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY",
	"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD",
	"BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CDF", "CLF", "CLP", "CNY", "COP", "CRC", "CVE", "CZK", "DJF",
	"DKK", "DOP", "DZD", "EGP", "ETB", "FJD", "FKP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL",
	"HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "ISK", "JMD", "JOD", "KES", "KGS", "KHR", "KMF", "KRW", "KWD",
	"KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRO",
	"MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
	"PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLL",
	"SOS", "SRD", "STD", "SZL", "THB", "TJS", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "UYI", "UYU",
	"UYW", "UZS", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
}

// Currencies returns the currency codes the builder offers, most used
// first.
func Currencies() []string { return slices.Clone(currencies) }

// KnownCurrency reports whether code is one of Currencies.
func KnownCurrency(code string) bool { return slices.Contains(currencies, code) }

// Decimals returns the number of decimals of a currency's minor unit as
// Lago counts cents: 2 for EUR (500000 cents are 5,000.00 EUR), 0 for JPY,
// 3 for KWD (lago.CurrencyDecimals).
func Decimals(code string) int { return lago.CurrencyDecimals(code) }
