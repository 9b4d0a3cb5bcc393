package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// conversationWait is how long a delivery waits, unattempted, while
// another delivery of its conversation posts the first message it must
// reply to or update.
const conversationWait = 2 * time.Second

// joinConversation completes the delivery's conversation reference from
// the store just before sending: the first message's Slack ts, or the
// first email's delivery ID. wait is true when the first message is
// still being posted by another delivery; root is true when this delivery
// posts the first message. A service that keeps conversations itself
// (PagerDuty's dedup_key, Opsgenie's alias) gets the conversation's name
// and whether the delivery resolves it, and nothing from the store.
func (d *Dispatcher) joinConversation(it *item, n notifiers.Notifier) (dl notifiers.Notification, root, wait bool) {
	dl = it.d.Notification
	c := dl.Parts.Conversation
	if c == nil {
		return dl, false, false
	}
	if _, ok := n.(notifiers.ConversationNotifier); !ok {
		if dl.ConversationKey == "" {
			dl.ConversationKey = c.Rule + "/" + c.Key
		}
		dl.Resolve = dl.Resolve || c.Resolves
		return dl, false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	ref, wait, err := d.o.Store.ConversationRef(ctx, c.Rule, c.Key, dl.Channel, dl.ID)
	cancel()
	if err != nil {
		d.log.Warn("cannot read the conversation; trying again shortly", "delivery", dl.ID, "message", dl.MessageID,
			"rule", dl.Rule, "channel", dl.Channel, "error", err)
		return dl, false, true
	}
	if wait {
		return dl, false, true
	}
	conv := *c
	conv.Root, conv.SlackChannel, conv.SlackTS = ref.Root, ref.SlackChannel, ref.SlackTS
	dl.Parts.Conversation = &conv
	return dl, ref.Root == "", false
}

// notifyConversation sends dl and, when it posted a conversation's first
// message, records what the peer answered for the deliveries that follow.
func (d *Dispatcher) notifyConversation(ctx context.Context, n notifiers.Notifier, dl notifiers.Notification, root bool) error {
	cn, ok := n.(notifiers.ConversationNotifier)
	if dl.Parts.Conversation == nil || !ok {
		return notify(ctx, n, dl)
	}
	var posted notifiers.Posted
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = notifiers.Permanent(errPanic(r))
			}
		}()
		posted, err = cn.NotifyConversation(ctx, dl)
		return err
	}()
	if err != nil || !root || posted == (notifiers.Posted{}) {
		return err
	}
	c := dl.Parts.Conversation
	sctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if serr := d.o.Store.SavePosted(sctx, c.Rule, c.Key, dl.Channel, dl.ID, posted); serr != nil {
		// The message went out; the next delivery of the conversation
		// will start a new thread rather than be lost.
		d.log.Error("cannot record the conversation's first message", "delivery", dl.ID, "rule", dl.Rule,
			"channel", dl.Channel, "error", serr)
	}
	return nil
}

// escalate turns due escalations into deliveries, which the claim that
// follows picks up.
func (d *Dispatcher) escalate(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	n, err := d.o.Store.FireEscalations(cctx, d.o.Now(), claimBatch)
	cancel()
	d.repeats.Report(ctx, d.log, slog.LevelWarn, "cannot fire escalations", err)
	if err != nil {
		return
	}
	if n > 0 {
		d.log.Info("escalations due", "count", n)
	}
}
