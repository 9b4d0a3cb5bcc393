package ingest

import (
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router"
)

// conversationSpec turns a routed delivery's conversation into the
// store's, which settles it in the ingest transaction; nil when the
// delivery belongs to none.
func conversationSpec(d router.Outgoing) *store.ConversationSpec {
	c := d.Conversation
	if c == nil {
		return nil
	}
	spec := &store.ConversationSpec{Rule: c.Rule, Key: c.Key, Resolves: c.Resolves, EventAt: c.EventAt, Ref: d.Parts.Conversation}
	if c.Rerender != nil {
		rerender := c.Rerender
		spec.Rerender = func(p store.Previous) (notifiers.Parts, error) {
			return rerender(router.Previous{Count: p.Count, FirstAt: p.FirstAt, LastAt: p.LastAt, Text: p.Text, Subject: p.Subject})
		}
	}
	if e := c.Escalate; e != nil {
		spec.Escalate = &store.EscalationSpec{After: e.After, UnlessResolved: e.UnlessResolved, Channel: e.Channel, Parts: e.Parts}
		if e.Err != nil {
			spec.Escalate.Err = e.Err.Error()
		}
	}
	return spec
}
