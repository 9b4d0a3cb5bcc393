package router

import (
	"fmt"
	"os"
	"path/filepath"
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
			for _, want := range identifying(t, typ.WebhookType, obj) {
				for name, part := range map[string]string{"slack text": slack.Parts.Text, "email text": mail.Parts.Text} {
					if !strings.Contains(part, want) {
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
