package router

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Rerender renders again, with this configuration's templates, what rule
// sends to channel for a stored message (its raw body), for a replay that
// asks for the current templates. When the rule sends to the channel more
// than once, the first target is used. It fails when the rule or the
// target no longer exists, or when the template fails on the message.
func (rs *Ruleset) Rerender(rule, channel, messageID, source string, receivedAt time.Time, body []byte) (notifiers.Parts, error) {
	var data map[string]any
	if err := json.Unmarshal(body, &data); err != nil || data == nil {
		return notifiers.Parts{}, fmt.Errorf("message %s: body is not a JSON object", messageID)
	}
	m := &Message{ID: messageID, Source: source, ReceivedAt: receivedAt, Body: body, Data: data}
	out, ok := rs.RenderRule(rule, m)
	if !ok {
		return notifiers.Parts{}, fmt.Errorf("rule %q no longer exists", rule)
	}
	for _, o := range out {
		if o.Channel != channel {
			continue
		}
		if o.Err != nil {
			return notifiers.Parts{}, o.Err
		}
		return o.Parts, nil
	}
	return notifiers.Parts{}, fmt.Errorf("rule %q no longer sends to channel %q", rule, channel)
}
