package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// TestNoticeServiceKinds: PagerDuty, Opsgenie, Teams and Discord channels
// told of a failing channel get the summary line as their text (the
// incident's summary, the alert's message) and the whole notice as
// Opsgenie's description — never an empty part their notifier refuses.
func TestNoticeServiceKinds(t *testing.T) {
	n := notice{Event: NoticeOpened, Channel: "crm", Failures: 5, Pending: 812, Probe: 30 * time.Second,
		Error: "unexpected status 503", At: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	for _, kind := range []string{"pagerduty", "opsgenie", "teams", "discord"} {
		k, _ := wiring.Kind(kind)
		p, err := n.render(k)
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != "crm is failing: sending paused after 5 failures in a row; 812 waiting" {
			t.Errorf("%s text %q", kind, p.Text)
		}
		if !strings.Contains(p.Description, "Last error: unexpected status 503") || p.Body != "" {
			t.Errorf("%s parts %+v", kind, p)
		}
	}
}
