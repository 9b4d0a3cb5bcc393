package delivery

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// NoticeRule is the rule name of on_failure notices in the delivery log.
// It cannot be a rule's name (rule names have no colon), and notices that
// go dead are not announced again.
const NoticeRule = "switchboard:on_failure"

// NoticeSource is the source of the messages that carry notices.
const NoticeSource = "switchboard"

// Notice events, the webhook_type of their messages being
// "switchboard.channel_" + event.
const (
	NoticeOpened = "opened"
	NoticeClosed = "closed"
	NoticeDead   = "dead"
)

//go:embed notices/notice.tmpl
var noticeFS embed.FS

// noticeTemplate is parsed once; values are escaped for Slack before
// they reach it.
var noticeTemplate = template.Must(template.New("notice").Funcs(template.FuncMap{
	"count":    formatCount,
	"duration": formatDuration,
}).ParseFS(noticeFS, "notices/notice.tmpl"))

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// notice is one operational notification about a channel.
type notice struct {
	Event      string         `json:"event"`
	Channel    string         `json:"channel"`
	At         time.Time      `json:"at"`
	Failures   int            `json:"failures,omitempty"`
	Pending    int64          `json:"pending"`
	Probe      time.Duration  `json:"-"`
	OpenFor    time.Duration  `json:"-"`
	Dead       int            `json:"dead,omitempty"`
	DeadByRule map[string]int `json:"dead_by_rule,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// render renders n for a channel kind with the built-in templates. HTTP
// channels receive a JSON object (with a summary line in "text").
func (n notice) render(kind string) (notifiers.Parts, error) {
	if kind == "slack" {
		n.Channel, n.Error = slackEscape(n.Channel), slackEscape(n.Error)
		byRule := make(map[string]int, len(n.DeadByRule))
		for k, v := range n.DeadByRule {
			byRule[slackEscape(k)] = v
		}
		n.DeadByRule = byRule
	}
	t := noticeTemplate
	exec := func(block string) (string, error) {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, block, n); err != nil {
			return "", fmt.Errorf("render %s notice: %w", n.Event, err)
		}
		return b.String(), nil
	}
	text, err := exec("text")
	if err != nil {
		return notifiers.Parts{}, err
	}
	switch kind {
	case "slack":
		return notifiers.Parts{Text: text}, nil
	case "email":
		subject, err := exec("subject")
		if err != nil {
			return notifiers.Parts{}, err
		}
		return notifiers.Parts{Subject: subject, Text: text}, nil
	case "pagerduty", "opsgenie", "teams", "discord":
		// The summary line as the alert's summary, message or text; the
		// whole notice as Opsgenie's description.
		summary, err := exec("summary")
		if err != nil {
			return notifiers.Parts{}, err
		}
		return notifiers.Parts{Text: summary, Description: text}, nil
	default:
		summary, err := exec("summary")
		if err != nil {
			return notifiers.Parts{}, err
		}
		body, err := json.Marshal(struct {
			Type string `json:"type"`
			notice
			ProbeSeconds   float64 `json:"probe_seconds,omitempty"`
			OpenForSeconds float64 `json:"open_for_seconds,omitempty"`
			Text           string  `json:"text"`
		}{"switchboard.channel_" + n.Event, n, n.Probe.Seconds(), n.OpenFor.Seconds(), summary})
		if err != nil {
			return notifiers.Parts{}, err
		}
		return notifiers.Parts{Body: string(body), ContentType: "application/json"}, nil
	}
}

// notice stores n as a delivery to target, for the workers to send like
// any other (retried, dead-lettered, replayable). Nothing happens when
// target is empty or not configured.
func (d *Dispatcher) notice(ctx context.Context, target string, n notice) {
	if target == "" {
		return
	}
	ch, ok := d.o.Resolve(target)
	if !ok {
		d.log.Warn("on_failure channel is not configured; notice not sent", "channel", n.Channel,
			"on_failure", target, "event", n.Event)
		return
	}
	parts, err := n.render(ch.Kind)
	if err != nil {
		d.log.Error("cannot render notice", "channel", n.Channel, "on_failure", target, "error", err)
		return
	}
	body, _ := json.Marshal(n)
	now := d.o.Now()
	m := store.Message{ID: newID(), Source: NoticeSource, WebhookType: "switchboard.channel_" + n.Event,
		RulesVersion: "", ReceivedAt: now, Body: body}
	nd := store.RoutedDelivery{Notification: notifiers.Notification{ID: newID(), MessageID: m.ID, Rule: NoticeRule,
		Channel: target, Parts: parts}}
	if until, held := d.HoldUntil(target); held {
		nd.NotBefore = until
	}
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if _, err := d.o.Store.Enqueue(cctx, m, "", []store.RoutedDelivery{nd}); err != nil {
		d.log.Error("cannot store notice", "channel", n.Channel, "on_failure", target, "event", n.Event, "error", err)
		return
	}
	d.Wake()
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// formatCount writes n with thousands separators: 3,412.
func formatCount(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatDuration writes a human duration: 45 s, 12 min, 3 h 5 min.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	default:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
}
