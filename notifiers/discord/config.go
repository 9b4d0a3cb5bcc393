package discord

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Config is a Discord channel: one webhook.
type Config struct {
	// WebhookURL is the channel's webhook URL
	// (https://discord.com/api/webhooks/<id>/<token>). The token in it is
	// the credential: write it as ${VAR}.
	WebhookURL secret.String `yaml:"webhook_url,omitempty" sb:"env"`
	// Username replaces the webhook's name on each message (optional,
	// 1 to 80 characters; Discord refuses names containing "discord" or
	// "clyde").
	Username string `yaml:"username,omitempty"`
}

// Validate reports every problem with c as *notifiers.FieldError values
// joined with errors.Join. Messages never contain secret values.
func (c Config) Validate() error {
	var errs []error
	add := func(field, msg string) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: msg})
	}
	if c.WebhookURL.IsZero() {
		add("webhook_url", "required: the channel's webhook URL, as ${VAR}")
	} else if msg := notifiers.CheckHTTPURL(c.WebhookURL.Reveal()); msg != "" {
		add("webhook_url", msg)
	}
	if c.Username != "" {
		lower := strings.ToLower(c.Username)
		switch {
		case strings.TrimSpace(c.Username) == "" || utf8.RuneCountInString(c.Username) > 80:
			add("username", "must be 1 to 80 characters")
		case strings.Contains(lower, "discord") || strings.Contains(lower, "clyde"):
			add("username", `must not contain "discord" or "clyde" (Discord refuses it)`)
		case strings.ContainsAny(c.Username, "@#:`"):
			add("username", "must not contain @, #, : or `")
		}
	}
	return errors.Join(errs...)
}
