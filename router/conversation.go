package router

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// conversation is a rule's compiled conversation: the key its targets'
// thread or update templates share, the rule it resolves and its
// escalation.
type conversation struct {
	key      *render.Template
	keySrc   string
	resolves string
	escalate *escalation
}

// escalation is a rule's compiled escalate block.
type escalation struct {
	after          time.Duration
	unlessResolved bool
	target         *target
}

// ConversationInfo describes a rule's conversation settings, for `test`
// and the API. Key is empty when the rule has none.
type ConversationInfo struct {
	Key      string
	Resolves string
	// EscalateAfter and EscalateTo are set when the rule escalates.
	EscalateAfter  time.Duration
	EscalateTo     string
	UnlessResolved bool
}

// Conversation returns the rule's conversation settings.
func (r *Rule) Conversation() ConversationInfo {
	c := r.conv
	if c == nil {
		return ConversationInfo{}
	}
	info := ConversationInfo{Key: c.keySrc, Resolves: c.resolves}
	if e := c.escalate; e != nil && e.target != nil {
		info.EscalateAfter, info.EscalateTo, info.UnlessResolved = e.after, e.target.channel.Name, e.unlessResolved
	}
	return info
}

// Conversation is what routing makes of a delivery that belongs to a
// conversation; the store completes it in the ingest transaction (the
// conversation's state is shared by every replica).
type Conversation struct {
	// Rule and Key identify the conversation: for a resolving rule, Rule
	// is the rule it resolves.
	Rule, Key string
	// Resolves is set when the delivery's rule closes the conversation.
	Resolves bool
	// EventAt is the payload's own time (see EventTime); zero when it has
	// none.
	EventAt time.Time
	// Rerender renders the delivery again with .Previous set.
	Rerender func(Previous) (notifiers.Parts, error)
	// Escalate is the rule's escalation, rendered on this message; nil
	// when the rule does not escalate.
	Escalate *Escalation
}

// Escalation is a rendered escalation, stored with a new conversation and
// sent if it is still open After from now.
type Escalation struct {
	After          time.Duration
	UnlessResolved bool
	Channel        string
	Parts          notifiers.Parts
	// Err is set when the escalation failed to render: it will be
	// dead-lettered with it when due.
	Err error
}

// Previous is what templates see as .Previous: the earlier notifications
// of the conversation.
type Previous struct {
	// Count is the number of earlier notifications of the key.
	Count int
	// FirstAt and LastAt are when the first and the last arrived.
	FirstAt, LastAt time.Time
	// Text and Subject are the last notification's rendered parts.
	Text, Subject string
}

func (p Previous) data() map[string]any {
	return map[string]any{"Count": p.Count, "FirstAt": p.FirstAt, "LastAt": p.LastAt, "Text": p.Text, "Subject": p.Subject}
}

// eventTimeFields are the payload fields read, in order, as a message's
// own time: Lago puts them on the object the message is about.
var eventTimeFields = []string{"updated_at", "last_balance_sync_at", "settled_at", "created_at"}

// EventTime returns the payload's own time: the first of updated_at,
// last_balance_sync_at, settled_at and created_at found on the object
// named by object_type (or on its invoice), or at the top level. ok is
// false when there is none: such a message cannot show it is newer than
// a resolution.
func EventTime(data map[string]any) (t time.Time, ok bool) {
	var objs []map[string]any
	if ot, _ := data["object_type"].(string); ot != "" {
		if o, _ := data[ot].(map[string]any); o != nil {
			objs = append(objs, o)
			if inv, _ := o["invoice"].(map[string]any); inv != nil {
				objs = append(objs, inv)
			}
		}
	}
	objs = append(objs, data)
	for _, o := range objs {
		for _, f := range eventTimeFields {
			s, _ := o[f].(string)
			if s == "" {
				continue
			}
			if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return v.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// compileTargetConversation reads a send entry's thread, update and
// broadcast keys.
func (c *compiler) compileTargetConversation(rule *Rule, ruleNode ast.Node, j int, s SendConfig, t *target) {
	field := fmt.Sprintf("send[%d]", j)
	sn := config.Lookup(ruleNode, "send", j)
	if s.Thread == "" && s.Update == "" {
		if s.Broadcast {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "broadcast"), rule.Name, field+".broadcast", "%s: broadcast needs thread (a key template)", field)
		}
		return
	}
	mode, src := notifiers.ModeThread, s.Thread
	if s.Update != "" {
		mode, src = notifiers.ModeUpdate, s.Update
	}
	at := config.PosIn(sn, mode)
	switch {
	case s.Thread != "" && s.Update != "":
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "update"), rule.Name, field+".update", "%s: set thread or update, not both", field)
		return
	case strings.TrimSpace(src) == "":
		c.ds.Add(config.SeverityError, c.file, at, rule.Name, field+"."+mode, "%s.%s: the key template is empty", field, mode)
		return
	case s.Broadcast && mode == notifiers.ModeUpdate:
		// Reported, and the key kept: the rule's other checks stay true.
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "broadcast"), rule.Name, field+".broadcast", "%s: broadcast goes with thread, not update", field)
	case t.channel.Descriptor.NoConversations != "":
		c.ds.Add(config.SeverityError, c.file, at, rule.Name, field+"."+mode, "%s.%s: channel %q %s", field, mode, t.channel.Name, t.channel.Descriptor.NoConversations)
		return
	case t.channel.Descriptor.NoUpdates != "" && mode == notifiers.ModeUpdate:
		c.ds.Add(config.SeverityError, c.file, at, rule.Name, field+".update", "%s.update: %s", field, t.channel.Descriptor.NoUpdates)
		return
	case s.Broadcast && !t.channel.Descriptor.Broadcasts:
		// Reported, and the key kept: the rule's other checks stay true.
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "broadcast"), rule.Name, field+".broadcast",
			"%s: broadcast is Slack's (a thread reply also shown in the channel); channel %q is %s", field, t.channel.Name, t.channel.Kind)
	case t.channel.unthreaded():
		c.ds.Add(config.SeverityError, c.file, at, rule.Name, field+"."+mode,
			"%s.%s: channel %q posts through an incoming webhook, which returns no message ts to reply to or update; use a bot token (token and channel)", field, mode, t.channel.Name)
		return
	}
	key := c.inline(config.Lookup(sn, mode), src, render.Plain, rule.Name, field+"."+mode)
	if key == nil {
		return
	}
	if rule.conv == nil {
		rule.conv = &conversation{key: key, keySrc: strings.TrimSpace(src)}
	} else if rule.conv.keySrc != strings.TrimSpace(src) {
		c.ds.Add(config.SeverityError, c.file, at, rule.Name, field+"."+mode,
			"%s.%s: a rule has one conversation key; %q differs from %q", field, mode, strings.TrimSpace(src), rule.conv.keySrc)
		return
	}
	t.convMode, t.broadcast = mode, s.Broadcast
}

// compileConversation checks a rule's resolves and compiles its escalate
// block, once its targets are compiled.
func (c *compiler) compileConversation(rule *Rule, r RuleConfig, node ast.Node) {
	if rule.conv != nil && r.Group != nil {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "group"), r.Name, "group",
			"group cannot be combined with thread or update: a digest is not part of one conversation")
	}
	if r.Resolves != "" {
		if rule.conv == nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "resolves"), r.Name, "resolves",
				"resolves needs a conversation key: set thread or update on a send target (the same key as rule %q)", r.Resolves)
		} else {
			rule.conv.resolves = r.Resolves
		}
	}
	e := r.Escalate
	if e == nil {
		return
	}
	en := config.Lookup(node, "escalate")
	switch {
	case rule.conv == nil:
		c.ds.Add(config.SeverityError, c.file, config.NodePos(en), r.Name, "escalate",
			"escalate needs a conversation key: set thread or update on a send target")
		return
	case r.Resolves != "":
		c.ds.Add(config.SeverityError, c.file, config.NodePos(en), r.Name, "escalate",
			"escalate belongs on the rule that opens the conversation (%q), not on the one that resolves it", r.Resolves)
		return
	case e.After <= 0:
		c.ds.Add(config.SeverityError, c.file, config.PosIn(en, "after"), r.Name, "escalate.after",
			"escalate.after must be a positive duration, e.g. 48h")
		return
	}
	t := c.compileTargetAt(r.Name, en, "escalate", SendConfig{To: e.To, Template: e.Template, Message: e.Message})
	if t == nil {
		return
	}
	rule.conv.escalate = &escalation{after: time.Duration(e.After), unlessResolved: e.UnlessResolved == nil || *e.UnlessResolved, target: t}
}

// checkResolves checks, once every rule is compiled, that each resolves
// names a rule that opens conversations.
func (c *compiler) checkResolves(refs []resolveRef) {
	byName := map[string]*Rule{}
	for _, r := range c.rs.Rules {
		byName[r.Name] = r
	}
	for _, ref := range refs {
		name := ref.resolves
		r := byName[ref.name]
		if name == "" || r == nil || r.conv == nil {
			continue
		}
		at := ref.at
		other, ok := byName[name]
		switch {
		case name == ref.name:
			c.ds.Add(config.SeverityError, c.file, at, r.Name, "resolves", "resolves: a rule cannot resolve itself")
		case !ok:
			c.ds.Add(config.SeverityError, c.file, at, r.Name, "resolves", "resolves: unknown rule %q", name)
		case other.conv == nil:
			c.ds.Add(config.SeverityError, c.file, at, r.Name, "resolves",
				"resolves: rule %q has no conversation key (set thread or update on its send targets)", name)
		case other.conv.resolves != "":
			c.ds.Add(config.SeverityError, c.file, at, r.Name, "resolves",
				"resolves: rule %q itself resolves %q; name the rule that opens the conversation", name, other.conv.resolves)
		}
	}
}

// resolveRef is a rule's resolves as written: the rule's name, the rule
// it names and where.
type resolveRef struct {
	name, resolves string
	at             config.Pos
}

// attachConversation completes a rendered delivery of rule r through
// target t with its conversation. A key that renders empty leaves the
// delivery outside any conversation.
func (rs *Ruleset) attachConversation(r *Rule, t *target, m *Message, o *Outgoing) {
	if r.conv == nil || t.convMode == "" || o.Err != nil {
		return
	}
	key, err := renderKey(r.conv.key, m.Data)
	if err != nil {
		o.Err = fmt.Errorf("%s", rs.Scrub(fmt.Sprintf("%s key: %v", t.convMode, err)))
		return
	}
	if key == "" {
		return
	}
	root := r.Name
	if r.conv.resolves != "" {
		root = r.conv.resolves
	}
	o.Parts.Conversation = &notifiers.Conversation{Rule: root, Key: key, Mode: t.convMode, Broadcast: t.broadcast,
		Resolves: r.conv.resolves != ""}
	conv := &Conversation{Rule: root, Key: key, Resolves: r.conv.resolves != ""}
	conv.EventAt, _ = EventTime(m.Data)
	data, raw := m.Data, m.Body
	conv.Rerender = func(p Previous) (notifiers.Parts, error) {
		d := make(map[string]any, len(data)+1)
		for k, v := range data {
			d[k] = v
		}
		d["Previous"] = p.data()
		parts, err := t.render(d, raw)
		if err != nil {
			return parts, fmt.Errorf("%s", rs.Scrub(err.Error()))
		}
		parts.Conversation = o.Parts.Conversation
		return parts, nil
	}
	if e := r.conv.escalate; e != nil {
		esc := &Escalation{After: e.after, UnlessResolved: e.unlessResolved, Channel: e.target.channel.Name}
		esc.Parts, esc.Err = e.target.render(m.Data, m.Body)
		if esc.Err != nil {
			esc.Err = fmt.Errorf("%s", rs.Scrub(esc.Err.Error()))
		}
		conv.Escalate = esc
	}
	o.Conversation = conv
}
