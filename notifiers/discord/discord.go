package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Limits of a webhook message.
const (
	maxContent     = 2000
	maxEmbeds      = 10
	maxEmbedsChars = 6000
)

// TestPrefix starts the content of a test message.
const TestPrefix = "**[TEST]** "

// Notifier posts deliveries to one Discord webhook.
type Notifier struct {
	notifiers.Poster
	url      string
	username string
}

// New returns a Notifier for c, or c's validation errors.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// wait=true makes Discord answer only once the message is posted, so
	// that a refusal comes back as an error rather than being lost.
	u, err := url.Parse(c.WebhookURL.Reveal())
	if err != nil {
		return nil, &notifiers.FieldError{Field: "webhook_url", Message: "is not a valid URL"}
	}
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()
	return &Notifier{
		Poster:   notifiers.NewPoster(o, notifiers.URLSecrets(c.WebhookURL.Reveal())...),
		url:      u.String(),
		username: c.Username,
	}, nil
}

// message is the body of "Execute Webhook".
type message struct {
	Content         string            `json:"content,omitempty"`
	Username        string            `json:"username,omitempty"`
	Embeds          []json.RawMessage `json:"embeds,omitempty"`
	AllowedMentions allowedMentions   `json:"allowed_mentions"`
}

// allowedMentions with an empty Parse turns every mention off: a
// customer named "@everyone" is printed, never pings.
type allowedMentions struct {
	Parse []string `json:"parse"`
}

// Notify posts d.Parts.Text as content and d.Parts.Embeds (a JSON array
// of embeds, or one embed object) as embeds. No mention in them pings
// anyone. A 429 is retried after Discord's retry_after; 5xx are retried;
// other 4xx are permanent with Discord's own message.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	m, err := n.message(d)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("discord message: %w", err))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return notifiers.Permanent(fmt.Errorf("encode discord message: %w", err))
	}
	const op = "post to discord"
	a, err := n.Post(ctx, op, n.url, bytes.TrimSpace(b.Bytes()), nil)
	if err != nil || a.OK() {
		return err
	}
	// The body's retry_after is exact (a float of seconds); the header
	// is rounded: Refused waits for the longer.
	msg, bodyAfter := answer(a.Body)
	return n.Refused(op, a, msg, bodyAfter)
}

func (n *Notifier) message(d notifiers.Notification) (*message, error) {
	m := &message{
		Content:         strings.TrimSpace(d.Parts.Text),
		Username:        n.username,
		AllowedMentions: allowedMentions{Parse: []string{}},
	}
	if raw := strings.TrimSpace(d.Parts.Embeds); raw != "" {
		if strings.HasPrefix(raw, "{") {
			raw = "[" + raw + "]"
		}
		if err := json.Unmarshal([]byte(raw), &m.Embeds); err != nil {
			return nil, errors.New("embeds is not a JSON array of objects (insert values with markdownJson or toJson)")
		}
		if len(m.Embeds) > maxEmbeds {
			return nil, fmt.Errorf("%d embeds, Discord allows %d", len(m.Embeds), maxEmbeds)
		}
		chars := 0
		for _, e := range m.Embeds {
			if !bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) {
				return nil, errors.New("embeds is not a JSON array of objects")
			}
			chars += embedChars(e)
		}
		if chars > maxEmbedsChars {
			return nil, fmt.Errorf("the embeds hold %d characters of text, Discord allows %d: shorten the template", chars, maxEmbedsChars)
		}
	}
	if m.Content == "" && len(m.Embeds) == 0 {
		return nil, errors.New("content and embeds are both empty")
	}
	if d.Test {
		m.Content = TestPrefix + m.Content
	}
	m.Content = truncate(m.Content, maxContent)
	return m, nil
}

// embedChars counts what Discord counts against the 6000 characters of a
// message's embeds: titles, descriptions, field names and values, footer
// text and author name.
func embedChars(raw json.RawMessage) int {
	var e struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Fields      []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"fields"`
		Footer struct {
			Text string `json:"text"`
		} `json:"footer"`
		Author struct {
			Name string `json:"name"`
		} `json:"author"`
	}
	_ = json.Unmarshal(raw, &e)
	n := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description) +
		utf8.RuneCountInString(e.Footer.Text) + utf8.RuneCountInString(e.Author.Name)
	for _, f := range e.Fields {
		n += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	return n
}

// answer reads Discord's error body: {"message": "…", "code": 50006} or,
// for a rate limit, {"message": "You are being rate limited.",
// "retry_after": 1.5, "global": false}.
func answer(body []byte) (msg string, retryAfter time.Duration) {
	var a struct {
		Message    string          `json:"message"`
		Code       int             `json:"code"`
		RetryAfter float64         `json:"retry_after"`
		Errors     json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Message == "" {
		return strings.TrimSpace(string(body)), 0
	}
	msg = a.Message
	if a.Code != 0 {
		msg = fmt.Sprintf("%s (code %d)", msg, a.Code)
	}
	if len(a.Errors) > 0 {
		msg += ": " + string(a.Errors)
	}
	if a.RetryAfter > 0 && a.RetryAfter < 24*3600 {
		retryAfter = time.Duration(math.Ceil(a.RetryAfter*1000)) * time.Millisecond
	}
	return msg, retryAfter
}

// truncate cuts s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
