package discord_test

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
	"github.com/switchboard-dev/switchboard/notifiers/discord"
)

const (
	hookPath  = "/api/webhooks/1234567890/T0KENsecretT0KEN"
	hookToken = "T0KENsecretT0KEN"
)

func newNotifier(t *testing.T, peer *testpeer.Receiver, query, username string) *discord.Notifier {
	t.Helper()
	n, err := discord.New(discord.Config{WebhookURL: secret.String(peer.URL() + hookPath + query), Username: username},
		notifiers.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

type posted struct {
	Content         string           `json:"content"`
	Username        string           `json:"username"`
	Embeds          []map[string]any `json:"embeds"`
	AllowedMentions *struct {
		Parse []string `json:"parse"`
	} `json:"allowed_mentions"`
}

func decode(t *testing.T, r testpeer.Request) posted {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != hookPath {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	var p posted
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	// Mentions are off in every message: "parse" is present and empty.
	if p.AllowedMentions == nil || p.AllowedMentions.Parse == nil || len(p.AllowedMentions.Parse) != 0 ||
		!strings.Contains(string(r.Body), `"allowed_mentions":{"parse":[]}`) {
		t.Fatalf("allowed_mentions missing or not empty: %s", r.Body)
	}
	return p
}

func TestContentAndEmbeds(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: 200, Body: `{"id":"1","type":0}`})
	n := newNotifier(t, peer, "?thread_id=42", "Billing")
	embeds := `[{"title":"invoice.created","description":"Customer: \\@everyone","color":5793266,"fields":[{"name":"Total","value":"$18.00","inline":true}]}]`
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "New invoice <@&123>", Embeds: embeds}}); err != nil {
		t.Fatal(err)
	}
	r := peer.Requests()[0]
	p := decode(t, r)
	if p.Content != "New invoice <@&123>" || p.Username != "Billing" || len(p.Embeds) != 1 || p.Embeds[0]["title"] != "invoice.created" {
		t.Errorf("message %+v", p)
	}
	if r.RawQuery != "thread_id=42&wait=true" {
		t.Errorf("query %q", r.RawQuery)
	}
	// One embed object is taken as a list of one.
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Embeds: `{"description":"x"}`}}); err != nil {
		t.Fatal(err)
	}
	if p := decode(t, peer.Requests()[1]); len(p.Embeds) != 1 || p.Content != "" || p.Username != "Billing" {
		t.Errorf("single embed %+v", p)
	}
}

func TestTestDelivery(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(testpeer.Reply{Status: 204})
	n := newNotifier(t, peer, "", "")
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Test: true, Parts: notifiers.Parts{Text: "hello"}}); err != nil {
		t.Fatal(err)
	}
	if p := decode(t, peer.Requests()[0]); p.Content != discord.TestPrefix+"hello" || p.Username != "" {
		t.Errorf("test %+v", p)
	}
}

func TestLimits(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	n := newNotifier(t, peer, "", "")
	long := strings.Repeat("a", 2500)
	if err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: long}}); err != nil {
		t.Fatal(err)
	}
	if p := decode(t, peer.Requests()[0]); len([]rune(p.Content)) != 2000 {
		t.Errorf("content %d characters", len([]rune(p.Content)))
	}
	for name, parts := range map[string]notifiers.Parts{
		"empty":            {Text: " "},
		"embeds not json":  {Embeds: `[{"title":`},
		"embed not object": {Embeds: `["x"]`},
		"too many embeds":  {Embeds: "[" + strings.TrimSuffix(strings.Repeat(`{"title":"x"},`, 11), ",") + "]"},
		"too much text":    {Embeds: `[{"description":"` + strings.Repeat("d", 4000) + `"},{"title":"` + strings.Repeat("t", 2001) + `"}]`},
	} {
		err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: parts})
		if !notifiers.IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if peer.Count() != 1 {
		t.Errorf("%d requests, want 1", peer.Count())
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
		{"rate limited, body", testpeer.Reply{Status: 429, Body: `{"message":"You are being rate limited.","retry_after":1.234,"global":false}`},
			false, 1234 * time.Millisecond, "You are being rate limited."},
		{"rate limited, header longer", testpeer.Reply{Status: 429, RetryAfter: "3", Body: `{"message":"You are being rate limited.","retry_after":2.5,"global":true}`},
			false, 3 * time.Second, "rate limited"},
		{"empty message", testpeer.Reply{Status: 400, Body: `{"message":"Cannot send an empty message","code":50006}`}, true, 0, "Cannot send an empty message (code 50006)"},
		{"invalid form", testpeer.Reply{Status: 400, Body: `{"code":50035,"errors":{"embeds":{"0":{"color":{"_errors":[{"code":"NUMBER_TYPE_COERCE","message":"Value \"red\" is not int."}]}}}},"message":"Invalid Form Body"}`},
			true, 0, `Invalid Form Body (code 50035): {"embeds"`},
		{"unknown webhook", testpeer.Reply{Status: 404, Body: `{"message":"Unknown Webhook","code":10015}`}, true, 0, "Unknown Webhook"},
		{"bad gateway", testpeer.Reply{Status: 502, Body: "<html>502</html>"}, false, 0, "status 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := testpeer.NewReceiver(t)
			peer.Enqueue(tc.reply)
			n := newNotifier(t, peer, "", "")
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
			if strings.Contains(err.Error(), hookToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestUnreachableHidesToken(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.Enqueue(testpeer.Reply{Hang: true})
	n := newNotifier(t, peer, "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := n.Notify(ctx, notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
	if err == nil || notifiers.IsPermanent(err) || strings.Contains(err.Error(), hookToken) {
		t.Fatalf("hang: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  discord.Config
		want string
	}{
		{discord.Config{WebhookURL: "https://discord.com/api/webhooks/1/abc", Username: "Billing bot"}, ""},
		{discord.Config{}, "webhook_url: required"},
		{discord.Config{WebhookURL: "discord.com/api/webhooks/1/abc"}, "webhook_url: must be an http or https URL"},
		{discord.Config{WebhookURL: "https://discord.com/api/webhooks/1/abc", Username: "My Discord bot"}, `username: must not contain "discord"`},
		{discord.Config{WebhookURL: "https://discord.com/api/webhooks/1/abc", Username: strings.Repeat("b", 81)}, "username: must be 1 to 80"},
		{discord.Config{WebhookURL: "https://discord.com/api/webhooks/1/abc", Username: "@here"}, "username: must not contain @"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
