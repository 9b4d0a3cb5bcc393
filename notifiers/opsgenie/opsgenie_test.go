package opsgenie_test

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
	"github.com/switchboard-dev/switchboard/notifiers/opsgenie"
)

const apiKey = "eb243592-faa2-4ba2-a551q-1afdf565c889"

// accepted is Opsgenie's answer: requests are processed asynchronously.
var accepted = testpeer.Reply{Status: http.StatusAccepted, Body: `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`}

func newNotifier(t *testing.T, peer *testpeer.Receiver, c opsgenie.Config) *opsgenie.Notifier {
	t.Helper()
	c.APIKey = apiKey
	c.APIURL = secret.URL(peer.URL() + "/")
	n, err := opsgenie.New(c, notifiers.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

type created struct {
	Message     string               `json:"message"`
	Alias       string               `json:"alias"`
	Description string               `json:"description"`
	Responders  []opsgenie.Responder `json:"responders"`
	Tags        []string             `json:"tags"`
	Details     map[string]string    `json:"details"`
	Source      string               `json:"source"`
	Priority    string               `json:"priority"`
}

func TestCreateAndClose(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(accepted)
	n := newNotifier(t, peer, opsgenie.Config{
		Priority:   "P2",
		Responders: []opsgenie.Responder{{Type: "team", Name: "billing"}, {Type: "user", Username: "jane@example.com"}},
		Tags:       []string{"lago", "billing"},
	})
	ctx := context.Background()
	open := notifiers.Notification{ID: "d1", ConversationKey: "overdue/inv 1", Parts: notifiers.Parts{
		Text:        "Invoice INV-001 is overdue",
		Description: "Customer acme owes $18.00",
		Details:     `{"customer":"acme","total_cents":1800,"none":null}`,
	}}
	if err := n.Notify(ctx, open); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, notifiers.Notification{ID: "d2", ConversationKey: "overdue/inv 1", Resolve: true, Parts: notifiers.Parts{Text: "paid"}}); err != nil {
		t.Fatal(err)
	}
	reqs := peer.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "GenieKey "+apiKey {
			t.Errorf("Authorization %q", got)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
	}
	if reqs[0].Method != http.MethodPost || reqs[0].Path != "/v2/alerts" {
		t.Fatalf("create: %s %s", reqs[0].Method, reqs[0].Path)
	}
	var c created
	if err := json.Unmarshal(reqs[0].Body, &c); err != nil {
		t.Fatal(err)
	}
	if c.Message != "Invoice INV-001 is overdue" || c.Alias != "overdue/inv 1" || c.Description != "Customer acme owes $18.00" ||
		c.Priority != "P2" || c.Source != "Switchboard" || len(c.Responders) != 2 || c.Responders[1].Username != "jane@example.com" ||
		strings.Join(c.Tags, ",") != "lago,billing" {
		t.Errorf("create = %+v", c)
	}
	if c.Details["customer"] != "acme" || c.Details["total_cents"] != "1800" || len(c.Details) != 2 {
		t.Errorf("details = %v", c.Details)
	}
	// The alias is one path segment, whatever it holds.
	if reqs[1].EscapedPath != "/v2/alerts/overdue%2Finv%201/close" || reqs[1].RawQuery != "identifierType=alias" {
		t.Errorf("close: %s?%s", reqs[1].EscapedPath, reqs[1].RawQuery)
	}
	var cl map[string]string
	if err := json.Unmarshal(reqs[1].Body, &cl); err != nil || cl["source"] != "Switchboard" || cl["note"] != "paid" {
		t.Errorf("close body %s", reqs[1].Body)
	}
}

func TestRegions(t *testing.T) {
	for _, tc := range []struct {
		region string
		ok     bool
	}{{"", true}, {"us", true}, {"eu", true}, {"EU", false}, {"apac", false}} {
		err := opsgenie.Config{APIKey: apiKey, Region: tc.region}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("region %q: %v", tc.region, err)
		}
	}
}

func TestAliasDefaultsAndTest(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.SetDefault(accepted)
	n := newNotifier(t, peer, opsgenie.Config{Responders: []opsgenie.Responder{{Type: "team", Name: "billing"}}})
	ctx := context.Background()
	long := strings.Repeat("é", 200)
	for _, d := range []notifiers.Notification{
		{ID: "d7", Parts: notifiers.Parts{Text: "x"}},
		{ID: "d8", Test: true, ConversationKey: "real", Parts: notifiers.Parts{Text: "x"}},
		{ID: "d9", Parts: notifiers.Parts{Text: long}},
	} {
		if err := n.Notify(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	reqs := peer.Requests()
	var c created
	_ = json.Unmarshal(reqs[0].Body, &c)
	if c.Alias != "d7" || c.Priority != "P3" {
		t.Errorf("default alias/priority: %+v", c)
	}
	c = created{}
	_ = json.Unmarshal(reqs[1].Body, &c)
	if c.Alias != "d8" || c.Priority != "P5" || len(c.Responders) != 0 || !strings.HasPrefix(c.Message, "[TEST] ") {
		t.Errorf("test alert: %+v", c)
	}
	c = created{}
	_ = json.Unmarshal(reqs[2].Body, &c)
	if n := len([]rune(c.Message)); n != 130 || !strings.HasSuffix(c.Message, "…") {
		t.Errorf("long message: %d characters", n)
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
		{"unprocessable", testpeer.Reply{Status: 422, Body: `{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.001,"requestId":"r"}`},
			true, 0, "Request body is not processable. Please check the errors. (message: Message can not be empty.)"},
		{"bad request", testpeer.Reply{Status: 400, Body: `{"message":"Key format is not valid!","took":0,"requestId":"r"}`}, true, 0, "status 400: Key format is not valid!"},
		{"unauthorized", testpeer.Reply{Status: 401, Body: `{"message":"Could not authenticate"}`}, true, 0, "Could not authenticate"},
		{"rate limited", testpeer.Reply{Status: 429, RetryAfter: "12", Body: `{"message":"You are making too many requests!"}`}, false, 12 * time.Second, "too many requests"},
		{"server error", testpeer.Reply{Status: 500}, false, 0, "status 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := testpeer.NewReceiver(t)
			peer.Enqueue(tc.reply)
			n := newNotifier(t, peer, opsgenie.Config{})
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
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	peer := testpeer.NewReceiver(t)
	peer.Enqueue(testpeer.Reply{Hang: true})
	n := newNotifier(t, peer, opsgenie.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := n.Notify(ctx, notifiers.Notification{ID: "d", Parts: notifiers.Parts{Text: "x"}}); err == nil || notifiers.IsPermanent(err) {
		t.Fatalf("hang: %v, want a transient error", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  opsgenie.Config
		want []string
	}{
		{"ok", opsgenie.Config{APIKey: apiKey, Region: "eu", Priority: "P1", Tags: []string{"a"},
			Responders: []opsgenie.Responder{{Type: "schedule", ID: "4513b7ea"}}}, nil},
		{"missing key", opsgenie.Config{}, []string{"api_key: required"}},
		{"bad priority", opsgenie.Config{APIKey: apiKey, Priority: "high"}, []string{"priority: must be one of P1"}},
		{"bad responders", opsgenie.Config{APIKey: apiKey, Responders: []opsgenie.Responder{
			{Type: "group", Name: "x"}, {Type: "team"}, {Type: "team", Username: "a@b"}, {Type: "user", Name: "jane"}, {Name: "x"}}},
			[]string{"responders[0].type: must be team", "responders[1]: set one of name or id", "responders[2].username: only for type user",
				"responders[3].name: a user is named by username", "responders[4]: type is required"}},
		{"bad tags", opsgenie.Config{APIKey: apiKey, Tags: []string{"", strings.Repeat("t", 51)}}, []string{"tags[0]: must be 1 to 50", "tags[1]"}},
		{"api url query", opsgenie.Config{APIKey: apiKey, APIURL: "https://x.example/?a=b"}, []string{"api_url: must not have a query"}},
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
		})
	}
}
