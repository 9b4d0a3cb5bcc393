package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// defaultParts renders the built-in Slack text and email subject, text and
// html for data, with the escaping the router uses for each.
func defaultParts(t *testing.T, data map[string]any) (slack, subject, text, html string) {
	t.Helper()
	exec := func(kind, block string, esc Escape) string {
		t.Helper()
		f := Default(kind)
		if f == nil {
			t.Fatalf("no default %s template", kind)
		}
		tm, err := f.Block(block, esc, testOptions())
		if err != nil {
			t.Fatalf("compile default %s %s: %v", kind, block, err)
		}
		out, err := tm.Execute(data)
		if err != nil {
			t.Fatalf("render default %s %s: %v", kind, block, err)
		}
		if strings.Contains(out, "<no value>") {
			t.Fatalf("default %s %s rendered <no value>:\n%s", kind, block, out)
		}
		return out
	}
	return exec("slack", "text", Mrkdwn), exec("email", "subject", Plain), exec("email", "text", Plain), exec("email", "html", HTML)
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	data := decode(t, string(b))
	data["meta"] = map[string]any{"source": "lago", "id": "msg_0001", "received_at": "2024-03-10T12:00:00Z"}
	return data
}

// TestDefaultTemplatesGolden renders the built-in templates for the
// fixtures in testdata/ and compares with testdata/golden/<name>.golden
// (go test ./router/render -run Golden -update rewrites them), then checks
// that the identifying fields and formatted amounts are really there.
func TestDefaultTemplatesGolden(t *testing.T) {
	tests := []struct {
		fixture string
		slack   string   // the whole Slack text
		email   []string // in the email text and html
	}{
		{"invoice.created", "*invoice.created* — invoice · Number: `INV-2024-0042` · Customer: `acme_1` · Issuing date: 2024-03-05 · Status: finalized · Payment status: pending · Total: $12,345.67 · Lago ID: `9c1d2e3f-0000-4000-8000-00000000b042`",
			[]string{"INV-2024-0042", "acme_1", "$12,345.67", "finalized", "pending", "9c1d2e3f-0000-4000-8000-00000000b042"}},
		{"wallet.depleted_ongoing_balance", "*wallet.depleted_ongoing_balance* — wallet · Code: `prepaid` · Name: Prepaid credits · Customer: `acme_1` · Status: active · Balance: €25.00 · Ongoing balance: €0.00 · Lago ID: `7e8f9a0b-0000-4000-8000-00000000d007`",
			[]string{"prepaid", "Prepaid credits", "acme_1", "€25.00", "€0.00", "active"}},
		{"credit_note.created", "*credit_note.created* — credit note · Number: `INV-2024-0042-CN3` · Invoice: `INV-2024-0042` · Lago invoice ID: `9c1d2e3f-0000-4000-8000-00000000b042` · Credit status: available · Refund status: pending · Total: BHD 12.345 · Lago ID: `2d3e4f50-0000-4000-8000-00000000e003`",
			[]string{"INV-2024-0042-CN3", "BHD 12.345", "available", "pending"}},
		{"fee.created", "*fee.created* — fee · Customer: `globex_7` · Subscription: `sub_globex_7` · Item: `api_calls` · Payment status: pending · Total: ¥132,000 · Amount: ¥120,000 · Lago ID: `f0000000-0000-4000-8000-000000000003`",
			[]string{"globex_7", "¥120,000", "¥132,000", "pending"}},
		{"payment.succeeded", "*payment.succeeded* — payment · Customer: `acme_1` · Status: succeeded · Payment status: succeeded · Amount: -$5.00 · Lago ID: `5a6b7c8d-0000-4000-8000-00000000f005`",
			[]string{"acme_1", "-$5.00", "succeeded"}},
		{"subscription.terminated", "*subscription.terminated* — subscription · External ID: `sub_acme_pro` · Name: Acme Pro · Customer: `acme_1` · Plan: `pro_monthly` · Terminated at: 2024-03-31T23:59:59Z · Status: terminated · Lago ID: `3c4d5e6f-0000-4000-8000-000000000a10`",
			[]string{"sub_acme_pro", "acme_1", "terminated"}},
		{"invoice.payment_failure", "*invoice.payment_failure* — payment provider invoice payment error · Customer: `acme_1` · Lago invoice ID: `9c1d2e3f-0000-4000-8000-00000000b042` · Provider: stripe (stripe-test) · Error: Your card was declined &lt;code&gt; [card_declined]",
			[]string{"acme_1", "Your card was declined"}},
		{"customer.created", "*customer.created* — customer · External ID: `initech_3` · Name: Initech · Email: ap@initech.example · Lago ID: `4a5b6c7d-0000-4000-8000-00000000c002`",
			[]string{"initech_3", "Initech"}},
		{"generic", "*order.paid* · Customer: `shop_customer_9` · Status: paid · Amount: €49.99 · ID: `ord_1001`",
			[]string{"order.paid", "shop_customer_9", "€49.99", "paid", "ord_1001"}},
		{"unshaped", "Message from `lago`", []string{"Message from lago"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			slack, subject, text, html := defaultParts(t, fixture(t, tt.fixture))
			got := fmt.Sprintf("== slack text\n%s\n== email subject\n%s\n== email text\n%s\n== email html\n%s\n", slack, subject, text, html)
			golden := filepath.Join("testdata", "golden", tt.fixture+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			if slack != tt.slack {
				t.Errorf("slack text\n got %s\nwant %s", slack, tt.slack)
			}
			if !strings.HasPrefix(subject, "[Switchboard] ") {
				t.Errorf("subject %q", subject)
			}
			for _, s := range tt.email {
				if !strings.Contains(text, s) {
					t.Errorf("email text lacks %q:\n%s", s, text)
				}
				if !strings.Contains(html, strings.ReplaceAll(s, "&", "&amp;")) {
					t.Errorf("email html lacks %q:\n%s", s, html)
				}
			}
		})
	}
}

// TestDefaultsEscapeValues: the defaults escape what a message contains
// for each part (mrkdwn in Slack, HTML in the html body).
func TestDefaultsEscapeValues(t *testing.T) {
	data := decode(t, `{"webhook_type":"customer.created","object_type":"customer","customer":{"external_id":"<@U123> & co","name":"<script>alert(1)</script>"}}`)
	slack, subject, text, html := defaultParts(t, data)
	if want := "*customer.created* — customer · External ID: `&lt;@U123&gt; &amp; co` · Name: &lt;script&gt;alert(1)&lt;/script&gt;"; slack != want {
		t.Errorf("slack %q", slack)
	}
	if subject != "[Switchboard] customer.created: <@U123> & co" {
		t.Errorf("subject %q", subject)
	}
	if !strings.Contains(text, "Name:             <script>alert(1)</script>") {
		t.Errorf("text:\n%s", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("html:\n%s", html)
	}
}

// TestDefaultsNeverFail: whatever JSON object arrives, the defaults render
// something useful and no error.
func TestDefaultsNeverFail(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		slack string
	}{
		{"empty", `{}`, "Message from `an unknown source`"},
		{"object is a list", `{"webhook_type":"wallet.created","object_type":"wallet","wallet":[1,2,3]}`, "*wallet.created*"},
		{"nulls and wrong types", `{"webhook_type":null,"object_type":"invoice","invoice":{"total_amount_cents":"x","currency":{"a":1},"number":{"x":1},"status":[1],"provider_error":[1,2],"customer":null}}`,
			"Message from `an unknown source` — invoice"},
		{"meta is not an object", `{"wallet":[1,2,3],"meta":7}`, "Message from `an unknown source`"},
		{"object_type is a number", `{"object_type":5,"type":"x"}`, "*x*"},
		{"amount without currency", `{"type":"t","amount_cents":1234}`, "*t* · Amount: 12.34"},
		{"huge amount", `{"type":"t","total_amount_cents":1e300,"currency":"USD"}`, ""},
		{"provider error object without message", `{"type":"t","provider_error":{"code":"x"}}`, "*t* · Error: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := decode(t, tt.msg)
			slack, subject, _, _ := defaultParts(t, data)
			if tt.slack != "" && slack != tt.slack {
				t.Errorf("slack\n got %s\nwant %s", slack, tt.slack)
			}
			if subject == "" {
				t.Error("empty subject")
			}
		})
	}
}

// TestDefaultFiles: every built-in parses, defines the blocks its channel
// reads, and compiles with the router's escaping; HTTP has no blocks (the
// router forwards the original bytes); other kinds have none.
func TestDefaultFiles(t *testing.T) {
	tests := []struct {
		kind   string
		blocks []string
	}{
		{"slack", []string{"text"}},
		{"email", []string{"html", "subject", "text"}},
		{"http", nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			f, err := parseDefault(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Blocks(); !slices.Equal(got, tt.blocks) {
				t.Fatalf("blocks %v, want %v", got, tt.blocks)
			}
			for _, b := range tt.blocks {
				esc := Plain
				switch {
				case b == "html":
					esc = HTML
				case tt.kind == "slack":
					esc = Mrkdwn
				}
				if _, err := f.Block(b, esc, Options{}); err != nil {
					t.Errorf("%s: %v", b, err)
				}
			}
		})
	}
	for _, kind := range []string{"", "sms", "../defaults/slack", "SLACK"} {
		if Default(kind) != nil {
			t.Errorf("Default(%q) is not nil", kind)
		}
	}
}

// FuzzDefaults renders the built-in templates for arbitrary JSON objects:
// they must never fail nor print "<no value>".
func FuzzDefaults(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.json")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"webhook_type":null,"invoice":{"total_amount_cents":"x","customer":null}}`))
	f.Add([]byte(`{"object_type":"wallet","wallet":{"balance_cents":1e300,"currency":7,"status":{"a":[]}},"meta":[1]}`))
	var tms []*Template
	for _, c := range []struct {
		kind, block string
		esc         Escape
	}{{"slack", "text", Mrkdwn}, {"email", "subject", Plain}, {"email", "text", Plain}, {"email", "html", HTML}} {
		tm, err := Default(c.kind).Block(c.block, c.esc, Options{})
		if err != nil {
			f.Fatal(err)
		}
		tms = append(tms, tm)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var data map[string]any
		if json.Unmarshal(body, &data) != nil || data == nil {
			return
		}
		for _, tm := range tms {
			out, err := tm.Execute(data)
			if err != nil && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: %v", body, err)
			}
			if strings.Contains(out, "<no value>") {
				t.Fatalf("<no value> in %q", out)
			}
		}
	})
}
