package api

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

const outageRules = `
channels:
  crm:
    http: {url: "https://crm.example.com/in"}
  ops:
    slack: {token: "${SLACK_TOKEN}", channel: "#ops"}
rules:
  - name: to-crm
    when: "true"
    send: [{to: crm, message: "now {{ .n }}"}]
  - name: to-ops
    when: "true"
    send: [{to: ops}]
`

// deadLetters stores one message with a dead delivery per (rule, channel).
func deadLetters(t *testing.T, st *store.Store, targets ...[2]string) []string {
	t.Helper()
	m := store.Message{ID: "m-" + time.Now().Format("150405.000000000"), Source: "lago", WebhookType: "x",
		ReceivedAt: time.Now(), Body: []byte(`{"n":7}`)}
	var news []store.RoutedDelivery
	var ids []string
	for i, tg := range targets {
		id := m.ID + "-d" + string(rune('a'+i))
		news = append(news, store.RoutedDelivery{Notification: notifiers.Notification{ID: id, MessageID: m.ID, Rule: tg[0],
			Channel: tg[1], Parts: notifiers.Parts{Body: "then", Text: "then"}}, DeadError: "503"})
		ids = append(ids, id)
	}
	if _, err := st.Enqueue(ctxT(t), m, "", news); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestBulkReplay(t *testing.T) {
	s := newServer(t, outageRules, nil)
	ids := deadLetters(t, s.store, [2]string{"to-crm", "crm"}, [2]string{"to-ops", "ops"})

	tests := []struct {
		name, query string
		code        int
		replayed    int
	}{
		{"bad since", "?status=dead&since=yesterday", 400, 0},
		{"bad rerender", "?status=dead&rerender=maybe", 400, 0},
		{"no status", "?channel=crm", 400, 0},
		{"other channel and rule", "?status=dead&channel=crm&rule=to-ops", 202, 0},
		{"too long ago", "?status=dead&channel=crm&since=1ns", 202, 0},
		{"crm, rendered again", "?status=dead&channel=crm&since=2h&rerender=true", 202, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := s.do("POST", "/api/v1/deliveries/replay"+tt.query, "", nil)
			if rep.code != tt.code {
				t.Fatalf("%d %s, want %d", rep.code, rep.body, tt.code)
			}
			if tt.code != 202 {
				return
			}
			var res store.ReplayResult
			rep.decode(t, &res)
			if res.Replayed != tt.replayed || len(res.Failed) != 0 {
				t.Fatalf("result %+v, want %d replayed", res, tt.replayed)
			}
		})
	}
	crm, _, err := s.store.Get(ctxT(t), ids[0])
	if err != nil || crm.State != store.StatePending || crm.Parts.Body != "now 7" {
		t.Fatalf("crm delivery %s body %q (%v): want pending, rendered with the current template", crm.State, crm.Parts.Body, err)
	}
	ops, _, _ := s.store.Get(ctxT(t), ids[1])
	if ops.State != store.StateDead {
		t.Fatalf("ops delivery is %s, want still dead", ops.State)
	}
}

func TestChannelsShowHealth(t *testing.T) {
	s := newServer(t, outageRules, nil)
	ctx := ctxT(t)
	for range 2 {
		if _, _, err := s.store.BreakerFailure(ctx, "crm", "unexpected status 503", false,
			store.BreakerPolicy{Failures: 2, Probe: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	m := store.Message{ID: "m1", Source: "lago", WebhookType: "x", ReceivedAt: time.Now(), Body: []byte(`{}`)}
	if _, err := s.store.Enqueue(ctx, m, "", []store.RoutedDelivery{{Notification: notifiers.Notification{ID: "d1", MessageID: "m1",
		Rule: "to-crm", Channel: "crm"}, NotBefore: store.Parked}}); err != nil {
		t.Fatal(err)
	}
	var out struct{ Channels []ChannelSettings }
	s.do("GET", "/api/v1/channels", "", nil).decode(t, &out)
	got := map[string]*ChannelHealth{}
	for _, c := range out.Channels {
		got[c.Name] = c.Health
	}
	if h := got["crm"]; h == nil || h.State != "open" || h.Backlog != 1 || h.OpenedAt == nil || h.NextProbeAt == nil ||
		h.LastError != "unexpected status 503" {
		t.Fatalf("crm health %+v", h)
	}
	if h := got["ops"]; h == nil || h.State != "closed" || h.Backlog != 0 {
		t.Fatalf("ops health %+v", h)
	}
}
