package teams

import (
	"errors"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Config is a Teams channel: one Workflows webhook.
type Config struct {
	// WebhookURL is the URL of a Teams Workflows webhook (the "Post to a
	// channel when a webhook request is received" template). The whole
	// URL is the credential: write it as ${VAR}.
	WebhookURL secret.String `yaml:"webhook_url,omitempty" sb:"env"`
}

// Validate reports every problem with c as *notifiers.FieldError values
// joined with errors.Join. Messages never contain secret values.
func (c Config) Validate() error {
	if c.WebhookURL.IsZero() {
		return &notifiers.FieldError{Field: "webhook_url", Message: "required: the Workflows webhook URL, as ${VAR}"}
	}
	if msg := notifiers.CheckHTTPURL(c.WebhookURL.Reveal()); msg != "" {
		return errors.Join(&notifiers.FieldError{Field: "webhook_url", Message: msg})
	}
	return nil
}
