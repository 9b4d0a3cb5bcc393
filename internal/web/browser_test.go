package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	testbrowser "github.com/switchboard-dev/switchboard/internal/testkit/browser"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

const adminToken = "ui-test-admin-token-4c8e2a9f1b7d3e56"

// rulesFile has comments the editor must keep.
const rulesFile = `# Switchboard rules for the editor test.
# This comment must survive every save.

sources:
  lago:
    lago: {}   # unsigned: test only

channels:
  billing:
    slack:
      token: xoxb-ui-test
      channel: "#billing"
      api_url: %s

rules:
  # Every invoice, to Slack.
  - name: all-invoices
    description: Every invoice event
    when: webhook_type startsWith "invoice."
    send:
      - to: billing
`

// server is a running switchboard with the editor.
type server struct {
	url, rulesPath string
	slack          *testpeer.SlackServer
}

func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	slack := testpeer.NewSlack(t)
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(rulesFile, slack.APIURL())), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpls := filepath.Join(dir, "templates")
	if err := os.Mkdir(tmpls, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpls, "invoice.tmpl"), []byte(`{{ define "text" }}Invoice {{ .invoice.number }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{
			Rules: rules, Templates: tmpls, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
			AdminToken: secret.String(adminToken), Logger: slog.New(slog.DiscardHandler), EditorVars: "UI_*",
			ShutdownGrace: 2 * time.Second, Ready: func(addr string) { ready <- addr },
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	return &server{url: "http://" + addr, rulesPath: rules, slack: slack}
}

// apiHas reports whether the admin API serves path (the rule-writing
// backend lands separately).
func (s *server) apiHas(t *testing.T, path string) bool {
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode != http.StatusNotFound
}

func (s *server) postWebhook(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post(s.url+"/webhooks/lago", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// browser starts headless Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	return testbrowser.Start(t)
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	runWithin(t, ctx, 15*time.Second, what, actions...)
}

// runWithin is run with another bound, for a step whose server side is
// slow under the race detector (a backtest compiles and routes twice).
func runWithin(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.querySelector("#condition") ? document.querySelector("#condition").outerHTML : document.body.outerHTML`))
		t.Fatalf("%s: %v\npage: %s", what, err, html)
	}
}

// screenshot writes name.png into $SWITCHBOARD_SCREENSHOTS, or into a
// directory under the system temp directory (testbrowser.Save). Refresh
// the README's with
//
//	SWITCHBOARD_SCREENSHOTS=$PWD/docs/screenshots go test ./internal/web
//
// (a plain test run leaves the work tree untouched).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	testbrowser.Save(t, name, png)
}

// waitText polls until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			got, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))(ctx, tg)
			if err == nil && strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %q in %s (have %q, %v): %w", want, sel, got, err, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// setField sets a form control's value and fires change, as a person
// picking or typing would.
func setField(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// Content htmx just swapped in gets its listeners after settling.
		if err := htmxIdle(ctx, tg); err != nil {
			return err
		}
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value))(ctx, tg)
		if err != nil {
			return err
		}
		return htmxIdle(ctx, tg)
	})
}

// clickIdle clicks sel once htmx is idle, from the page's script rather
// than at the element's coordinates: a swap that moves the layout between
// finding the element and clicking it cannot make the click miss.
func clickIdle(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if err := htmxIdle(ctx, tg); err != nil {
			return err
		}
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.querySelector(%q).click(); return true; })()`, sel))(ctx, tg)
		return err
	})
}

// htmxIdle waits until htmx has no request in flight, so that the next
// step acts on the swapped-in page.
func htmxIdle(ctx context.Context, tg *chromedp.Target) error {
	time.Sleep(100 * time.Millisecond)
	for {
		busy, err := chromedp.Evaluate[bool](`document.querySelector('.htmx-request') !== null`)(ctx, tg)
		if err == nil && !busy {
			time.Sleep(50 * time.Millisecond)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func login(t *testing.T, ctx context.Context, s *server) {
	t.Helper()
	run(t, ctx, "log in",
		chromedp.Navigate(s.url+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Submit(chromedp.CSS("#token")),
		waitText("h1", "Rules"),
	)
}

func TestEditorInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	catalog, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	invoice, _ := catalog.Example("invoice.created")

	t.Run("login refuses a wrong token", func(t *testing.T) {
		run(t, ctx, "wrong token",
			chromedp.Navigate(s.url+"/ui/login"),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), "nope"),
			chromedp.Submit(chromedp.CSS("#token")),
			waitText(".error", "not the admin token"),
		)
		screenshot(t, ctx, "login")
	})
	login(t, ctx, s)
	screenshot(t, ctx, "rules")

	editing := s.apiHas(t, "/api/v1/history")
	t.Run("build, try and save a rule", func(t *testing.T) {
		original, _ := os.ReadFile(s.rulesPath)
		run(t, ctx, "guided builder",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "big-invoice"),
			setField("#type", "invoice.created"),
			waitText("#built", `webhook_type == "invoice.created"`),
			setField(`select[name=cond_field]`, "invoice.total_amount_cents"),
			setField(`select[name=cond_op]`, ">="),
			setField(`select[name=cond_currency]`, "USD"),
			setField(`input[name=cond_value]`, "10,000.00"),
			waitText("#built", `webhook_type == "invoice.created" && invoice.total_amount_cents >= 1000000 && invoice.currency == "USD"`),
			setField("#send-kind-0", "message"),
			chromedp.WaitVisible(chromedp.CSS("#send-message-0")),
			setField("#send-message-0", "Big invoice {{ .invoice.number }}"),
			setField("#try-example", "invoice.created"),
		)
		screenshot(t, ctx, "editor-builder")
		if !editing {
			t.Fatal("the admin API cannot test or save unsaved rules: its probe answered 404")
		}
		run(t, ctx, "try it",
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "Match"),
			waitText("#try-result .part-text", "Big invoice ACME-2025-0042"),
		)
		screenshot(t, ctx, "editor-try-match")
		run(t, ctx, "no match",
			setField(`input[name=cond_value]`, "20,000"),
			waitText("#built", "invoice.total_amount_cents >= 2000000"),
			chromedp.Click(chromedp.CSS("#try-button")),
			waitText("#try-verdict", "No match"),
			waitText("#try-result .explain li.false", "invoice.total_amount_cents >= 2000000"),
		)
		screenshot(t, ctx, "editor-try-no-match")
		run(t, ctx, "save",
			setField(`input[name=cond_value]`, "10,000"),
			waitText("#built", "invoice.total_amount_cents >= 1000000"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#rules-table", `Saved rule "big-invoice"`),
			waitText("#rules-table", "big-invoice"),
		)
		after, _ := os.ReadFile(s.rulesPath)
		for _, want := range []string{"name: big-invoice", "invoice.total_amount_cents >= 1000000", "Big invoice {{ .invoice.number }}"} {
			if !strings.Contains(string(after), want) {
				t.Errorf("rules file lacks %q:\n%s", want, after)
			}
		}
		for _, line := range strings.Split(string(original), "\n") {
			if strings.Contains(line, "#") && !strings.Contains(string(after), line) {
				t.Errorf("rules file lost the line %q:\n%s", line, after)
			}
		}

		s.postWebhook(t, invoice)
		testkit.Eventually(t, "a delivered big-invoice delivery listed", 30*time.Second, func() bool {
			run(t, ctx, "deliveries", chromedp.Navigate(s.url+"/ui/deliveries?rule=big-invoice"),
				chromedp.WaitVisible(chromedp.CSS("#deliveries")))
			text, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#deliveries tbody")))
			return strings.Contains(text, "big-invoice") && strings.Contains(text, "delivered")
		})
		screenshot(t, ctx, "deliveries")
		found := false
		for _, r := range s.slack.Requests() {
			if r.Text() == "Big invoice ACME-2025-0042" {
				found = true
			}
		}
		if !found {
			t.Errorf("slack never received the new rule's message")
		}
	})

	t.Run("an invalid expression shows its error and is not saved", func(t *testing.T) {
		before, _ := os.ReadFile(s.rulesPath)
		run(t, ctx, "invalid expression",
			chromedp.Navigate(s.url+"/ui/rules/new"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), "broken"),
			chromedp.Click(chromedp.CSS(`button[hx-vals*='"expr"']`)),
			chromedp.WaitVisible(chromedp.CSS("#when")),
			setField("#when", `webhook_type == "invoice.created" &&& 3`),
			waitText("#expr-check", "unexpected token"),
			waitText("#expr-check .caret", "^"),
		)
		screenshot(t, ctx, "editor-invalid")
		run(t, ctx, "save refused",
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#save-problem", "does not compile"),
		)
		if after, _ := os.ReadFile(s.rulesPath); !bytes.Equal(after, before) {
			t.Errorf("the rules file changed:\n%s", after)
		}
	})

	t.Run("a concurrent edit on disk makes save refuse", func(t *testing.T) {
		if !editing {
			t.Fatal("the admin API has no rule-writing endpoints: its probe answered 404")
		}
		run(t, ctx, "open",
			chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
			chromedp.WaitVisible(chromedp.CSS("#description")),
		)
		src, _ := os.ReadFile(s.rulesPath)
		edited := append(src, []byte("# edited by hand meanwhile\n")...)
		if err := os.WriteFile(s.rulesPath, edited, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "stale save",
			setField("#description", "Changed in the editor"),
			chromedp.Click(chromedp.CSS("#save-button")),
			waitText("#save-problem", "changed on disk since you opened it"),
		)
		screenshot(t, ctx, "editor-conflict")
		if after, _ := os.ReadFile(s.rulesPath); !bytes.Equal(after, edited) {
			t.Errorf("the rules file changed:\n%s", after)
		}
	})

	t.Run("pages", func(t *testing.T) {
		s.postWebhook(t, invoice)
		run(t, ctx, "deliveries page",
			chromedp.Navigate(s.url+"/ui/deliveries"),
			waitText("#deliveries", "all-invoices"),
			chromedp.Navigate(s.url+"/ui/rules"),
			waitText("#rules-table", "all-invoices"),
		)
		if !editing {
			screenshot(t, ctx, "deliveries")
		}
		screenshot(t, ctx, "rules")
		run(t, ctx, "channels page",
			chromedp.Navigate(s.url+"/ui/channels"),
			waitText("main", "billing"),
		)
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, "xoxb-ui-test") {
			t.Error("the channels page shows the Slack token")
		}
		screenshot(t, ctx, "channels")
		run(t, ctx, "editor page", chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"), waitText("#built", `webhook_type startsWith "invoice."`))
		screenshot(t, ctx, "editor-expression")
	})
}
