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
	"github.com/switchboard-dev/switchboard/internal/wiring"
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
	"replay":   replayCommand,
}).ParseFS(noticeFS, "notices/notice.tmpl"))

// replayCommand is how to requeue a channel's recent dead letters.
func replayCommand(channel string) string {
	return "switchboard replay --channel " + channel + " --since 2h"
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

// render renders n for a channel kind with the built-in templates; the
// kind's descriptor picks the forms it sends (HTTP channels receive a JSON
// object with the summary line in "text"). A nil kind gets the text.
func (n notice) render(kind *notifiers.Kind) (notifiers.Parts, error) {
	if kind != nil && kind.EscapeValue != nil {
		esc := kind.EscapeValue
		n.Channel, n.Error = esc(n.Channel), esc(n.Error)
		byRule := make(map[string]int, len(n.DeadByRule))
		for k, v := range n.DeadByRule {
			byRule[esc(k)] = v
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
	var out notifiers.Notice
	var err error
	for _, f := range []struct {
		block string
		to    *string
	}{{"text", &out.Text}, {"subject", &out.Subject}, {"summary", &out.Summary}} {
		if *f.to, err = exec(f.block); err != nil {
			return notifiers.Parts{}, err
		}
	}
	if kind == nil || kind.Notice == nil {
		return notifiers.Parts{Text: out.Text}, nil
	}
	replay := ""
	if n.Event == NoticeDead {
		replay = replayCommand(n.Channel)
	}
	out.JSON, err = json.Marshal(struct {
		Type string `json:"type"`
		notice
		ProbeSeconds   float64 `json:"probe_seconds,omitempty"`
		OpenForSeconds float64 `json:"open_for_seconds,omitempty"`
		Text           string  `json:"text"`
		// Replay is the command that requeues the dead letters.
		Replay string `json:"replay,omitempty"`
	}{"switchboard.channel_" + n.Event, n, n.Probe.Seconds(), n.OpenFor.Seconds(), out.Summary, replay})
	if err != nil {
		return notifiers.Parts{}, err
	}
	return kind.Notice(out), nil
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
	kind, _ := wiring.Kind(ch.Kind)
	parts, err := n.render(kind)
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
