package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/testpeer"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/pagerduty"
)

// routingKey is a fake integration key of the right length.
const routingKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"

// accepted is PagerDuty's answer to a valid event.
var accepted = testpeer.Reply{Status: http.StatusAccepted, Body: `{"status":"success","message":"Event processed","dedup_key":"k"}`}

func newNotifier(t *testing.T, peer *testpeer.Receiver, severity string) *pagerduty.Notifier {
	t.Helper()
	n, err := pagerduty.New(pagerduty.Config{
		RoutingKey: secret.String(routingKey),
		Severity:   severity,
		APIURL:     secret.URL(peer.URL() + "/v2/enqueue"),
	}, notifiers.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// sent is the event as PagerDuty receives it.
type sent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

func decode(t *testing.T, r testpeer.Request) sent {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != "/v2/enqueue" {
		t.Fatalf("request %s %s, want POST /v2/enqueue", r.Method, r.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var s sent
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return s
}

func TestTriggerUpdateResolve(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(accepted)
	n := newNotifier(t, peer, "critical")
	ctx := context.Background()

	trigger := notifiers.Notification{ID: "d1", Rule: "overdue", ConversationKey: "overdue/inv_1", Parts: notifiers.Parts{
		Text:    "Invoice  overdue\n· INV-001",
		Details: `{"customer":"acme","total":"$18.00"}`,
		Source:  "lago",
	}}
	if err := n.Notify(ctx, trigger); err != nil {
		t.Fatal(err)
	}
	update := trigger
	update.ID, update.Parts.Text = "d2", "Invoice still overdue"
	if err := n.Notify(ctx, update); err != nil {
		t.Fatal(err)
	}
	resolve := notifiers.Notification{ID: "d3", Rule: "paid", ConversationKey: "overdue/inv_1", Resolve: true, Parts: notifiers.Parts{Text: "paid"}}
	if err := n.Notify(ctx, resolve); err != nil {
		t.Fatal(err)
	}

	reqs := peer.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	first := decode(t, reqs[0])
	if first.RoutingKey != routingKey || first.EventAction != "trigger" || first.DedupKey != "overdue/inv_1" || first.Client != "Switchboard" {
		t.Errorf("trigger = %+v", first)
	}
	p := first.Payload
	if p == nil || p.Summary != "Invoice overdue · INV-001" || p.Source != "lago" || p.Severity != "critical" ||
		p.CustomDetails["customer"] != "acme" {
		t.Fatalf("payload = %+v", p)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", p.Timestamp, err)
	}
	second := decode(t, reqs[1])
	if second.EventAction != "trigger" || second.DedupKey != "overdue/inv_1" || second.Payload.Summary != "Invoice still overdue" {
		t.Errorf("update = %+v", second)
	}
	third := decode(t, reqs[2])
	if third.EventAction != "resolve" || third.DedupKey != "overdue/inv_1" || third.Payload != nil {
		t.Errorf("resolve = %+v", third)
	}
}

func TestDedupKeyDefaults(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(accepted)
	n := newNotifier(t, peer, "")
	ctx := context.Background()
	long := strings.Repeat("k", 300)
	for _, d := range []notifiers.Notification{
		{ID: "delivery-7", Parts: notifiers.Parts{Text: "x"}},
		{ID: "delivery-8", ConversationKey: long, Parts: notifiers.Parts{Text: "x"}},
		{ID: "delivery-9", ConversationKey: "real-incident", Test: true, Parts: notifiers.Parts{Text: "x"}},
	} {
		if err := n.Notify(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	reqs := peer.Requests()
	if s := decode(t, reqs[0]); s.DedupKey != "delivery-7" || s.Payload.Severity != "error" || s.Payload.Source != "switchboard" {
		t.Errorf("no conversation key: %+v %+v", s, s.Payload)
	}
	if s := decode(t, reqs[1]); len(s.DedupKey) > 255 || !strings.HasPrefix(s.DedupKey, "kkk") {
		t.Errorf("long key: %d bytes", len(s.DedupKey))
	}
	if s := decode(t, reqs[2]); s.DedupKey != "delivery-9" || s.Payload.Severity != "info" || !strings.HasPrefix(s.Payload.Summary, "[TEST] ") {
		t.Errorf("test delivery: %+v %+v", s, s.Payload)
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
		{"invalid event", testpeer.Reply{Status: 400, Body: `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`},
			true, 0, "Event object is invalid: Length of 'routing_key' is incorrect"},
		{"rate limited", testpeer.Reply{Status: 429, RetryAfter: "30", Body: `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`},
			false, 30 * time.Second, "arriving too quickly"},
		{"rate limited without delay", testpeer.Reply{Status: 429}, false, 0, "status 429"},
		{"server error", testpeer.Reply{Status: 502, Body: "bad gateway"}, false, 0, "status 502: bad gateway"},
		{"forbidden", testpeer.Reply{Status: 403, Body: "nope"}, true, 0, "status 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := testpeer.NewReceiver(t)
			peer.Enqueue(tc.reply)
			n := newNotifier(t, peer, "")
			err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
			if err == nil {
				t.Fatal("no error")
			}
			if notifiers.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", !tc.permanent, tc.permanent, err)
			}
			after, ok := notifiers.RetryAfter(err)
			if ok != (tc.after > 0) || after != tc.after {
				t.Errorf("retry after %v %v, want %v", after, ok, tc.after)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), routingKey) {
				t.Errorf("error shows the routing key: %v", err)
			}
		})
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	// A proxy that echoes the request, and an unreachable endpoint.
	peer := testpeer.NewReceiver(t)
	peer.Enqueue(testpeer.Reply{Status: 400, Body: `{"message":"bad key ` + routingKey + `"}`})
	n := newNotifier(t, peer, "")
	err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
	if err == nil || strings.Contains(err.Error(), routingKey) {
		t.Fatalf("error %v", err)
	}
	var status *notifiers.StatusError
	if !errors.As(err, &status) || strings.Contains(status.Body, routingKey) {
		t.Fatalf("status body %+v", status)
	}
}

func TestTimeout(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.Enqueue(testpeer.Reply{Hang: true})
	n := newNotifier(t, peer, "")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := n.Notify(ctx, notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}})
	if err == nil || notifiers.IsPermanent(err) {
		t.Fatalf("hang: %v, want a transient error", err)
	}
}

func TestBadParts(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	n := newNotifier(t, peer, "")
	for name, p := range map[string]notifiers.Parts{
		"empty summary":      {Text: "  "},
		"details not json":   {Text: "x", Details: "{customer: acme}"},
		"details not object": {Text: "x", Details: `["a"]`},
	} {
		err := n.Notify(context.Background(), notifiers.Notification{ID: "d", Parts: p})
		if !notifiers.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if peer.Count() != 0 {
		t.Errorf("%d requests sent for broken parts", peer.Count())
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pagerduty.Config
		want []string
	}{
		{"ok", pagerduty.Config{RoutingKey: routingKey, Severity: "warning"}, nil},
		{"missing key", pagerduty.Config{}, []string{"routing_key: required"}},
		{"short key", pagerduty.Config{RoutingKey: "abc"}, []string{"routing_key: must be 32 characters"}},
		{"bad severity", pagerduty.Config{RoutingKey: routingKey, Severity: "high"}, []string{"severity: must be one of critical, error, warning, info"}},
		{"bad url", pagerduty.Config{RoutingKey: routingKey, APIURL: "ftp://x"}, []string{"api_url: must be an http or https URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}
