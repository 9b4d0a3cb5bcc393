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
		waitText("#silences-table", "when: when: 1:"),
	)
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

	run(t, ctx, "expire it",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS("#silences-table tbody button")),
		waitText("#silences-table", "expired."),
		waitText("#silences-table tbody", "expired"),
	)
	s.postWebhook(t, invoice)
	if _, err := s.slack.WaitFor(1, 20*time.Second); err != nil {
		t.Fatalf("after the silence expired: %v", err)
	}
}
