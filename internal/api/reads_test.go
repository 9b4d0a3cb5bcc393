package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/notifiers"
)

func TestRecentMessages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			so := b.opts(t)
			s := newServer(t, outageRules, &so)
			now := time.Now().UTC().Truncate(time.Millisecond)
			for i, body := range []string{`{"webhook_type":"invoice.created","n":1}`, `not json`, `{"webhook_type":"customer.created","n":3}`} {
				m := store.Message{ID: "m" + string(rune('1'+i)), Source: "lago", Key: "k" + string(rune('1'+i)),
					WebhookType: []string{"invoice.created", "x", "customer.created"}[i], RulesVersion: "v1",
					ReceivedAt: now.Add(time.Duration(i) * time.Minute), Body: []byte(body)}
				if _, err := s.store.Enqueue(ctxT(t), m, "", nil); err != nil {
					t.Fatal(err)
				}
			}
			var out struct {
				Messages []MessageJSON `json:"messages"`
			}
			rep := s.do("GET", "/api/v1/messages?limit=2", "", nil)
			if rep.code != 200 {
				t.Fatalf("GET messages: %d %s", rep.code, rep.body)
			}
			rep.decode(t, &out)
			if len(out.Messages) != 2 || out.Messages[0].ID != "m3" || out.Messages[1].ID != "m2" {
				t.Fatalf("want m3, m2 newest first, got %+v", out.Messages)
			}
			m3 := out.Messages[0]
			if m3.Source != "lago" || m3.WebhookType != "customer.created" || !m3.ReceivedAt.Equal(now.Add(2*time.Minute)) {
				t.Fatalf("m3 = %+v", m3)
			}
			var body map[string]any
			if err := json.Unmarshal(m3.Body, &body); err != nil || body["n"] != 3.0 {
				t.Fatalf("m3 body %s (%v)", m3.Body, err)
			}
			if out.Messages[1].Body != nil {
				t.Fatalf("a body that is not JSON is shown: %s", out.Messages[1].Body)
			}
			s.do("GET", "/api/v1/messages", "", nil).decode(t, &out)
			if len(out.Messages) != 3 {
				t.Fatalf("default limit: %d messages, want all 3", len(out.Messages))
			}
			for _, q := range []string{"0", "101", "x"} {
				if rep := s.do("GET", "/api/v1/messages?limit="+q, "", nil); rep.code != 400 {
					t.Errorf("limit=%s: %d, want 400", q, rep.code)
				}
			}
		})
	}
}

func TestRuleStats(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			so := b.opts(t)
			s := newServer(t, outageRules, &so)
			deadLetters(t, s.store, [2]string{"to-crm", "crm"}, [2]string{"to-crm", "ops"})
			deadLetters(t, s.store, [2]string{"to-crm", "crm"}, [2]string{"gone", "crm"})
			var out struct {
				Since time.Time               `json:"since"`
				Rules map[string]RuleStatJSON `json:"rules"`
			}
			rep := s.do("GET", "/api/v1/stats/rules", "", nil)
			if rep.code != 200 {
				t.Fatalf("GET stats: %d %s", rep.code, rep.body)
			}
			rep.decode(t, &out)
			if d := time.Since(out.Since); d < 24*time.Hour || d > 25*time.Hour {
				t.Fatalf("since = %v, want 24 h ago", out.Since)
			}
			crm, ops := out.Rules["to-crm"], out.Rules["to-ops"]
			if crm.Matches != 2 || crm.Deliveries != 3 || crm.LastFired == nil || time.Since(*crm.LastFired) > time.Minute {
				t.Fatalf("to-crm = %+v, want 2 matches, 3 deliveries, fired just now", crm)
			}
			if ops != (RuleStatJSON{}) {
				t.Fatalf("to-ops = %+v, want zeros and never fired", ops)
			}
			if _, ok := out.Rules["gone"]; ok || len(out.Rules) != 2 {
				t.Fatalf("want exactly the rules in use, got %v", out.Rules)
			}
			s.do("GET", "/api/v1/stats/rules?since=7d", "", nil).decode(t, &out)
			if d := time.Since(out.Since); d < 7*24*time.Hour || d > 7*24*time.Hour+time.Hour {
				t.Fatalf("since=7d gives %v", out.Since)
			}
			for _, q := range []string{"0s", "-1h", "91d", "soon"} {
				if rep := s.do("GET", "/api/v1/stats/rules?since="+q, "", nil); rep.code != 400 {
					t.Errorf("since=%s: %d, want 400", q, rep.code)
				}
			}
		})
	}
}

func TestTemplatesList(t *testing.T) {
	s := newServer(t, outageRules, nil)
	dir := filepath.Join(filepath.Dir(s.path), "templates")
	for _, name := range []string{"payments.tmpl", "invoice.tmpl", ".hidden.tmpl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{{ define "text" }}x{{ end }}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "partials"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Templates []string `json:"templates"`
	}
	rep := s.do("GET", "/api/v1/templates", "", nil)
	if rep.code != 200 {
		t.Fatalf("GET templates: %d %s", rep.code, rep.body)
	}
	rep.decode(t, &out)
	if want := []string{"invoice.tmpl", "payments.tmpl"}; !reflect.DeepEqual(out.Templates, want) {
		t.Fatalf("templates = %q, want %q", out.Templates, want)
	}
}

func TestChannelKindsEndpoint(t *testing.T) {
	s := newServer(t, outageRules, nil)
	var out struct {
		Kinds []ChannelKindJSON `json:"kinds"`
	}
	rep := s.do("GET", "/api/v1/channel-kinds", "", nil)
	if rep.code != 200 {
		t.Fatalf("GET channel-kinds: %d %s", rep.code, rep.body)
	}
	rep.decode(t, &out)
	var names []string
	byName := map[string]ChannelKindJSON{}
	for _, k := range out.Kinds {
		names = append(names, k.Name)
		byName[k.Name] = k
	}
	if !reflect.DeepEqual(names, wiring.KindNames()) {
		t.Fatalf("kinds %q, want every registered kind %q", names, wiring.KindNames())
	}
	field := func(kind, key string) ChannelFieldJSON {
		t.Helper()
		for _, f := range byName[kind].Fields {
			if f.Key == key {
				return f
			}
		}
		t.Fatalf("%s has no field %s: %+v", kind, key, byName[kind].Fields)
		return ChannelFieldJSON{}
	}
	want := map[[2]string]ChannelFieldJSON{
		{"slack", "token"}:           {Key: "token", Type: FieldText, Secret: true},
		{"slack", "channel"}:         {Key: "channel", Type: FieldText},
		{"email", "port"}:            {Key: "port", Type: FieldText},
		{"email", "to"}:              {Key: "to", Type: FieldList},
		{"email", "max_recipients"}:  {Key: "max_recipients", Type: FieldNumber},
		{"http", "url"}:              {Key: "url", Type: FieldText},
		{"http", "headers"}:          {Key: "headers", Type: FieldMap, Secret: true},
		{"http", "allow_link_local"}: {Key: "allow_link_local", Type: FieldBool},
		{"pagerduty", "routing_key"}: {Key: "routing_key", Type: FieldText, Secret: true},
		{"pagerduty", "severity"}:    {Key: "severity", Type: FieldText},
		{"pagerduty", "api_url"}:     {Key: "api_url", Type: FieldText},
		{"opsgenie", "api_key"}:      {Key: "api_key", Type: FieldText, Secret: true},
		{"opsgenie", "responders"}:   {Key: "responders", Type: FieldJSON},
		{"opsgenie", "tags"}:         {Key: "tags", Type: FieldList},
		{"teams", "webhook_url"}:     {Key: "webhook_url", Type: FieldText, Secret: true},
		{"discord", "webhook_url"}:   {Key: "webhook_url", Type: FieldText, Secret: true},
		{"discord", "username"}:      {Key: "username", Type: FieldText},
	}
	for k, w := range want {
		if got := field(k[0], k[1]); got != w {
			t.Errorf("%s.%s = %+v, want %+v", k[0], k[1], got, w)
		}
	}
	for _, k := range out.Kinds {
		if wk, _ := wiring.Kind(k.Name); k.TestRecipient != wk.TestRecipient {
			t.Errorf("%s: test_recipient %v, want the descriptor's %v", k.Name, k.TestRecipient, wk.TestRecipient)
		}
	}
	if !byName["email"].TestRecipient {
		t.Error("email takes a Send test recipient")
	}
}

// A delivery made by Send test says so in the list the editor shows.
func TestDeliveriesShowTheTestMark(t *testing.T) {
	s := newServer(t, outageRules, nil)
	m := store.Message{ID: "m-test", Source: "lago", WebhookType: "x", ReceivedAt: time.Now(), Body: []byte(`{}`)}
	if _, err := s.store.Enqueue(ctxT(t), m, "", []store.RoutedDelivery{
		{Notification: notifiers.Notification{ID: "d-test", MessageID: m.ID, Rule: "to-crm", Channel: "crm", Test: true}},
		{Notification: notifiers.Notification{ID: "d-real", MessageID: m.ID, Rule: "to-ops", Channel: "ops"}},
	}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	s.do("GET", "/api/v1/deliveries", "", nil).decode(t, &out)
	marks := map[string]any{}
	for _, d := range out.Deliveries {
		marks[d["id"].(string)] = d["test"]
	}
	if marks["d-test"] != true || marks["d-real"] != nil || len(marks) != 2 {
		t.Fatalf("test marks %v, want d-test only", marks)
	}
}
