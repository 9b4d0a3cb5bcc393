package web

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/router"
)

// The editor's view of the admin API's answers: the fields it reads, with
// the API's JSON keys. The API's README section is the contract.

// ruleJSON is a rule as GET /api/v1/rules shows it and the writes take
// it. Keys it leaves out (throttle, group, schedule) keep their values on
// a write.
type ruleJSON struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Enabled     bool       `json:"enabled"`
	When        string     `json:"when"`
	Send        []sendJSON `json:"send"`
}

// sendJSON is one target of a rule.
type sendJSON struct {
	To       string `json:"to"`
	Template string `json:"template,omitempty"`
	Message  string `json:"message,omitempty"`
}

// testResult is the answer of POST /api/v1/test.
type testResult struct {
	Matches []struct {
		Rule       string             `json:"rule"`
		Deliveries []testNotification `json:"deliveries"`
	} `json:"matches"`
	Errors []struct {
		Rule  string `json:"rule"`
		Error string `json:"error"`
	} `json:"errors"`
	Explain []router.Explanation `json:"explain"`
}

// testNotification is one rendered notification of a test.
type testNotification struct {
	To           string            `json:"to"`
	ChannelType  string            `json:"channel_type"`
	Content      string            `json:"content"`
	Parts        map[string]string `json:"parts"`
	Error        string            `json:"error,omitempty"`
	Decision     string            `json:"decision,omitempty"`
	Reason       string            `json:"reason,omitempty"`
	Conversation string            `json:"conversation,omitempty"`
	Escalation   string            `json:"escalation,omitempty"`
}

// statusView is GET /api/v1/status.
type statusView struct {
	OK       bool                `json:"ok"`
	Errors   []config.Diagnostic `json:"errors"`
	Warnings []config.Diagnostic `json:"warnings"`
	// RulesFile is the rules file's path on the server.
	RulesFile string `json:"rules_file"`
	// Channels are the channels in use, by name.
	Channels []channelRef `json:"channels"`
	// Writable is nil when the server does not say.
	Writable *bool `json:"writable"`
}

// channelRef is a channel in use: its name and kind.
type channelRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// messageView is a received message, from GET /api/v1/messages.
type messageView struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	WebhookType string          `json:"webhook_type"`
	ReceivedAt  time.Time       `json:"received_at"`
	Body        json.RawMessage `json:"body"`
}

// ruleStat is one rule's activity, from GET /api/v1/stats/rules.
type ruleStat struct {
	Matches    int       `json:"matches"`
	Deliveries int       `json:"deliveries"`
	LastFired  time.Time `json:"last_fired"`
}

// deliveryView is a delivery, from GET /api/v1/deliveries.
type deliveryView struct {
	ID          string    `json:"id"`
	WebhookType string    `json:"webhook_type"`
	Rule        string    `json:"rule"`
	Channel     string    `json:"channel"`
	State       string    `json:"state"`
	Test        bool      `json:"test"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
}

// silenceView is a silence, from GET /api/v1/silences.
type silenceView struct {
	ID     string    `json:"id"`
	Rule   string    `json:"rule"`
	When   string    `json:"when"`
	Reason string    `json:"reason"`
	Author string    `json:"author"`
	EndsAt time.Time `json:"ends_at"`
	State  string    `json:"state"`
}

// silenceInput is the body of POST /api/v1/silences.
type silenceInput struct {
	Rule     string `json:"rule"`
	When     string `json:"when"`
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
	Author   string `json:"author"`
}

// ruleRestore is GET /api/v1/history/{id}/rules/{name}.
type ruleRestore struct {
	ID       int64  `json:"id"`
	Rule     string `json:"rule"`
	Current  string `json:"current"`
	Restored string `json:"restored"`
	Diff     []struct {
		Op   string `json:"op"`
		Text string `json:"text"`
	} `json:"diff"`
}

// channelHealth is a channel's breaker state and backlog, from GET
// /api/v1/channels.
type channelHealth struct {
	State       string     `json:"state"`
	Backlog     int64      `json:"backlog"`
	Failures    int        `json:"failures"`
	OpenedAt    *time.Time `json:"opened_at"`
	NextProbeAt *time.Time `json:"next_probe_at"`
	PausedUntil *time.Time `json:"paused_until"`
	LastError   string     `json:"last_error"`
}

// status is GET /api/v1/status.
func (b *backend) status(ctx context.Context) (statusView, error) {
	var out statusView
	err := b.get(ctx, "/api/v1/status", "read the status", &out)
	return out, err
}

// channels are the channels in use, sorted by name.
func (b *backend) channels(ctx context.Context) ([]channelRef, error) {
	st, err := b.status(ctx)
	return st.Channels, err
}

// recentMessages are the last n messages received, newest first.
func (b *backend) recentMessages(ctx context.Context, n int) ([]messageView, error) {
	var out struct {
		Messages []messageView `json:"messages"`
	}
	err := b.get(ctx, "/api/v1/messages?limit="+strconv.Itoa(n), "read the recent messages", &out)
	return out.Messages, err
}

// ruleStats are the rules' activity over the last window, by rule.
func (b *backend) ruleStats(ctx context.Context, window time.Duration) (map[string]ruleStat, error) {
	var out struct {
		Rules map[string]ruleStat `json:"rules"`
	}
	err := b.get(ctx, "/api/v1/stats/rules?since="+window.String(), "read the rule stats", &out)
	return out.Rules, err
}

// templates are the names of the files in the templates directory.
func (b *backend) templates(ctx context.Context) ([]string, error) {
	var out struct {
		Templates []string `json:"templates"`
	}
	err := b.get(ctx, "/api/v1/templates", "list the templates", &out)
	return out.Templates, err
}

// ruleNames are the rules' names, in file order; none when they cannot be
// read.
func (b *backend) ruleNames(ctx context.Context) []string {
	list, err := b.rules(ctx)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(list.Rules))
	for _, r := range list.Rules {
		names = append(names, r.Name)
	}
	return names
}

// deliveries are the deliveries f selects, newest first.
func (b *backend) deliveries(ctx context.Context, status, rule string, limit int) ([]deliveryView, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if status != "" {
		q.Set("status", status)
	}
	if rule != "" {
		q.Set("rule", rule)
	}
	var out struct {
		Deliveries []deliveryView `json:"deliveries"`
	}
	err := b.get(ctx, "/api/v1/deliveries?"+q.Encode(), "list the deliveries", &out)
	return out.Deliveries, err
}

// channelNames are the names of the channels in use; none when they
// cannot be read.
func (u *UI) channelNames(ctx context.Context) []string {
	chans, err := u.api.channels(ctx)
	if err != nil {
		u.o.Logger.Warn("editor: list channels", "error", err)
	}
	names := make([]string, 0, len(chans))
	for _, c := range chans {
		names = append(names, c.Name)
	}
	return names
}

// channelKind is a channel kind, from GET /api/v1/channel-kinds.
type channelKind struct {
	Name          string      `json:"name"`
	TestRecipient bool        `json:"test_recipient"`
	Fields        []kindField `json:"fields"`
}

// kindField is one key of a kind's block: Type is text, number, bool,
// list, map or json; Secret fields take only ${VAR} references.
type kindField struct {
	Key    string `json:"key"`
	Type   string `json:"type"`
	Secret bool   `json:"secret"`
}

// kinds are the channel kinds the server knows, in its order.
func (b *backend) kinds(ctx context.Context) ([]channelKind, error) {
	var out struct {
		Kinds []channelKind `json:"kinds"`
	}
	err := b.get(ctx, "/api/v1/channel-kinds", "list the channel kinds", &out)
	return out.Kinds, err
}
