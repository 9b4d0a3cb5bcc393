package router

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/config"
)

// MinMessageRetention is the shortest `retention.messages`: below it a
// sender's late retry could be taken for a new message.
const MinMessageRetention = 24 * time.Hour

// RetentionConfig is the top-level `retention:` block.
type RetentionConfig struct {
	// Messages is how long received messages (their original bytes) are
	// kept after receipt, whatever became of their deliveries, so that
	// backtests and `switchboard unmatched` can replay them (default 7d,
	// at least 24h; a message is also kept as long as a delivery refers
	// to it). Delivered and dead deliveries have their own retention.
	Messages Days `yaml:"messages,omitempty"`
}

// Days is a duration that may also be written in days: 30d, 1d12h, 36h.
type Days time.Duration

// UnmarshalYAML implements goccy/go-yaml's BytesUnmarshaler.
func (d *Days) UnmarshalYAML(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"'`)
	v, err := ParseDays(s)
	if err != nil {
		return err
	}
	*d = Days(v)
	return nil
}

// MarshalYAML writes whole days as "30d".
func (d Days) MarshalYAML() ([]byte, error) {
	v := time.Duration(d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(FormatDuration(v)), nil
}

// ParseDays reads a duration that may start with a number of days: 30d,
// 1d12h, 36h, 90m.
func ParseDays(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q (write durations like 30d, 36h or 1d12h)", s)
	days := 0
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return 0, bad
		}
		rest = v
	}
	return time.Duration(days)*24*time.Hour + rest, nil
}

// compileRetention checks the retention block and keeps it on the Ruleset.
func (c *compiler) compileRetention(doc *document) {
	if doc.retention == nil {
		return
	}
	m := time.Duration(doc.retention.Messages)
	if m != 0 && m < MinMessageRetention {
		c.ds.add(config.SeverityError, c.file, doc.retentionPos, "", "retention.messages",
			"retention.messages must be at least 24h (it is also the window in which duplicates are recognised)")
		return
	}
	c.rs.MessageRetention = m
}
