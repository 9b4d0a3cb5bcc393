package router

import (
	"testing"
	"time"
)

// TestExampleConversations: the example's resolving rules render the same
// key as the rule they resolve, on Lago's own payloads, and carry the
// payloads' times for ordering.
func TestExampleConversations(t *testing.T) {
	rs, _ := loadExample(t, false, exampleEnv)
	tests := []struct {
		webhookType, rule, resolves string
		eventAt                     string // "yes" when the payload carries its own time
	}{
		{"invoice.payment_failure", "payment-failed", "", ""},
		{"invoice.payment_status_updated", "payment-succeeded", "payment-failed", "yes"},
		{"invoice.payment_dispute_lost", "payment-dispute-lost", "payment-failed", "yes"},
		{"wallet.depleted_ongoing_balance", "wallet-depleted", "", "yes"},
		{"wallet_transaction.updated", "wallet-topped-up", "wallet-depleted", "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.webhookType, func(t *testing.T) {
			res := route(t, rs, tt.webhookType)
			if len(res.Deliveries) == 0 {
				t.Fatalf("no deliveries")
			}
			d := res.Deliveries[0]
			c := d.Conversation
			if d.Err != nil || c == nil {
				t.Fatalf("err %v, conversation %+v", d.Err, c)
			}
			root := tt.rule
			if tt.resolves != "" {
				root = tt.resolves
			}
			if c.Rule != root || c.Key == "" || c.Resolves != (tt.resolves != "") {
				t.Errorf("conversation %s %q resolves=%v, want %s and a key", c.Rule, c.Key, c.Resolves, root)
			}
			if d.Parts.Conversation == nil || d.Parts.Conversation.Key != c.Key {
				t.Errorf("parts carry %+v", d.Parts.Conversation)
			}
			if (tt.eventAt != "") == c.EventAt.IsZero() {
				t.Errorf("event time %v, want one: %v", c.EventAt, tt.eventAt != "")
			}
			if (tt.rule == "payment-failed") != (c.Escalate != nil) {
				t.Errorf("escalate %+v", c.Escalate)
			}
			if tt.resolves != "" && c.Rerender != nil {
				p, err := c.Rerender(Previous{Count: 2, FirstAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
				if err != nil {
					t.Fatal(err)
				}
				if p.Text == d.Parts.Text || p.Conversation == nil {
					t.Errorf(".Previous changed nothing: %q", p.Text)
				}
			}
		})
	}
}

func TestEventTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]any
		want string
	}{
		{"object updated_at", map[string]any{"object_type": "invoice", "invoice": map[string]any{"updated_at": "2026-01-02T03:04:05Z", "created_at": "2025-01-01T00:00:00Z"}}, "2026-01-02T03:04:05Z"},
		{"nested invoice", map[string]any{"object_type": "payment_dispute_lost", "payment_dispute_lost": map[string]any{"invoice": map[string]any{"updated_at": "2026-01-02T03:04:05Z"}}}, "2026-01-02T03:04:05Z"},
		{"none", map[string]any{"object_type": "x", "x": map[string]any{"lago_id": "1"}}, ""},
		{"unparseable", map[string]any{"updated_at": "yesterday"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EventTime(tc.data)
			if tc.want == "" {
				if ok {
					t.Errorf("got %v, want none", got)
				}
				return
			}
			if !ok || got.Format(time.RFC3339) != tc.want {
				t.Errorf("got %v %v, want %s", got, ok, tc.want)
			}
		})
	}
}
