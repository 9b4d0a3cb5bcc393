package opsgenie

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// API hosts per region.
const (
	USAPIURL = "https://api.opsgenie.com"
	EUAPIURL = "https://api.eu.opsgenie.com"
)

// Limits of the Alert API.
const (
	maxTags    = 20
	maxTagLen  = 50
	maxRespond = 50
)

// Config is an Opsgenie channel: an API integration of a team.
type Config struct {
	// APIKey is the key of an Opsgenie "API" integration (Settings →
	// Integrations, or a team's Integrations); it is sent as
	// "Authorization: GenieKey …". Write it as ${VAR}.
	APIKey secret.String `yaml:"api_key,omitempty" sb:"env"`
	// Region is where the Opsgenie account lives: us (api.opsgenie.com,
	// the default) or eu (api.eu.opsgenie.com).
	Region string `yaml:"region,omitempty"`
	// Priority is the alerts' priority, P1 (critical) to P5 (default P3).
	Priority string `yaml:"priority,omitempty"`
	// Responders are notified of each alert, beside the integration's
	// team: a team, user, escalation or schedule, by name or id (a user
	// by username).
	Responders []Responder `yaml:"responders,omitempty"`
	// Tags are added to each alert (at most 20, 50 characters each).
	Tags []string `yaml:"tags,omitempty"`
	// APIURL replaces the region's API base URL, for a proxy or tests.
	// Paths (/v2/alerts…) are appended to it.
	APIURL secret.URL `yaml:"api_url,omitempty" sb:"env"`
}

// Responder is one entry of responders.
type Responder struct {
	// Type is team, user, escalation or schedule.
	Type string `yaml:"type" json:"type"`
	// Name names a team, escalation or schedule.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// ID is the Opsgenie ID of any type of responder.
	ID string `yaml:"id,omitempty" json:"id,omitempty"`
	// Username is a user's e-mail address.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
}

// Validate reports every problem with c as *notifiers.FieldError values
// joined with errors.Join. Messages never contain secret values.
func (c Config) Validate() error {
	var errs []error
	add := func(field, msg string) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: msg})
	}
	key := c.APIKey.Reveal()
	switch {
	case key == "":
		add("api_key", "required: the key of an Opsgenie API integration, as ${VAR}")
	case strings.TrimSpace(key) != key || strings.ContainsAny(key, " \r\n"):
		add("api_key", "has white space")
	}
	switch c.Region {
	case "", "us", "eu":
	default:
		add("region", "must be us or eu")
	}
	switch c.Priority {
	case "", "P1", "P2", "P3", "P4", "P5":
	default:
		add("priority", "must be one of P1, P2, P3, P4, P5")
	}
	if len(c.Responders) > maxRespond {
		add("responders", fmt.Sprintf("at most %d", maxRespond))
	}
	for i, r := range c.Responders {
		field := fmt.Sprintf("responders[%d]", i)
		switch r.Type {
		case "team", "user", "escalation", "schedule":
		case "":
			add(field, "type is required: team, user, escalation or schedule")
			continue
		default:
			add(field+".type", "must be team, user, escalation or schedule")
			continue
		}
		set := 0
		for _, v := range []string{r.Name, r.ID, r.Username} {
			if v != "" {
				set++
			}
		}
		switch {
		case set != 1 && r.Type == "user":
			add(field, "set one of username or id")
		case set != 1:
			add(field, "set one of name or id")
		case r.Username != "" && r.Type != "user":
			add(field+".username", "only for type user")
		case r.Name != "" && r.Type == "user":
			add(field+".name", "a user is named by username")
		}
	}
	if len(c.Tags) > maxTags {
		add("tags", fmt.Sprintf("at most %d tags", maxTags))
	}
	for i, t := range c.Tags {
		if strings.TrimSpace(t) == "" || len(t) > maxTagLen {
			add(fmt.Sprintf("tags[%d]", i), fmt.Sprintf("must be 1 to %d characters", maxTagLen))
		}
	}
	if c.APIURL != "" {
		if msg := notifiers.CheckHTTPURL(c.APIURL.Reveal()); msg != "" {
			add("api_url", msg)
		} else if u, _ := url.Parse(c.APIURL.Reveal()); u.RawQuery != "" || u.Fragment != "" {
			add("api_url", "must not have a query or fragment: paths are appended to it")
		}
	}
	return errors.Join(errs...)
}

// baseURL returns the API base URL without a trailing "/".
func (c Config) baseURL() string {
	switch {
	case c.APIURL != "":
		return strings.TrimRight(c.APIURL.Reveal(), "/")
	case c.Region == "eu":
		return EUAPIURL
	}
	return USAPIURL
}

func (c Config) priority() string {
	if c.Priority == "" {
		return "P3"
	}
	return c.Priority
}
