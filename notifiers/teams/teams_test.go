package teams_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/teams"
)

// hookPath stands for the credential part of a Workflows URL.
const hookPath = "/workflows/2b8f1c7e/triggers/manual/paths/invoke?api-version=1&sig=S1GNATURE0abcdef"

func newNotifier(t *testing.T, peer *testpeer.Receiver) *teams.Notifier {
	t.Helper()
	n, err := teams.New(teams.Config{WebhookURL: secret.String(peer.URL() + hookPath)}, notifiers.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

type posted struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string          `json:"contentType"`
		ContentURL  *string         `json:"contentUrl"`
		Content     map[string]any  `json:"content"`
		Raw         json.RawMessage `json:"-"`
	} `json:"attachments"`
}

func decode(t *testing.T, r testpeer.Request) map[string]any {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != "/workflows/2b8f1c7e/triggers/manual/paths/invoke" || !strings.Contains(r.RawQuery, "sig=S1GNATURE0abcdef") {
		t.Fatalf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	var p posted
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "message" || len(p.Attachments) != 1 || p.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		!strings.Contains(string(r.Body), `"contentUrl":null`) {
		t.Fatalf("envelope %s", r.Body)
	}
	return p.Attachments[0].Content
}

func TestCard(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: http.StatusAccepted})
	n := newNotifier(t, peer)
	card := `{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"**invoice.created** · Customer: acme\\_1","wrap":true},
	  {"type":"FactSet","facts":[{"title":"Total","value":"$18.00"}]}]}`
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Card: card, Text: "ignored"}}); err != nil {
		t.Fatal(err)
	}
	c := decode(t, peer.Requests()[0])
	body := c["body"].([]any)
	if c["type"] != "AdaptiveCard" || c["version"] != "1.5" || c["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" || len(body) != 2 {
		t.Fatalf("card %v", c)
	}
	if tb := body[0].(map[string]any); tb["text"] != `**invoice.created** · Customer: acme\_1` {
		t.Errorf("text block %v", tb)
	}
}

func TestTextCardAndTest(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: http.StatusAccepted})
	n := newNotifier(t, peer)
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Test: true, Parts: notifiers.Parts{Text: "Channel <b>x</b> failed"}}); err != nil {
		t.Fatal(err)
	}
	r := peer.Requests()[0]
	c := decode(t, r)
	body := c["body"].([]any)
	if len(body) != 2 || !strings.Contains(body[0].(map[string]any)["text"].(string), "[TEST]") ||
		body[1].(map[string]any)["text"] != "Channel <b>x</b> failed" || c["version"] != "1.4" {
		t.Fatalf("card %v", c)
	}
	if strings.Contains(string(r.Body), `\u003c`) {
		t.Errorf("HTML-escaped JSON: %s", r.Body)
	}
}

func TestSizeLimit(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	n := newNotifier(t, peer)
	big := `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"` + strings.Repeat("x", teams.MaxMessageBytes) + `"}]}`
	err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Card: big}})
	if !notifiers.IsPermanent(err) || !strings.Contains(err.Error(), "over Teams' limit of 28 KB") {
		t.Fatalf("oversized card: %v", err)
	}
	if peer.Count() != 0 {
		t.Fatal("an oversized card was sent")
	}
	// Just under the limit goes out.
	fill := teams.MaxMessageBytes - 400
	ok := `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"` + strings.Repeat("x", fill) + `"}]}`
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Card: ok}}); err != nil {
		t.Fatal(err)
	}
	if got := len(peer.Requests()[0].Body); got > teams.MaxMessageBytes {
		t.Fatalf("sent %d bytes", got)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     testpeer.Reply
		permanent bool
		after     time.Duration
		want      string
	}{
		{"bad request", testpeer.Reply{Status: 400, Body: `{"error":{"code":"TriggerInputSchemaMismatch","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`},
			true, 0, "TriggerInputSchemaMismatch: The input body"},
		{"too large", testpeer.Reply{Status: 413, Body: "Request Entity Too Large"}, true, 0, "too large"},
		{"throttled", testpeer.Reply{Status: 429, RetryAfter: "7", Body: `{"error":{"code":"WorkflowTriggeredTooManyTimes","message":"slow down"}}`}, false, 7 * time.Second, "slow down"},
		{"unavailable", testpeer.Reply{Status: 503}, false, 0, "status 503"},
		{"not found", testpeer.Reply{Status: 404, Body: `{"error":{"code":"WorkflowNotFound","message":"The workflow '2b8f1c7e' could not be found."}}`}, true, 0, "WorkflowNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := testpeer.NewReceiver(t)
			peer.Enqueue(tc.reply)
			n := newNotifier(t, peer)
			err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
			if err == nil {
				t.Fatal("no error")
			}
			if notifiers.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v: %v", notifiers.IsPermanent(err), err)
			}
			after, ok := notifiers.RetryAfter(err)
			if ok != (tc.after > 0) || after != tc.after {
				t.Errorf("retry after %v %v, want %v", after, ok, tc.after)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, s := range []string{"S1GNATURE0abcdef", "2b8f1c7e/triggers"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows the webhook URL: %v", err)
				}
			}
		})
	}
}

func TestUnreachableHidesURL(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.Enqueue(testpeer.Reply{Hang: true})
	n := newNotifier(t, peer)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := n.Notify(ctx, notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
	if err == nil || notifiers.IsPermanent(err) || strings.Contains(err.Error(), "S1GNATURE") || strings.Contains(err.Error(), "workflows") {
		t.Fatalf("hang: %v", err)
	}
}

func TestBadCards(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	n := newNotifier(t, peer)
	for name, p := range map[string]notifiers.Parts{
		"empty":      {},
		"not json":   {Card: `{"type":"AdaptiveCard",`},
		"not a card": {Card: `{"type":"message"}`},
		"not object": {Card: `[1]`},
	} {
		if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: p}); !notifiers.IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if peer.Count() != 0 {
		t.Fatal("a broken card was sent")
	}
}

func TestValidate(t *testing.T) {
	if err := (teams.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "webhook_url: required") {
		t.Errorf("empty: %v", err)
	}
	if err := (teams.Config{WebhookURL: "teams.example/x?sig=abc"}).Validate(); err == nil || strings.Contains(err.Error(), "sig=abc") {
		t.Errorf("bad url: %v", err)
	}
	if err := (teams.Config{WebhookURL: "https://prod.westeurope.logic.azure.com/workflows/x"}).Validate(); err != nil {
		t.Error(err)
	}
}
