package router

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/config"
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
			rs := oneRule(t, tt.when)
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

// oneRule loads a ruleset whose one rule, r, sends to ops when when holds.
func oneRule(t *testing.T, when string) *Ruleset {
	t.Helper()
	return mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: '`+when+`'
    send: [{to: ops, message: "x"}]
`, nil))
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

// TestDeclaredFieldsMissingAreNil: webhook_type, object_type and
// organization_id are declared as strings so that `webhook_type > 5`
// fails at load, but a message without them (a generic sender) must see
// nil there, as for any missing field, in routing and in explanations.
func TestDeclaredFieldsMissingAreNil(t *testing.T) {
	tests := []struct {
		when  string
		match bool
	}{
		{`webhook_type != "invoice.created"`, true},
		{`webhook_type == "wallet.depleted_ongoing_balance"`, false},
		{`webhook_type == nil && organization_id == nil`, true},
		{`(webhook_type ?? "none") == "none"`, true},
		{`object_type == "order" && webhook_type not in ["a", "b"]`, true},
		{`webhook_type startsWith "customer."`, false},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			rs := oneRule(t, tt.when)
			const body = `{"object_type":"order","order":{"id":1}}`
			res := rs.Route(msg(t, body))
			if len(res.Errors) > 0 || (len(res.Matched) == 1) != tt.match {
				t.Fatalf("route: matched %v, errors %v; want match %v", res.Matched, res.Errors, tt.match)
			}
			ex := rs.Explain(msg(t, body))
			if ex[0].Error != "" || ex[0].Matched != tt.match {
				t.Fatalf("explain: matched %v, error %q; want match %v", ex[0].Matched, ex[0].Error, tt.match)
			}
			for _, c := range ex[0].Parts {
				if c.Error != "" {
					t.Fatalf("explain: condition %s: %s", c.Expr, c.Error)
				}
			}
			// A Lago message, with every declared field a string, still
			// routes on the typed program.
			lago := `{"webhook_type":"customer.created","object_type":"customer","organization_id":"o","customer":{}}`
			if res := rs.Route(msg(t, lago)); len(res.Errors) > 0 {
				t.Fatalf("lago message: %v", res.Errors)
			}
		})
	}
}

// TestDeclaredFieldsMissingConcurrently: the programs for messages without
// the declared fields are compiled when first needed, by whichever
// goroutines route such messages at once (run with -race).
func TestDeclaredFieldsMissingConcurrently(t *testing.T) {
	var rules strings.Builder
	for i := range 20 {
		fmt.Fprintf(&rules, "  - name: r%d\n    when: 'webhook_type != \"t%d\" && object_type == \"order\"'\n    send: [{to: ops, message: \"x\"}]\n", i, i)
	}
	rs := mustLoad(t, writeConfig(t, threeChannels+"\nrules:\n"+rules.String(), nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res := rs.Route(msg(t, `{"object_type":"order"}`))
			if len(res.Errors) > 0 || len(res.Matched) != 20 {
				t.Errorf("matched %d, errors %v", len(res.Matched), res.Errors)
			}
		})
	}
	wg.Wait()
}
