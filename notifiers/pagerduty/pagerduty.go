package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Limits of the Events API v2.
const (
	// maxSummary is payload.summary's limit; a longer one is cut.
	maxSummary = 1024
	// maxDedupKey is dedup_key's limit.
	maxDedupKey = 255
)

// Notifier sends deliveries to one PagerDuty service integration.
type Notifier struct {
	notifiers.Poster
	url      string
	key      string
	severity string
}

// New returns a Notifier for c, or c's validation errors.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Notifier{
		Poster:   notifiers.NewPoster(o, append([]string{c.RoutingKey.Reveal()}, notifiers.URLSecrets(c.APIURL.Reveal())...)...),
		url:      c.apiURL(),
		key:      c.RoutingKey.Reveal(),
		severity: c.severity(),
	}, nil
}

// event is an Events API v2 alert event.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
}

type payload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp,omitempty"`
	CustomDetails json.RawMessage `json:"custom_details,omitempty"`
}

// answer is PagerDuty's reply: {"status": "success", "message": "Event
// processed", "dedup_key": "…"} or {"status": "invalid event", "message":
// "Event object is invalid", "errors": ["…"]}.
type answer struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors"`
}

// Notify sends d as a trigger event — or a resolve when d.Resolve — whose
// dedup_key is d.ConversationKey (d.ID when empty), so that follow-ups
// update the same incident and retries never open a second one.
// d.Parts.Text is the summary, d.Parts.Details the custom_details object
// and d.Parts.Source the source. 429 and 5xx are retried; 400 is
// permanent, with PagerDuty's own account of what is wrong.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	const op = "post to pagerduty"
	ev := event{RoutingKey: n.key, EventAction: "trigger", DedupKey: dedupKey(d), Client: "Switchboard"}
	if d.Resolve && !d.Test {
		// A resolve needs no payload: it closes what the key names.
		ev.EventAction = "resolve"
	} else {
		p, err := n.payload(d)
		if err != nil {
			return notifiers.Permanent(fmt.Errorf("pagerduty event: %w", err))
		}
		ev.Payload = p
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("encode pagerduty event: %w", err))
	}
	a, err := n.Post(ctx, op, n.url, body, nil)
	if err != nil || a.OK() {
		return err
	}
	return n.Refused(op, a, message(a.Body), 0)
}

// payload builds the trigger's payload from d's parts.
func (n *Notifier) payload(d notifiers.Notification) (*payload, error) {
	summary := strings.Join(strings.Fields(d.Parts.Text), " ")
	if summary == "" {
		return nil, errors.New("the summary is empty")
	}
	severity := n.severity
	if d.Test {
		// A test from the editor must not wake anyone: it says so, and
		// it has its own key (d.ID), never a real incident's.
		summary, severity = "[TEST] "+summary, "info"
	}
	p := &payload{
		Summary:   truncate(summary, maxSummary),
		Source:    strings.TrimSpace(d.Parts.Source),
		Severity:  severity,
		Timestamp: n.Now().UTC().Format(time.RFC3339),
	}
	if p.Source == "" {
		p.Source = "switchboard"
	}
	if details := strings.TrimSpace(d.Parts.Details); details != "" {
		if !json.Valid([]byte(details)) || !strings.HasPrefix(details, "{") {
			return nil, errors.New("custom_details is not a JSON object (insert values with toJson)")
		}
		p.CustomDetails = json.RawMessage(details)
	}
	return p, nil
}

// dedupKey is the conversation key, or the delivery ID; a test always
// uses its own ID so that it never touches a real incident. Keys longer
// than PagerDuty allows are cut.
func dedupKey(d notifiers.Notification) string {
	key := d.ConversationKey
	if key == "" || d.Test {
		key = d.ID
	}
	return truncate(key, maxDedupKey)
}

// message is PagerDuty's account of a failure: its message and errors.
func message(body []byte) string {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || (a.Message == "" && len(a.Errors) == 0) {
		return strings.TrimSpace(string(body))
	}
	msg := a.Message
	if len(a.Errors) > 0 {
		msg += ": " + strings.Join(a.Errors, "; ")
	}
	return msg
}

// truncate cuts s to at most n bytes on a rune boundary, ending with "…"
// when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
