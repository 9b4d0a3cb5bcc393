package router

import (
	"sync"

	"github.com/switchboard-dev/switchboard/config"

	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// Ruleset is a compiled, immutable configuration. It is safe for
// concurrent use; a reload builds a new one and swaps it in whole.
type Ruleset struct {
	// Version is a content hash of the rules file and templates.
	Version string
	// LoadedAt is when the Ruleset was compiled.
	LoadedAt time.Time
	Sources  map[string]*Source
	Channels map[string]*Channel
	// Rules are in file order, disabled ones included.
	Rules []*Rule
	// Warnings found while loading.
	Warnings []config.Diagnostic
	// MessageRetention is `retention.messages`; zero: the store's default.
	MessageRetention time.Duration

	index *ruleIndex

	now          func() time.Time
	sourceOrder  []string
	channelOrder []string
	// secrets are the revealed values of every secret field, used to
	// scrub any text that might echo them.
	secrets []string

	readsOnce sync.Once
	reads     *Reads // MessageReads, once computed
}

// Rule is a compiled rule.
type Rule struct {
	Name        string
	Description string
	Enabled     bool
	When        string
	// Index is the rule's position in the file.
	Index   int
	cond    *condition
	sends   []SendConfig
	targets []*target
	// Throttle, Group and Schedule are the rule's alert-fatigue settings
	// (nil when not set).
	Throttle *Throttle
	Group    *Group
	Schedule *schedule.Schedule
	// fatigue is how the three are written in the rules file (nil: none
	// is).
	fatigue *FatigueConfig
	// conv is the rule's conversation (thread/update key, resolves,
	// escalate); nil when it has none.
	conv *conversation
}

// FatigueConfig is a rule's throttle, group and schedule as written.
type FatigueConfig struct {
	Throttle *ThrottleConfig
	Group    *GroupConfig
	Schedule *ScheduleConfig
}

// FatigueConfig returns the rule's throttle, group and schedule as
// written in the rules file.
func (r *Rule) FatigueConfig() FatigueConfig {
	if r.fatigue == nil {
		return FatigueConfig{}
	}
	return *r.fatigue
}

// Sends returns the rule's send entries as written.
func (r *Rule) Sends() []SendConfig { return append([]SendConfig(nil), r.sends...) }

// Targets returns the names of the channels the rule sends to, in order.
func (r *Rule) Targets() []string {
	out := make([]string, len(r.targets))
	for i, t := range r.targets {
		out[i] = t.channel.Name
	}
	return out
}

// SourceNames returns the source names in file order.
func (rs *Ruleset) SourceNames() []string { return append([]string(nil), rs.sourceOrder...) }

// ChannelNames returns the channel names in file order.
func (rs *Ruleset) ChannelNames() []string { return append([]string(nil), rs.channelOrder...) }

// Scrub replaces every configured secret value in s with "<secret>".
func (rs *Ruleset) Scrub(s string) string { return secret.Scrub(s, rs.secrets...) }

// Message is what the router matches: one received webhook.
type Message struct {
	// ID identifies the message (time-ordered).
	ID string
	// Source is the name of the source it came in through.
	Source string
	// ReceivedAt is when it arrived.
	ReceivedAt time.Time
	// Body is the raw body, byte for byte.
	Body []byte
	// Data is the decoded JSON object. Route adds "meta" unless the
	// payload has its own.
	Data map[string]any
}

// NewMessageID returns a new time-ordered message or delivery ID.
func NewMessageID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Outgoing is one delivery produced by routing.
type Outgoing struct {
	notifiers.Notification
	// Kind is the channel kind (slack, email, http, pagerduty, opsgenie,
	// teams, discord).
	Kind string
	// Content says where the content came from ("template x.tmpl",
	// "message", "default").
	Content string
	// Err is set when rendering failed: the delivery must go straight to
	// the dead-letter store with this error. Other deliveries proceed.
	Err error
	// Policy is what the rule's throttle, group and quiet hours (or the
	// channel's) make of this delivery; nil when none applies.
	Policy *Policy
	// Conversation is set when the delivery belongs to a conversation
	// (thread or update key; resolves; escalate).
	Conversation *Conversation
}

// RuleError is a run-time error evaluating a rule's condition on a
// message. The rule does not match that message; other rules are not
// affected.
type RuleError struct {
	Rule string
	Err  error
}

// Result is the outcome of routing one message.
type Result struct {
	// Matched lists the names of the rules that matched, in file order.
	Matched    []string
	Deliveries []Outgoing
	Errors     []RuleError
}

// WebhookType returns the message's webhook_type (or type/event for other
// senders), for logs and the delivery log.
func (m *Message) WebhookType() string {
	for _, k := range []string{"webhook_type", "type", "event_type", "event"} {
		if s, ok := m.Data[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// prepare adds the message's metadata as `meta`, unless the payload has a
// top-level meta of its own (which wins, as documented).
func (m *Message) prepare() {
	if m.Data == nil {
		m.Data = map[string]any{}
	}
	if _, ok := m.Data["meta"]; !ok {
		m.Data["meta"] = map[string]any{
			"source":      m.Source,
			"id":          m.ID,
			"received_at": m.ReceivedAt.UTC().Format(time.RFC3339Nano),
		}
	}
}

// Route evaluates every enabled rule against m, in file order, and renders
// one delivery per target of each matching rule.
func (rs *Ruleset) Route(m *Message) Result { return rs.route(m, false) }

// Preview routes like Route but also renders the matches of grouping
// rules, which Route leaves to the digest: for test and the editor.
func (rs *Ruleset) Preview(m *Message) Result { return rs.route(m, true) }

// RenderRule renders the named rule's deliveries for m whether or not its
// condition matches, for a test notification. ok is false when there is
// no such rule.
func (rs *Ruleset) RenderRule(name string, m *Message) (out []Outgoing, ok bool) {
	r, ok := rs.Rule(name)
	if !ok {
		return nil, false
	}
	m.prepare()
	return rs.render(r, m, true), true
}

func (rs *Ruleset) route(m *Message, renderGrouped bool) Result {
	m.prepare()
	var res Result
	var buf [16]int
	for _, i := range rs.index.candidates(m.Data, buf[:0]) {
		r := rs.Rules[i]
		ok, err := true, error(nil) // an exact rule matches once selected
		if r.cond != nil {
			ok, err = r.cond.eval(m.Data)
		}
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: r.Name, Err: err})
			continue
		}
		if !ok {
			continue
		}
		res.Matched = append(res.Matched, r.Name)
		res.Deliveries = append(res.Deliveries, rs.render(r, m, renderGrouped)...)
	}
	return res
}

// render produces the deliveries of one matched rule.
func (rs *Ruleset) render(r *Rule, m *Message, renderGrouped bool) []Outgoing {
	out := make([]Outgoing, 0, len(r.targets))
	for _, t := range r.targets {
		var parts notifiers.Parts
		policy, err := rs.policy(r, t, m.Data, m.Body, m.ReceivedAt)
		if err == nil && (policy == nil || !policy.Grouped || renderGrouped) {
			// A grouped match is rendered with its group, in the digest.
			parts, err = t.render(m.Data, m.Body)
		}
		if err != nil {
			err = fmt.Errorf("%s", rs.Scrub(err.Error()))
			// Nothing half rendered is kept: the dead letter has nothing
			// to send but its error (a replay renders it again).
			policy, parts = nil, notifiers.Parts{}
		}
		out = append(out, Outgoing{
			Notification: notifiers.Notification{
				ID:        NewMessageID(),
				MessageID: m.ID,
				Rule:      r.Name,
				Channel:   t.channel.Name,
				Parts:     parts,
			},
			Kind:    t.channel.Kind,
			Content: t.content,
			Err:     err,
			Policy:  policy,
		})
		rs.attachConversation(r, t, m, &out[len(out)-1])
	}
	return out
}

// Rule returns the named rule.
func (rs *Ruleset) Rule(name string) (*Rule, bool) {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// close releases what the Ruleset's notifiers hold (idle connections). It
// is safe while deliveries still use them: only idle resources are closed.
func (rs *Ruleset) close() {
	if rs == nil {
		return
	}
	for _, ch := range rs.Channels {
		if c, ok := ch.Notifier.(notifiers.Closer); ok {
			_ = c.Close()
		}
	}
}

// Close releases the Ruleset's idle resources. Call it after a newer
// Ruleset has replaced this one.
func (rs *Ruleset) Close() { rs.close() }

// RuleNames returns the rule names in file order.
func (rs *Ruleset) RuleNames() []string {
	out := make([]string, len(rs.Rules))
	for i, r := range rs.Rules {
		out[i] = r.Name
	}
	return out
}
