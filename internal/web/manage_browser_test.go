package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// acceptConfirms makes window.confirm (hx-confirm) answer yes.
func acceptConfirms() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(ctx, tg)
		return err
	})
}

func (s *server) file(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, 20*time.Second, cond)
}

// The rest of the editor, as an ops user drives it: the enable toggle,
// Send test, history restore, delete, the replay button on a dead letter,
// the load-error and read-only banners, and logging out.
func TestManagingRulesInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	original := s.file(t)
	invoice := []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-42"}}`)

	// Disable: the file says so and the rule stops matching.
	run(t, ctx, "disable the rule",
		chromedp.Navigate(s.url+"/ui/rules"),
		chromedp.Click(chromedp.CSS("#rule-all-invoices button.toggle")),
		waitText("#rule-all-invoices", "off"),
		waitText("#rules-table", `Rule "all-invoices" disabled.`),
	)
	if !strings.Contains(s.file(t), "enabled: false") || !strings.Contains(s.file(t), "# This comment must survive every save.") {
		t.Fatalf("file after disabling:\n%s", s.file(t))
	}
	waitFor(t, "the reload", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/rules/all-invoices"), `"enabled": false`) })
	s.postWebhook(t, invoice)
	if got := s.apiGet(t, "/api/v1/deliveries?rule=all-invoices"); strings.Contains(got, `"id"`) {
		t.Fatalf("a disabled rule delivered: %s", got)
	}
	run(t, ctx, "enable it again",
		chromedp.Click(chromedp.CSS("#rule-all-invoices button.toggle")),
		waitText("#rule-all-invoices", "on"),
	)
	waitFor(t, "the reload", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/rules/all-invoices"), `"enabled": true`) })

	// Send test: one real Slack message, marked as a test.
	run(t, ctx, "send a test",
		chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
		waitText("h1", "all-invoices"),
		chromedp.Click(chromedp.CSS("#send-test summary")),
		setField("#test-channel", "billing"),
		chromedp.Click(chromedp.CSS("#send-test-button")),
		waitText("#send-test-result", "Test sent to billing"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector("#send-test").scrollIntoView({block: "center"}); true`)(ctx, tg)
			return err
		}),
	)
	screenshot(t, ctx, "send-test")
	reqs, err := s.slack.WaitFor(1, 20*time.Second)
	if err != nil || !strings.HasPrefix(reqs[0].Text(), "[TEST] ") {
		t.Fatalf("Slack after Send test: %v %v", reqs, err)
	}

	// History: restoring the version saved by the first toggle brings
	// the disabled rule back, byte for byte.
	disabledVersion, enabledVersion := "", ""
	{
		var out struct {
			History []struct {
				ID      json.Number `json:"id"`
				Summary string      `json:"summary"`
			} `json:"history"`
		}
		_ = json.Unmarshal([]byte(s.apiGet(t, "/api/v1/history")), &out)
		for _, h := range out.History {
			switch {
			case strings.Contains(h.Summary, "disabled"):
				disabledVersion = h.ID.String()
			case strings.Contains(h.Summary, "enabled"):
				enabledVersion = h.ID.String()
			}
		}
		if disabledVersion == "" || enabledVersion == "" {
			t.Fatalf("no save that disabled the rule in the history: %s", s.apiGet(t, "/api/v1/history"))
		}
	}
	run(t, ctx, "restore the disabled version",
		chromedp.Navigate(s.url+"/ui/history"),
		waitText("#history-table", "disabled"),
		acceptConfirms(),
		chromedp.Click(chromedp.CSS(`#history-table button[hx-post="/ui/history/`+disabledVersion+`/restore"]`)),
		waitText("#history-table", "Restored the whole rules file as saved in #"+disabledVersion),
	)
	screenshot(t, ctx, "history")
	if !strings.Contains(s.file(t), "enabled: false") {
		t.Fatalf("file after restore:\n%s", s.file(t))
	}
	run(t, ctx, "restore the enabled version",
		chromedp.Navigate(s.url+"/ui/history"),
		acceptConfirms(),
		chromedp.Click(chromedp.CSS(`#history-table button[hx-post="/ui/history/`+enabledVersion+`/restore"]`)),
		waitText("#history-table", "Restored the whole rules file as saved in #"+enabledVersion),
	)
	if got := s.file(t); got != original {
		t.Fatalf("the version that enabled the rule again is not the original file:\n%s", got)
	}
	waitFor(t, "the reload", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/rules/all-invoices"), `"enabled": true`) })

	// A dead letter, replayed with its button once the peer is fixed.
	s.slack.Reply(testpeer.SlackError("channel_not_found"))
	s.postWebhook(t, invoice)
	waitFor(t, "a dead letter", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/deliveries?status=dead"), `"id"`) })
	run(t, ctx, "replay it",
		chromedp.Navigate(s.url+"/ui/deliveries?status=dead"),
		waitText("main", "channel_not_found"),
		chromedp.Click(chromedp.CSS(`button[hx-post$="/replay"]`)),
		waitText("main", "Queued again."),
	)
	waitFor(t, "the replayed delivery", func() bool {
		return strings.Contains(s.apiGet(t, "/api/v1/deliveries?status=delivered&rule=all-invoices"), "all-invoices") &&
			!strings.Contains(s.apiGet(t, "/api/v1/deliveries?status=dead"), `"id"`)
	})

	// The load-error banner shows the broken file's errors with positions;
	// the previous rules keep routing.
	broken := strings.Replace(original, `when: webhook_type startsWith "invoice."`, `when: webhook_type startsWith`, 1)
	if err := os.WriteFile(s.rulesPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/status"), `"ok": false`) })
	run(t, ctx, "see the load error",
		chromedp.Navigate(s.url+"/ui/rules"),
		waitText("#load-error", "does not load"),
		waitText("#load-error", "rules.yaml:"),
	)
	screenshot(t, ctx, "load-error")
	if err := os.WriteFile(s.rulesPath, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the good reload", func() bool { return strings.Contains(s.apiGet(t, "/api/v1/status"), `"ok": true`) })

	// Read-only: an immutable rules file (as root, permissions do not stop
	// writes; the immutable attribute does).
	if out, err := exec.Command("chattr", "+i", s.rulesPath).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chattr +i: %v %s", err, out)
		}
		t.Logf("skipping the read-only check: chattr +i: %v %s", err, out)
	} else {
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", s.rulesPath).Run() })
		run(t, ctx, "see the read-only banner",
			chromedp.Navigate(s.url+"/ui/rules"),
			waitText("#read-only", "Read-only"),
		)
		disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#rule-all-invoices button.toggle").disabled`))
		if err != nil || !disabled {
			t.Fatalf("the toggle is enabled on a read-only file (%v)", err)
		}
		run(t, ctx, "the editor is read-only", chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"), waitText("#read-only", "Read-only"))
		disabled, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#save-button").disabled`))
		if err != nil || !disabled {
			t.Fatalf("Save is enabled on a read-only file (%v)", err)
		}
		screenshot(t, ctx, "read-only")
		_ = exec.Command("chattr", "-i", s.rulesPath).Run()
	}

	// Delete, from the editor.
	run(t, ctx, "delete the rule",
		chromedp.Navigate(s.url+"/ui/rules/all-invoices/edit"),
		waitText("h1", "all-invoices"),
		acceptConfirms(),
		chromedp.Click(chromedp.CSS("#delete-button")),
		waitText("h1", "Rules"),
		waitText("main", "No rules yet."),
	)
	if got := s.file(t); strings.Contains(got, "all-invoices") || !strings.Contains(got, "# This comment must survive every save.") {
		t.Fatalf("file after delete:\n%s", got)
	}

	// Log out: the session ends; pages lead to the login form again.
	run(t, ctx, "log out",
		chromedp.Click(chromedp.CSS("form.logout button")),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.Navigate(s.url+"/ui/rules"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
}

// A form post with the session cookie but without the CSRF token is
// refused; with no admin token configured, /ui/ does not exist.
func TestCSRFAndNoToken(t *testing.T) {
	s := startServer(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/ui/login", strings.NewReader(url.Values{"token": {adminToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(s.url+"/ui/rules/all-invoices/toggle", url.Values{"version": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("toggle without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if !strings.Contains(s.file(t), "when: webhook_type startsWith") || strings.Contains(s.file(t), "enabled: false") {
		t.Fatal("the refused post changed the rules file")
	}

	// No admin token: the editor and the API answer 404.
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{Rules: rules, Templates: filepath.Join(dir, "t"), Listen: "127.0.0.1:0",
			DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler), Ready: func(a string) { ready <- a }})
	}()
	defer func() { cancel(); <-done }()
	addr := <-ready
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/ui", "/ui/", "/ui/login", "/ui/rules", "/ui/static/ui.css", "/api", "/api/v1/rules", "/-/reload"} {
		resp, err := noRedirect.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without an admin token: %d, want 404", p, resp.StatusCode)
		}
	}
}
