package pagerduty

import (
	"errors"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// DefaultAPIURL is the Events API v2 endpoint.
const DefaultAPIURL = "https://events.pagerduty.com/v2/enqueue"

// Severities PagerDuty accepts, most urgent first.
var Severities = []string{"critical", "error", "warning", "info"}

// Config is a PagerDuty channel: one Events API v2 integration of a
// service.
type Config struct {
	// RoutingKey is the integration key of an "Events API v2" integration
	// on a PagerDuty service (32 characters). Write it as ${VAR}.
	RoutingKey secret.String `yaml:"routing_key,omitempty" sb:"env"`
	// Severity is the alert's severity: critical, error, warning or info
	// (default error). It drives the service's urgency rules.
	Severity string `yaml:"severity,omitempty"`
	// APIURL replaces the Events API endpoint
	// (https://events.pagerduty.com/v2/enqueue), for a proxy or tests.
	APIURL secret.URL `yaml:"api_url,omitempty" sb:"env"`
}

// Validate reports every problem with c as *notifiers.FieldError values
// joined with errors.Join. Messages never contain secret values.
func (c Config) Validate() error {
	var errs []error
	add := func(field, msg string) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: msg})
	}
	key := c.RoutingKey.Reveal()
	switch {
	case key == "":
		add("routing_key", "required: the integration key of an Events API v2 integration, as ${VAR}")
	case strings.TrimSpace(key) != key:
		add("routing_key", "has leading or trailing white space")
	case len(key) != 32:
		add("routing_key", "must be 32 characters (the Events API v2 integration key)")
	}
	if c.Severity != "" && !validSeverity(c.Severity) {
		add("severity", "must be one of "+strings.Join(Severities, ", "))
	}
	if c.APIURL != "" {
		if msg := notifiers.CheckHTTPURL(c.APIURL.Reveal()); msg != "" {
			add("api_url", msg)
		}
	}
	return errors.Join(errs...)
}

func validSeverity(s string) bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// severity returns the configured severity or the default.
func (c Config) severity() string {
	if c.Severity == "" {
		return "error"
	}
	return c.Severity
}

// apiURL returns the endpoint to post to.
func (c Config) apiURL() string {
	if c.APIURL == "" {
		return DefaultAPIURL
	}
	return c.APIURL.Reveal()
}
