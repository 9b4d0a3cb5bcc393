package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func (s *server) apiGet(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// An ops user silences a rule from the Silences page: matches are muted
// and logged with the silence's ID; a bad expression is refused with its
// error; expiring the silence lets notifications through again.
func TestSilencesInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)
	invoice := []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-9"}}`)

	run(t, ctx, "open the silences page",
		chromedp.Navigate(s.url+"/ui/silences"),
		waitText("h1", "Silences"),
		waitText("#silences-table", "No silences"),
	)
	run(t, ctx, "a bad expression is refused",
		setField("#silence-when", "invoice.total >"),
		chromedp.SendKeys(chromedp.CSS("#silence-reason"), "quarter close"),
		chromedp.Click(chromedp.CSS("#add-silence")),
		waitText("#silences-table", "The silence was not added"),
		waitText("#silences-table .field-error", "Condition: 1:"),
	)
	if text, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#silences-table"))); strings.Contains(text, "rules file") ||
		strings.Contains(text, "when: when:") || strings.Contains(text, "Condition: when:") {
		t.Fatalf("the refused silence speaks of the rules file or doubles its field: %s", text)
	}
	run(t, ctx, "add a silence",
		setField("#silence-rule", "all-invoices"),
		setField("#silence-when", ""),
		setField("#silence-duration", "1h"),
		setField("#silence-reason", "quarter close"),
		chromedp.Click(chromedp.CSS("#add-silence")),
		waitText("#silences-table", "added until"),
		waitText("#silences-table tbody", "active"),
	)
	screenshot(t, ctx, "silences")
	list := s.apiGet(t, "/api/v1/silences")
	if !strings.Contains(list, `"rule": "all-invoices"`) || !strings.Contains(list, `"author": "editor"`) {
		t.Fatalf("silence not stored as added: %s", list)
	}

	s.postWebhook(t, invoice)
	if got := s.apiGet(t, "/api/v1/deliveries?status=silenced"); !strings.Contains(got, `"reason": "silenced by sil-`) ||
		!strings.Contains(got, "quarter close") {
		t.Fatalf("the match was not silenced: %s", got)
	}
	if n := s.slack.Len(); n != 0 {
		t.Fatalf("Slack received %d messages during the silence", n)
	}

	// Sent anyway: the replayed delivery no longer says it is silenced.
	run(t, ctx, "send the silenced delivery anyway",
		chromedp.Navigate(s.url+"/ui/deliveries?status=silenced"),
		waitText("#deliveries tbody", "silenced by sil-"),
		chromedp.Click(chromedp.CSS("#deliveries tbody button")),
		waitText("#deliveries tbody", "Queued again"),
	)
	if _, err := s.slack.WaitFor(1, 20*time.Second); err != nil {
		t.Fatalf("the replayed delivery was not sent: %v", err)
	}
	waitFor(t, "the delivery to be marked delivered", func() bool {
		return strings.Contains(s.apiGet(t, "/api/v1/deliveries?status=delivered&rule=all-invoices"), `"id"`)
	})
	run(t, ctx, "the sent delivery says it was sent anyway",
		chromedp.Navigate(s.url+"/ui/deliveries?status=delivered&rule=all-invoices"),
		waitText("#deliveries tbody .reason", "sent anyway on replay; before that: silenced by sil-"),
	)

	run(t, ctx, "expire it",
		chromedp.Navigate(s.url+"/ui/silences"),
		waitText("#silences-table tbody", "active"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS("#silences-table tbody button")),
		waitText("#silences-table", "expired."),
		waitText("#silences-table tbody", "expired"),
	)
	s.postWebhook(t, invoice)
	if _, err := s.slack.WaitFor(2, 20*time.Second); err != nil {
		t.Fatalf("after the silence expired: %v", err)
	}
}
