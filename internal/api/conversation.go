package api

import (
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router"
)

// describeConversation says, for a test, which conversation a delivery
// joins and what its rule's escalation would send.
func describeConversation(d router.Outgoing) (conversation, escalation string) {
	c, ref := d.Conversation, d.Parts.Conversation
	if c == nil || ref == nil {
		return "", ""
	}
	how := "the first message starts a thread; later ones reply in it"
	if ref.Mode == notifiers.ModeUpdate {
		how = "the first message is posted; later ones edit it"
	}
	if ref.Broadcast {
		how += " (also shown in the channel)"
	}
	if c.Resolves {
		how = "resolves the open conversation: replies in its thread"
		if ref.Mode == notifiers.ModeUpdate {
			how = "resolves the open conversation: edits its first message"
		}
	}
	conversation = fmt.Sprintf("%s %q — %s", c.Rule, c.Key, how)
	if e := c.Escalate; e != nil {
		// The escalation's first part that says something: a chat text,
		// an email's subject, an HTTP body.
		text := ""
		for _, part := range []string{e.Parts.Text, e.Parts.Subject, e.Parts.Body, e.Parts.Card} {
			if text = strings.TrimSpace(part); text != "" {
				break
			}
		}
		if e.Err != nil {
			text = "ERROR: " + e.Err.Error()
		}
		unless := "unless resolved"
		if !e.UnlessResolved {
			unless = "whether or not resolved"
		}
		escalation = fmt.Sprintf("after %s %s, to %s: %s", router.FormatDuration(e.After), unless, e.Channel, firstLineOf(text))
	}
	return conversation, escalation
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
