package opsgenie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Limits of the Alert API; longer values are cut.
const (
	maxMessage     = 130
	maxAlias       = 512
	maxDescription = 15000
	maxSource      = 100
	maxNote        = 25000
	maxDetailValue = 8000
)

// Notifier creates and closes alerts through one Opsgenie API integration.
type Notifier struct {
	notifiers.Poster
	base       string
	auth       string
	priority   string
	responders []Responder
	tags       []string
}

// New returns a Notifier for c, or c's validation errors.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Notifier{
		Poster:     notifiers.NewPoster(o, append([]string{c.APIKey.Reveal()}, notifiers.URLSecrets(c.APIURL.Reveal())...)...),
		base:       c.baseURL(),
		auth:       "GenieKey " + c.APIKey.Reveal(),
		priority:   c.priority(),
		responders: c.Responders,
		tags:       c.Tags,
	}, nil
}

// createRequest is the body of POST /v2/alerts.
type createRequest struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Responders  []Responder       `json:"responders,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
	Note        string            `json:"note,omitempty"`
}

// closeRequest is the body of POST /v2/alerts/{alias}/close.
type closeRequest struct {
	Source string `json:"source"`
	User   string `json:"user"`
	Note   string `json:"note,omitempty"`
}

// Notify creates an alert from d — or closes one when d.Resolve — whose
// alias is d.ConversationKey (d.ID when empty): Opsgenie keeps one open
// alert per alias, so follow-ups raise its count rather than open
// another, and retries never duplicate it. d.Parts.Text is the message,
// d.Parts.Description the description, d.Parts.Details extra properties
// (a JSON object). 429 and 5xx are retried; other 4xx are permanent, with
// Opsgenie's own account of what is wrong.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	alias := truncate(d.ConversationKey, maxAlias)
	if alias == "" || d.Test {
		// A test never touches a real alert.
		alias = d.ID
	}
	source := strings.TrimSpace(d.Parts.Source)
	if source == "" {
		source = "Switchboard"
	}
	var target string
	var body any
	if d.Resolve && !d.Test {
		target = n.base + "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias"
		body = closeRequest{Source: truncate(source, maxSource), User: "Switchboard", Note: truncate(strings.TrimSpace(d.Parts.Text), maxNote)}
	} else {
		req, err := n.create(d, alias, source)
		if err != nil {
			return notifiers.Permanent(fmt.Errorf("opsgenie alert: %w", err))
		}
		target, body = n.base+"/v2/alerts", req
	}
	b, err := json.Marshal(body)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("encode opsgenie request: %w", err))
	}
	const op = "post to opsgenie"
	a, err := n.Post(ctx, op, target, b, map[string]string{"Authorization": n.auth})
	if err != nil || a.OK() {
		return err
	}
	return n.Refused(op, a, message(a.Body), 0)
}

// create builds the alert from d's parts.
func (n *Notifier) create(d notifiers.Notification, alias, source string) (*createRequest, error) {
	msg := strings.Join(strings.Fields(d.Parts.Text), " ")
	if msg == "" {
		return nil, errors.New("the message is empty")
	}
	r := &createRequest{
		Alias:       alias,
		Description: truncate(d.Parts.Description, maxDescription),
		Responders:  n.responders,
		Tags:        n.tags,
		Source:      truncate(source, maxSource),
		Priority:    n.priority,
	}
	if d.Test {
		// A test must not page anyone: lowest priority, no responders.
		msg, r.Priority, r.Responders = "[TEST] "+msg, "P5", nil
		r.Tags = append(append([]string(nil), n.tags...), "test")
	}
	r.Message = truncate(msg, maxMessage)
	if raw := strings.TrimSpace(d.Parts.Details); raw != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			return nil, errors.New("details is not a JSON object (insert values with toJson)")
		}
		r.Details = flatten(obj)
	}
	return r, nil
}

// flatten turns a details object into Opsgenie's string-to-string map:
// strings stay, other values are written as JSON.
func flatten(obj map[string]any) map[string]string {
	out := make(map[string]string, len(obj))
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var s string
		switch v := obj[k].(type) {
		case nil:
			continue
		case string:
			s = v
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out[k] = truncate(s, maxDetailValue)
	}
	return out
}

// message is Opsgenie's account of a failure: {"message": "…", "errors":
// {"field": "…"}}.
func message(body []byte) string {
	var a struct {
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Message == "" {
		return strings.TrimSpace(string(body))
	}
	msg := a.Message
	if len(a.Errors) > 0 {
		var parts []string
		for k, v := range a.Errors {
			parts = append(parts, k+": "+v)
		}
		sort.Strings(parts)
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return msg
}

// truncate cuts s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
