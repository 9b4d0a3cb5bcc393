package router

import (
	"time"

	"github.com/switchboard-dev/switchboard/config"
)

// MinMessageRetention is the shortest `retention.messages`: below it a
// sender's late retry could be taken for a new message.
const MinMessageRetention = 24 * time.Hour

// compileRetention checks the retention block and keeps it on the Ruleset.
func (c *compiler) compileRetention(doc *config.Document) {
	if doc.Retention == nil {
		return
	}
	m := time.Duration(doc.Retention.Messages)
	if m != 0 && m < MinMessageRetention {
		c.ds.Add(config.SeverityError, c.file, doc.RetentionPos, "", "retention.messages",
			"retention.messages must be at least 24h (it is also the window in which duplicates are recognised)")
		return
	}
	c.rs.MessageRetention = m
}
