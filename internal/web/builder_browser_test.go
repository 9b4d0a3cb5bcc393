package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// value returns the value of the form control sel.
func value(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).value||""`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// js evaluates a JavaScript expression to a string.
func js(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// said checks that try-it says text as a condition that holds ("true") or
// not ("false").
func said(t *testing.T, ctx context.Context, text, class string) {
	t.Helper()
	got := js(t, ctx, fmt.Sprintf(`(Array.from(document.querySelectorAll("#try-said li")).find(li => li.textContent.includes(%q))||{}).className||"none"`, text))
	if got != class {
		t.Fatalf("try-it says %q as %q, want %q:\n%s", text, got, class, js(t, ctx, `document.querySelector("#try-said").textContent`))
	}
}

// A finance person builds "an invoice over 5,000 EUR" from the pickers:
// fields in words grouped by object and searchable, the amount in euros,
// try-it in words with the message's values, the saved file in cents
// with the currency condition, and the rule reopened as it was built.
func TestBuilderInWordsInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	t.Run("fields in words, grouped by object, searchable", func(t *testing.T) {
		run(t, ctx, "open the builder",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			setField("#type", "invoice.created"),
		)
		got := js(t, ctx, `(() => { const o = document.querySelector('select[name=cond_field] option[value="invoice.total_amount_cents"]');
			return o.parentElement.label + " | " + o.textContent + " | " + o.title; })()`)
		if !strings.HasPrefix(got, "Invoice | Total amount | invoice.total_amount_cents — The total to pay") {
			t.Fatalf("the total amount is offered as %q", got)
		}
		if g := js(t, ctx, `document.querySelector('select[name=cond_field] option[value="invoice.customer.email"]').parentElement.label`); g != "Invoice › Customer" {
			t.Fatalf("the customer's email is grouped under %q", g)
		}
		run(t, ctx, "search", chromedp.SendKeys(chromedp.CSS(".field-search"), "total amount"))
		shown := js(t, ctx, `Array.from(document.querySelectorAll('select[name=cond_field] option')).filter(o => o.value && !o.hidden).map(o => o.value).join(",")`)
		if !strings.Contains(shown, "invoice.total_amount_cents") || strings.Contains(shown, "invoice.customer.email") {
			t.Fatalf("searching \"total amount\" leaves %s", shown)
		}
	})

	t.Run("5,000 EUR from the pickers is saved in cents with the currency", func(t *testing.T) {
		run(t, ctx, "build",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "large-eur-invoice"),
			setField("#type", "invoice.created"),
			setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
			waitText(".cond-help", "Invoice › Total amount"),
			waitText(".cond-help", "invoice.total_amount_cents"),
			setField(`select[name=cond_op]`, ">="),
			setField(`input[name=cond_value]`, "5,000"),
			waitText("#build-error", `choose its currency, or "any currency"`),
			setField(`select[name=cond_currency]`, "EUR"),
			waitText("#built", `webhook_type == "invoice.created" && invoice.total_amount_cents >= 500000 && invoice.currency == "EUR"`),
			waitText("#money-note-0", "Only EUR amounts"),
		)
		if op := js(t, ctx, `document.querySelector('select[name=cond_op]').selectedOptions[0].textContent`); op != "is at least" {
			t.Fatalf("the operator reads %q", op)
		}
		screenshot(t, ctx, "editor-builder-words")
		run(t, ctx, "try it on the Lago example (a USD invoice of 18,747.30)",
			setField("#try-example", "invoice.created"),
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "No match"),
			waitText("#try-said", "Invoice › Currency is USD — the rule wants EUR"),
			waitText("#try-said", "Invoice › Total amount is 18,747.30 — the rule wants at least 5,000.00"),
			waitText("#try-watch", "This message is invoice.created"),
			waitText("#try-watch", "all-invoices (matches it)"),
			waitText("#try-message", "invoice ACME-2025-0042"),
		)
		said(t, ctx, "Invoice › Currency is USD — the rule wants EUR", "false")
		said(t, ctx, "Invoice › Total amount is 18,747.30 — the rule wants at least 5,000.00", "true")
		screenshot(t, ctx, "editor-try-words")
		run(t, ctx, "save",
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#rules-table", `Saved rule "large-eur-invoice"`),
		)
		if f := s.file(t); !strings.Contains(f, `invoice.total_amount_cents >= 500000 && invoice.currency == "EUR"`) {
			t.Fatalf("the saved file lacks the amount in cents and the currency:\n%s", f)
		}
		run(t, ctx, "reopen",
			chromedp.Navigate(s.url+"/ui/rules/large-eur-invoice/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")),
		)
		if v, c := value(t, ctx, `input[name=cond_value]`), value(t, ctx, `select[name=cond_currency]`); v != "5,000.00" || c != "EUR" {
			t.Fatalf("reopened as %q %q, want 5,000.00 EUR", v, c)
		}
		if n := count(ctx, t, "tr.cond-row"); n != 1 {
			t.Fatalf("reopened with %d rows, want 1 (the currency is part of the amount's row)", n)
		}
	})

	t.Run("is one of, any of, round trip", func(t *testing.T) {
		run(t, ctx, "build",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "closed-or-gbp"),
			setField("#type", "invoice.created"),
			setField(`select[name=cond_field]`, "invoice.status"),
			setField(`select[name=cond_op]`, "in"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=cond_set_0][value=voided]`)),
			chromedp.Click(chromedp.CSS(`input[name=cond_set_0][value=finalized]`)),
			chromedp.Func(htmxIdle),
			chromedp.Click(chromedp.CSS(`input[name=cond_set_0][value=voided]`)),
			chromedp.Func(htmxIdle),
			chromedp.Click(chromedp.CSS("#add-condition")),
			chromedp.Func(htmxIdle),
			setField(`tr.cond-row:nth-of-type(3) select[name=cond_field]`, "invoice.currency"),
			setField(`tr.cond-row:nth-of-type(3) select[name=cond_value]`, "GBP"),
			setField("#join", "any"),
			waitText("#built", `webhook_type == "invoice.created" && (invoice.status in ["finalized", "voided"] || invoice.currency == "GBP")`),
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "Match"),
			waitText("#try-said", "Invoice › Status is finalized — the rule wants one of finalized, voided"),
			waitText("#try-said", "Invoice › Currency is USD — the rule wants GBP"),
		)
		said(t, ctx, "Invoice › Status is finalized — the rule wants one of finalized, voided", "true")
		said(t, ctx, "Invoice › Currency is USD — the rule wants GBP", "false")
		run(t, ctx, "save and reopen",
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#rules-table", `Saved rule "closed-or-gbp"`),
			chromedp.Navigate(s.url+"/ui/rules/closed-or-gbp/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")),
			waitText("#built", `(invoice.status in ["finalized", "voided"] || invoice.currency == "GBP")`),
		)
		if j := value(t, ctx, "#join"); j != "any" {
			t.Fatalf("reopened with join %q", j)
		}
		checked := js(t, ctx, `Array.from(document.querySelectorAll('input[name=cond_set_0]:checked')).map(e => e.value).join(",")`)
		if checked != "finalized,voided" {
			t.Fatalf("reopened with %q checked", checked)
		}
	})

	t.Run("received messages are listed by what identifies them", func(t *testing.T) {
		catalog, err := lago.Load()
		if err != nil {
			t.Fatal(err)
		}
		invoice, _ := catalog.Example("invoice.created")
		s.postWebhook(t, invoice)
		waitFor(t, "the message is stored", func() bool {
			run(t, ctx, "open", chromedp.Navigate(s.url+"/ui/rules/new"), chromedp.WaitVisible(chromedp.CSS("#name")))
			return strings.Contains(js(t, ctx, `document.querySelector("#try-recent").textContent`), "invoice.created")
		})
		if got := js(t, ctx, `document.querySelector("#try-recent option").textContent`); !strings.Contains(got, "invoice.created · invoice ACME-2025-0042 · Acme Robotics · 18,747.30 USD") {
			t.Fatalf("the received message is listed as %q", got)
		}
	})

	t.Run("a hand-written expression beyond the builder is said so", func(t *testing.T) {
		f := s.file(t) + "  - name: many-fees\n    when: len(invoice.fees) > 2\n    send:\n      - to: billing\n"
		if err := os.WriteFile(s.rulesPath, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the rule is loaded", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/rules"), "many-fees") })
		run(t, ctx, "open",
			chromedp.Navigate(s.url+"/ui/rules/many-fees/edit"),
			chromedp.WaitVisible(chromedp.CSS("#when")),
			waitText("#condition", "written by hand and says more than the guided builder can show"),
		)
	})
}

// Errors in plain words, each on the field it concerns; a problem in
// another rule names that rule.
func TestErrorsInWordsInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	t.Run("an amount that is not one, on its row", func(t *testing.T) {
		run(t, ctx, "type 5k",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			setField("#type", "invoice.created"),
			setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
			setField(`select[name=cond_currency]`, "EUR"),
			setField(`input[name=cond_value]`, "5k"),
			waitText("#row-error-0", `"5k" is not an amount; write it like 5,000.00`),
			setField(`input[name=cond_value]`, "5,000"),
			waitText("#built", "invoice.total_amount_cents >= 500000"),
		)
		if text := js(t, ctx, `document.querySelector("#row-error-0").textContent`); strings.TrimSpace(text) != "" {
			t.Fatalf("the row still says %q after the amount was fixed", text)
		}
	})

	t.Run("a single = in an expression", func(t *testing.T) {
		run(t, ctx, "type it",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.Click(chromedp.CSS(`button[hx-vals*='"expr"']`)),
			chromedp.WaitVisible(chromedp.CSS("#when")),
			setField("#when", `webhook_type = "invoice.created"`),
			waitText("#expr-check", `a single "=" is not a comparison: write "==" for "is"`),
		)
	})

	t.Run("a condition that reads into a missing object, on try", func(t *testing.T) {
		run(t, ctx, "try on a customer message",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.Click(chromedp.CSS(`button[hx-vals*='"expr"']`)),
			chromedp.WaitVisible(chromedp.CSS("#when")),
			setField("#when", `invoice.customer.currency == "EUR"`),
			chromedp.Click(chromedp.CSS(`input[name=try_source][value=paste]`)),
			setField("#try-json", `{"webhook_type": "customer.created", "object_type": "customer", "customer": {"currency": "EUR"}}`),
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "No match"),
			waitText("#try-result", `there is nothing to read "customer" from in this message`),
			waitText("#try-watch", "This message is customer.created"),
		)
	})

	t.Run("another rule's problem names that rule, in words", func(t *testing.T) {
		broken := s.file(t) + "  - name: hand-edited\n    when: webhook_type = \"invoice.created\"\n    send:\n      - to: billing\n"
		if err := os.WriteFile(s.rulesPath, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "save another rule",
			chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")),
			setField("#description", "Changed"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#save-elsewhere", "the file has another problem: rule hand-edited, line"),
			waitText("#save-elsewhere", `a single "=" is not a comparison`),
		)
		if text := js(t, ctx, `document.querySelector("#err-when").textContent`); strings.TrimSpace(text) != "" {
			t.Fatalf("the other rule's problem is shown on this rule's condition: %q", text)
		}
	})
}
