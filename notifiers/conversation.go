package notifiers

import (
	"context"
	"errors"
)

// Conversation modes: how a delivery joins the conversation of its key.
const (
	// ModeThread replies in the thread the conversation's first message
	// started (Slack thread_ts; email In-Reply-To and References).
	ModeThread = "thread"
	// ModeUpdate edits the conversation's first message in place (Slack
	// chat.update).
	ModeUpdate = "update"
)

// Conversation places a delivery in the conversation of one billing object
// (a rule and a rendered key, e.g. an invoice's lago_id). Routing sets
// Rule, Key, Mode and Broadcast; the delivery worker fills in the rest
// just before sending, from the state the store keeps.
type Conversation struct {
	// Rule is the rule that opened the conversation (for a resolving rule,
	// the rule it resolves); Key is the rendered key.
	Rule string `json:"rule"`
	Key  string `json:"key"`
	// Mode is ModeThread or ModeUpdate.
	Mode string `json:"mode"`
	// Broadcast also shows a thread reply in the channel (Slack
	// reply_broadcast).
	Broadcast bool `json:"broadcast,omitempty"`
	// Resolves is set on the deliveries of a rule that resolves the
	// conversation: PagerDuty resolves its incident, Opsgenie closes its
	// alert.
	Resolves bool `json:"resolves,omitempty"`

	// Root is the delivery ID of the conversation's first message in this
	// channel, empty when this delivery is the first. Email derives
	// In-Reply-To from it.
	Root string `json:"root,omitempty"`
	// SlackChannel and SlackTS identify the first Slack message (the
	// conversation ID and ts chat.postMessage answered), empty when this
	// delivery is the first.
	SlackChannel string `json:"slack_channel,omitempty"`
	SlackTS      string `json:"slack_ts,omitempty"`
}

// Posted is what a peer answered about a message it accepted, for the
// conversation's later deliveries: Slack's channel ID and ts, an email's
// Message-ID.
type Posted struct {
	SlackChannel   string
	SlackTS        string
	EmailMessageID string
}

// ConversationNotifier is implemented by notifiers that can reply to or
// edit an earlier message. NotifyConversation sends d, whose
// Parts.Conversation is set, and reports the posted message's reference
// (zero when the peer gives none). Its error follows Notify's rules.
type ConversationNotifier interface {
	NotifyConversation(ctx context.Context, d Notification) (Posted, error)
}

// ErrNoReference is wrapped by a ConversationNotifier's error when a reply
// or update needs a reference the channel cannot give (an incoming webhook
// answers no ts).
var ErrNoReference = errors.New("this channel gives no message reference to reply to")
