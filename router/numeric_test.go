package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"strings"
	"testing"
)

// TestNumericStringConditions: Lago writes alert values as decimal strings
// ("3000.0"); conditions written with numbers must match them at run time,
// while plain comparisons keep expr's meaning.
func TestNumericStringConditions(t *testing.T) {
	raw, ok := mustCatalog(t).Example("alert.triggered")
	if !ok {
		t.Fatal("no alert.triggered example")
	}
	alert := msg(t, string(raw))
	if _, isString := alert.Data["triggered_alert"].(map[string]any)["current_value"].(string); !isString {
		t.Fatal("the alert.triggered fixture must carry current_value as a string, as Lago does")
	}
	const wallet = `{"webhook_type":"wallet.updated","wallet":{"credits_balance":"150.0","balance_cents":15000,"name":"Prepaid"}}`
	tests := []struct {
		name, when, body string
		match            bool
		err              string
	}{
		{"string above a number", `triggered_alert.current_value > 1000`, string(raw), true, ""},
		{"string below a number", `triggered_alert.current_value < 1000`, string(raw), false, ""},
		{"number on the left", `1000 <= triggered_alert.current_value`, string(raw), true, ""},
		{"two numeric strings", `triggered_alert.current_value >= triggered_alert.previous_value`, string(raw), true, ""},
		{"array element", `triggered_alert.crossed_thresholds[0].value <= triggered_alert.current_value`, string(raw), true, ""},
		{"equality with a number literal", `wallet.credits_balance == 150`, wallet, true, ""},
		{"inequality with a number literal", `wallet.credits_balance != 150.5`, wallet, true, ""},
		{"string equality stays exact", `wallet.credits_balance == "150"`, wallet, false, ""},
		{"numbers stay numbers", `wallet.balance_cents > 9999 && wallet.balance_cents == 15000`, wallet, true, ""},
		{"text is not a number", `wallet.name > 10`, wallet, false, `cannot compare "Prepaid" with a number`},
		{"strings still compare as strings", `wallet.name < "Q"`, wallet, true, ""},
		{"missing field is still an error", `wallet.nope > 1`, wallet, false, "invalid operation"},
		{"safe navigation with a default", `(wallet?.nope ?? 0) > 1`, wallet, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: '`+tt.when+`'
    send: [{to: ops, message: "x"}]
`, nil))
			res := rs.Route(msg(t, tt.body))
			if got := len(res.Matched) == 1; got != tt.match {
				t.Fatalf("matched %v, want %v (errors %v)", got, tt.match, res.Errors)
			}
			switch {
			case tt.err == "" && len(res.Errors) > 0:
				t.Fatalf("errors %v", res.Errors)
			case tt.err != "" && (len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err.Error(), tt.err)):
				t.Fatalf("errors %v, want %q", res.Errors, tt.err)
			}
		})
	}
}

// TestNumericStringTypeErrorsStayAtLoad: a comparison whose types are known
// at load is still checked there.
func TestNumericStringTypeErrorsStayAtLoad(t *testing.T) {
	_, diags, err := Load(writeConfig(t, threeChannels+`
rules:
  - name: r
    when: webhook_type > 5
    send: [{to: ops}]
`, nil))
	if err == nil || !strings.Contains(diagsString(diags), "invalid operation") {
		t.Fatalf("err %v, diags %s", err, diagsString(diags))
	}
}

func diagsString(ds []config.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}
