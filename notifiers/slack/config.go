package slack

import (
	"errors"
	"net/url"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Config is a Slack channel: either a bot token + channel (chat.postMessage) or an incoming webhook URL.
type Config struct {
	// Token is a bot token (xoxb-…) with the chat:write scope. The bot must
	// be a member of Channel (or also have chat:write.public).
	Token secret.String `yaml:"token,omitempty" sb:"env"`
	// Channel is where token-mode messages go: a name ("#billing-alerts")
	// or a conversation ID ("C0123456789"). Required with token.
	Channel string `yaml:"channel,omitempty"`
	// APIURL replaces Slack's Web API base URL (https://slack.com/api/), for
	// self-hosted proxies and tests. Method names are appended to it, so a
	// missing trailing "/" is added. Only with token.
	APIURL secret.URL `yaml:"api_url,omitempty" sb:"env"`
	// WebhookURL is an incoming webhook URL
	// (https://hooks.slack.com/services/…). The whole URL is the credential.
	// It posts to the channel it was created for.
	WebhookURL secret.String `yaml:"webhook_url,omitempty" sb:"env"`
}

// Validate reports every problem with c as *notifiers.FieldError values
// joined with errors.Join. Messages never contain secret values.
func (c Config) Validate() error {
	var errs []error
	add := func(field, msg string) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: msg})
	}

	hasToken, hasWebhook := !c.Token.IsZero(), !c.WebhookURL.IsZero()
	switch {
	case !hasToken && !hasWebhook:
		add("token", "set token (with channel) or webhook_url")
	case hasToken && hasWebhook:
		add("webhook_url", "set either token or webhook_url, not both")
	}

	if hasToken {
		if strings.TrimSpace(c.Token.Reveal()) != c.Token.Reveal() {
			add("token", "has leading or trailing white space")
		}
		if strings.TrimSpace(c.Channel) == "" {
			add("channel", "required with token")
		}
	}
	if hasWebhook {
		if c.Channel != "" && !hasToken {
			add("channel", "only with token: an incoming webhook posts to the channel it was created for")
		}
		if msg := notifiers.CheckHTTPURL(c.WebhookURL.Reveal()); msg != "" {
			add("webhook_url", msg)
		}
	}
	if c.APIURL != "" {
		if !hasToken {
			add("api_url", "only with token")
		}
		if msg := notifiers.CheckHTTPURL(c.APIURL.Reveal()); msg != "" {
			add("api_url", msg)
		} else if u, _ := url.Parse(c.APIURL.Reveal()); u.RawQuery != "" || u.Fragment != "" {
			add("api_url", "must not have a query or fragment: method names are appended to it")
		}
	}
	return errors.Join(errs...)
}

// apiURL returns the Web API base URL to use, with its trailing slash.
func (c Config) apiURL() string {
	raw := c.APIURL.Reveal()
	if raw == "" {
		return slackapi.APIURL
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	return raw
}
