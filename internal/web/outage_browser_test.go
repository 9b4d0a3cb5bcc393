package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// The Channels page shows a failing channel as open with its backlog, and
// the deliveries page replays a channel's dead letters in bulk.
func TestOutageInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startServer(t)
	login(t, ctx, s)

	// Two dead letters (Slack refuses the channel), then five failures
	// in a row: the breaker opens.
	s.slack.Reply(testpeer.SlackError("channel_not_found"), testpeer.SlackError("channel_not_found"))
	for i := range 2 {
		s.postWebhook(t, []byte(fmt.Sprintf(`{"webhook_type":"invoice.created","invoice":{"number":"INV-D%d"}}`, i)))
	}
	if _, err := s.slack.WaitFor(2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		s.slack.Reply(testpeer.SlackReply{Status: 503})
	}
	for i := range 6 {
		s.postWebhook(t, []byte(fmt.Sprintf(`{"webhook_type":"invoice.created","invoice":{"number":"INV-F%d"}}`, i)))
	}
	if _, err := s.slack.WaitFor(7, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The fifth failure's outcome is written a moment after Slack
	// answered; the page is read once the store says open.
	testkit.Eventually(t, "the breaker opens", 20*time.Second, func() bool {
		return s.channelState(t, "billing") == "open"
	})
	run(t, ctx, "channel shows open with its backlog",
		chromedp.Navigate(s.url+"/ui/channels"),
		waitText("#channel-billing .channel-state", "open"),
		waitText("#channel-billing .channel-state", "6 waiting"),
		waitText("#channel-billing .channel-state", "unexpected status 503"),
	)
	screenshot(t, ctx, "channel-open")

	run(t, ctx, "bulk replay of the channel's dead letters",
		chromedp.Navigate(s.url+"/ui/deliveries"),
		waitText("h1", "Deliveries"),
		setField("#r-channel", "billing"),
		acceptConfirms(),
		chromedp.Click(chromedp.CSS("#bulk-replay-button")),
		waitText("#bulk-replay-result", "Requeued 2 dead letters."),
	)
}

// channelState reads a channel's breaker state from the admin API.
func (s *server) channelState(t *testing.T, name string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/channels", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Channels []struct {
			Name   string `json:"name"`
			Health *struct {
				State string `json:"state"`
			} `json:"health"`
		} `json:"channels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Channels {
		if c.Name == name && c.Health != nil {
			return c.Health.State
		}
	}
	return ""
}
