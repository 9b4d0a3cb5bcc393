package render

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLagoFacts covers shapes the fixtures do not: an amount alert (cents
// as decimal strings, no currency in the message), a wallet alert, wallet
// transactions in zero- and three-decimal currencies, a provider error as
// a string (older Lago) or an object with "code", and non-Lago messages.
func TestLagoFacts(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want []string
	}{
		{"amount alert", `{"webhook_type":"alert.triggered","object_type":"triggered_alert","triggered_alert":{
			"alert_name":"Spend above 3k","alert_type":"current_usage_amount","current_value":"312550.0","previous_value":"250000.0",
			"crossed_thresholds":[{"code":"warn","value":"300000.0","recurring":false},{"code":"step","value":"100000.0","recurring":true}],
			"external_subscription_id":"sub_1"}}`,
			[]string{"Alert: Spend above 3k", "Threshold: 3,000.00, 1,000.00 (recurring)", "Current value: 3,125.50", "Previous value: 2,500.00", "Subscription: sub_1"}},
		{"wallet alert", `{"webhook_type":"alert.triggered","object_type":"triggered_alert","triggered_alert":{
			"alert_name":"Low credits","alert_type":"wallet_credits_balance","current_value":"12.5","lago_wallet_id":"w-1",
			"crossed_thresholds":[{"value":"20.0"}]}}`,
			[]string{"Wallet (Lago ID): w-1", "Threshold: 20", "Current value: 12.5"}},
		{"wallet transaction in HUF", `{"object_type":"wallet_transaction","wallet_transaction":{"amount":"125000.0","credit_amount":"125000.0",
			"wallet":{"currency":"HUF","name":"Forint wallet","external_customer_id":"c1"}}}`,
			[]string{"Amount: HUF 125,000", "Credits: 125,000", "Wallet: Forint wallet", "Customer: c1"}},
		{"wallet transaction in KWD", `{"object_type":"wallet_transaction","wallet_transaction":{"amount":"12.3456","wallet":{"currency":"KWD"}}}`,
			[]string{"Amount: KWD 12.346"}},
		{"string provider error", `{"object_type":"x_error","x_error":{"provider_error":"boom","external_customer_id":"c2"}}`,
			[]string{"Error: boom", "Customer: c2"}},
		{"provider error with code", `{"object_type":"x_error","x_error":{"provider_error":{"message":"no","code":"E1"}}}`,
			[]string{"Error: no [E1]"}},
		{"invoice in HUF", `{"object_type":"invoice","invoice":{"number":"H-1","currency":"HUF","total_amount_cents":125000,"total_due_amount_cents":25000}}`,
			[]string{"Number: H-1", "Total: HUF 125,000", "Due: HUF 25,000"}},
		{"generic message", `{"type":"build.failed","id":"b-7","status":"failed","amount_cents":250,"currency":"EUR"}`,
			[]string{"Status: failed", "Amount: €2.50", "ID: b-7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(tt.msg), &m); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range lagoFacts(m) {
				got = append(got, f.String())
			}
			all := strings.Join(got, " | ")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in %s", w, all)
				}
			}
		})
	}
	if lagoFacts("not an object") != nil || lagoFacts(nil) != nil {
		t.Error("a message that is not an object has no facts")
	}
}
