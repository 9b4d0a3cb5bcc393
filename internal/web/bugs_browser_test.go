package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// slowClick presses the mouse on the element, holds it as a person does
// (the press blurs the field being typed in), and releases it.
func slowClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		xy, err := chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2]; })()`, sel))(ctx, tg)
		if err != nil {
			return err
		}
		if _, err := chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, tg); err != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
		_, err = chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, xy[0], xy[1], chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, tg)
		return err
	})
}

// count returns how many elements match sel.
func count(ctx context.Context, t *testing.T, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The editor's bugs found by using it as a finance person would, each
// reproduced as it happened.
func TestEditorBugsInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	t.Run("a click right after typing a value is not lost", func(t *testing.T) {
		run(t, ctx, "type a value, then click Add condition at once",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
			setField(`select[name=cond_currency]`, "any"),
			chromedp.Click(chromedp.CSS(`input[name=cond_value]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=cond_value]`), "5,000"),
			slowClick("#add-condition"),
			chromedp.Func(htmxIdle),
			waitText("#built", "invoice.total_amount_cents >= 500000"),
		)
		if n := count(ctx, t, "tr.cond-row"); n != 2 {
			t.Fatalf("%d condition rows after the click, want 2", n)
		}
	})

	t.Run("changing the event type says what it removed and clears the try result", func(t *testing.T) {
		run(t, ctx, "try on invoices, then switch to customers",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "switching"),
			setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
			setField(`select[name=cond_currency]`, "any"),
			setField(`input[name=cond_value]`, "10"),
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "Match"),
			setField("#type", "customer.created"),
			waitText("#builder-note", "Removed the condition on Invoice › Total amount (invoice.total_amount_cents)"),
			waitText("#try-result", "The event type changed to customer.created"),
		)
		if n := count(ctx, t, "#try-verdict"); n != 0 {
			t.Fatal("the result of the invoice try is still shown")
		}
		example, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#try-example").value`))
		if example != "customer.created" {
			t.Fatalf("try-it example is %q after the type changed", example)
		}
	})

	t.Run("a save refused for another rule names that rule", func(t *testing.T) {
		run(t, ctx, "open all-invoices", chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")))
		broken := s.file(t) + "  - name: hand-edited\n    when: webhook_type == \n    send:\n      - to: billing\n"
		if err := os.WriteFile(s.rulesPath, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "save",
			chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")),
			setField("#description", "Changed"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#save-problem", "this rule is fine, but the rules file has another problem"),
			waitText("#save-elsewhere", "rule hand-edited, line"),
		)
		if text, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#err-when"))); strings.TrimSpace(text) != "" {
			t.Fatalf("the other rule's error is shown on this rule's condition: %q", text)
		}
		if err := os.WriteFile(s.rulesPath, []byte(strings.TrimSuffix(broken, "  - name: hand-edited\n    when: webhook_type == \n    send:\n      - to: billing\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a rule is renamed and deleted; a name with a space is refused on its field", func(t *testing.T) {
		run(t, ctx, "a name with a space",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "big invoice > 5k"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#err-name", "letters"),
		)
		run(t, ctx, "create, rename, delete",
			setField("#name", "big.invoice-v1"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#rules-table", `Saved rule "big.invoice-v1"`),
			chromedp.Click(chromedp.CSS(`a[href="/ui/rules/big.invoice-v1/edit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#description")),
			setField("#name", "big.invoice_v2"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#rules-table", `Saved rule "big.invoice_v2"`),
			chromedp.Click(chromedp.CSS(`a[href="/ui/rules/big.invoice_v2/edit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#delete-button")),
			acceptConfirms(),
			chromedp.Click(chromedp.CSS("#delete-button")),
			waitText("#rules-table", `Deleted rule "big.invoice_v2"`),
		)
		if f := s.file(t); strings.Contains(f, "big.invoice") {
			t.Fatalf("the rule is still in the file:\n%s", f)
		}
	})
}

// apiSend calls the admin API with a JSON body and fails the test unless
// it answers 2xx.
func (s *server) apiSend(t *testing.T, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// Restoring one rule from the history shows the difference first and
// leaves a later edit of another rule intact; the file as it was before
// the first save can be restored.
func TestHistoryRestoreOneRuleInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	rule := func(name, desc string) string {
		return fmt.Sprintf(`{"name":%q,"description":%q,"enabled":true,"when":"webhook_type == \"invoice.created\"","send":[{"to":"billing"}]}`, name, desc)
	}
	s.apiSend(t, http.MethodPut, "/api/v1/rules/all-invoices", rule("all-invoices", "Changed in the editor"))
	s.apiSend(t, http.MethodPost, "/api/v1/rules", rule("later-rule", "Added later"))
	s.apiSend(t, http.MethodPut, "/api/v1/rules/later-rule", rule("later-rule", "Edited later"))

	var out struct {
		History []struct {
			ID     json.Number `json:"id"`
			Action string      `json:"action"`
		} `json:"history"`
	}
	_ = json.Unmarshal([]byte(s.apiGet(t, "/api/v1/history")), &out)
	original := ""
	for _, h := range out.History {
		if h.Action == "original" {
			original = h.ID.String()
		}
	}
	if original == "" {
		t.Fatalf("the file as it was before the first save is not in the history: %s", s.apiGet(t, "/api/v1/history"))
	}
	run(t, ctx, "compare, then restore one rule",
		chromedp.Navigate(s.url+"/ui/history"),
		setField("#restore-rule-"+original, "all-invoices"),
		chromedp.Click(chromedp.CSS("#history-"+original+" button.compare")),
		waitText("#history-diff .del", "description: Changed in the editor"),
		waitText("#history-diff .add", "description: Every invoice event"),
		chromedp.Click(chromedp.CSS("#restore-rule")),
		waitText("#history-table", `Restored rule "all-invoices" as saved in #`+original),
	)
	f := s.file(t)
	for _, want := range []string{"description: Every invoice event", "when: webhook_type startsWith \"invoice.\"",
		"name: later-rule", "Edited later", "# This comment must survive every save."} {
		if !strings.Contains(f, want) {
			t.Errorf("the file after restoring one rule lacks %q:\n%s", want, f)
		}
	}
}
