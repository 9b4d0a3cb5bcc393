package delivery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// TestNoticeRendering renders each event for each channel kind with the
// built-in templates.
func TestNoticeRendering(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	opened := notice{Event: NoticeOpened, Channel: "crm", Failures: 5, Pending: 812, Probe: 30 * time.Second,
		Error: "post: <html> & 503", At: at}
	closed := notice{Event: NoticeClosed, Channel: "crm", OpenFor: 12 * time.Minute, Pending: 3412, At: at}
	dead := notice{Event: NoticeDead, Channel: "crm", Dead: 3, DeadByRule: map[string]int{"a": 1, "b": 2},
		Error: "unexpected status 400", At: at}
	tests := []struct {
		name, kind string
		n          notice
		text       string
		subject    string
	}{
		{"slack opened", "slack", opened, ":red_circle: crm is failing: sending paused after 5 failures in a row; 812 waiting\n" +
			"Next check in 30 s. Deliveries are kept and go out when it recovers.\nLast error: post: &lt;html&gt; &amp; 503", ""},
		{"slack closed", "slack", closed, ":large_green_circle: crm recovered after 12 min; 3,412 waiting deliveries are being sent", ""},
		{"email dead", "email", dead, ":warning: 3 deliveries to crm went dead\n• a: 1\n• b: 2\nLast error: unexpected status 400\n" +
			"Replay them with: switchboard replay --channel crm --since 2h", "[switchboard] 3 deliveries to crm went dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := wiring.Kind(tt.kind)
			p, err := tt.n.render(k)
			if err != nil {
				t.Fatal(err)
			}
			if p.Text != tt.text || p.Subject != tt.subject {
				t.Errorf("text:\n%s\nsubject: %q\nwant:\n%s\nsubject: %q", p.Text, p.Subject, tt.text, tt.subject)
			}
		})
	}
	t.Run("http", func(t *testing.T) {
		k, _ := wiring.Kind("http")
		p, err := closed.render(k)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(p.Body), &got); err != nil || p.ContentType != "application/json" {
			t.Fatalf("body %q: %v", p.Body, err)
		}
		if got["type"] != "switchboard.channel_closed" || got["channel"] != "crm" || got["pending"] != 3412.0 ||
			got["open_for_seconds"] != 720.0 || got["text"] != "crm recovered after 12 min; 3,412 waiting deliveries are being sent" {
			t.Errorf("body %v", got)
		}
	})
}

func TestFormatCountAndDuration(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 3412: "3,412", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{45 * time.Second: "45 s", 12 * time.Minute: "12 min",
		3*time.Hour + 5*time.Minute: "3 h 5 min", 2 * time.Hour: "2 h"} {
		if got := formatDuration(in); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
