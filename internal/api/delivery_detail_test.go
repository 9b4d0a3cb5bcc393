package api

import "testing"

// A bulk replay's dry run counts what the same filter would requeue and
// requeues nothing.
func TestBulkReplayDryRun(t *testing.T) {
	s := newServer(t, outageRules, nil)
	deadLetters(t, s.store, [2]string{"to-crm", "crm"}, [2]string{"to-ops", "ops"}, [2]string{"to-crm", "crm"})
	for query, want := range map[string]int{
		"":                       3,
		"&channel=crm":           2,
		"&rule=to-ops":           1,
		"&channel=crm&since=1ns": 0,
	} {
		rep := s.do("POST", "/api/v1/deliveries/replay?status=dead&dry_run=true"+query, "", nil)
		var got struct {
			WouldReplay int `json:"would_replay"`
		}
		if rep.code != 200 {
			t.Fatalf("%s: %d %s", query, rep.code, rep.body)
		}
		rep.decode(t, &got)
		if got.WouldReplay != want {
			t.Errorf("%s: would replay %d, want %d", query, got.WouldReplay, want)
		}
	}
	rep := s.do("POST", "/api/v1/deliveries/replay?status=dead&dry_run=true&since=soon", "", nil)
	if rep.code != 400 {
		t.Errorf("bad since in a dry run: %d, want 400", rep.code)
	}
	var res struct {
		Replayed int `json:"replayed"`
	}
	s.do("POST", "/api/v1/deliveries/replay?status=dead&channel=crm", "", nil).decode(t, &res)
	if res.Replayed != 2 {
		t.Fatalf("replayed %d after the dry runs, want 2 (a dry run requeued something)", res.Replayed)
	}
}

// One delivery's detail carries the message it came from, with its body.
func TestDeliveryShowsItsMessage(t *testing.T) {
	s := newServer(t, outageRules, nil)
	ids := deadLetters(t, s.store, [2]string{"to-crm", "crm"})
	rep := s.do("GET", "/api/v1/deliveries/"+ids[0], "", nil)
	var got struct {
		Delivery struct {
			MessageID string `json:"message_id"`
		} `json:"delivery"`
		Message *struct {
			ID   string         `json:"id"`
			Body map[string]any `json:"body"`
		} `json:"message"`
	}
	rep.decode(t, &got)
	if got.Message == nil || got.Message.ID != got.Delivery.MessageID || got.Message.Body["n"] != 7.0 {
		t.Fatalf("message %+v in %s", got.Message, rep.body)
	}
}
