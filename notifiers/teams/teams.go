package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// MaxMessageBytes is the largest message Teams accepts from a webhook
// (28 KB, the card and its envelope). A larger one is refused before it
// is sent, with an error saying so.
const MaxMessageBytes = 28 << 10

// cardContentType is the attachment type of an Adaptive Card.
const cardContentType = "application/vnd.microsoft.card.adaptive"

// Notifier posts deliveries to one Teams Workflows webhook.
type Notifier struct {
	notifiers.Poster
	url string
}

// New returns a Notifier for c, or c's validation errors.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Notifier{
		Poster: notifiers.NewPoster(o, notifiers.URLSecrets(c.WebhookURL.Reveal())...),
		url:    c.WebhookURL.Reveal(),
	}, nil
}

// message is what a Workflows webhook receives: a message with one
// Adaptive Card attachment.
type message struct {
	Type        string       `json:"type"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	ContentType string          `json:"contentType"`
	ContentURL  *string         `json:"contentUrl"`
	Content     json.RawMessage `json:"content"`
}

// Notify posts d.Parts.Card (an Adaptive Card object), or a card holding
// d.Parts.Text when there is none. A message over 28 KB is refused
// (permanent); 429 and 5xx are retried, other 4xx are permanent with the
// service's own error message.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	card, err := buildCard(d)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("teams card: %w", err))
	}
	body, err := encode(message{Type: "message", Attachments: []attachment{{ContentType: cardContentType, Content: card}}})
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("encode teams message: %w", err))
	}
	if len(body) > MaxMessageBytes {
		return notifiers.Permanent(fmt.Errorf("teams message is %d bytes, over Teams' limit of 28 KB (%d bytes): shorten the card template (fewer facts, or cut long values with trunc)",
			len(body), MaxMessageBytes))
	}
	const op = "post to teams"
	a, err := n.Post(ctx, op, n.url, body, nil)
	if err != nil || a.OK() {
		return err
	}
	if a.Code == http.StatusRequestEntityTooLarge {
		// Teams counts differently than we do (UTF-16): say what to do.
		return n.Scrub(op, notifiers.Permanent(fmt.Errorf("teams refused the message as too large (%d bytes sent): shorten the card template: %w",
			len(body), &notifiers.StatusError{Code: a.Code, Body: errorMessage(a.Body)})))
	}
	return n.Refused(op, a, errorMessage(a.Body), 0)
}

// buildCard returns the card to send: d's card, or one made of its text,
// with a test note on top when d is a test.
func buildCard(d notifiers.Notification) (json.RawMessage, error) {
	var card map[string]any
	if raw := strings.TrimSpace(d.Parts.Card); raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&card); err != nil || card == nil {
			return nil, errors.New("not a JSON object (insert values with toJson or markdownJson)")
		}
		if t, _ := card["type"].(string); t != "AdaptiveCard" {
			return nil, errors.New(`the card's "type" must be "AdaptiveCard"`)
		}
		if _, ok := card["version"]; !ok {
			card["version"] = "1.4"
		}
	} else {
		text := strings.TrimSpace(d.Parts.Text)
		if text == "" {
			return nil, errors.New("card and text are both empty")
		}
		card = map[string]any{
			"type":    "AdaptiveCard",
			"version": "1.4",
			"body":    []any{map[string]any{"type": "TextBlock", "text": text, "wrap": true}},
		}
	}
	if _, ok := card["$schema"]; !ok {
		card["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json"
	}
	if d.Test {
		body, _ := card["body"].([]any)
		note := map[string]any{"type": "TextBlock", "text": "**[TEST]** sent from the Switchboard rule editor, not by a real event",
			"wrap": true, "isSubtle": true}
		card["body"] = append([]any{note}, body...)
	}
	b, err := encode(card)
	return json.RawMessage(b), err
}

// encode writes v as JSON without escaping <, > and &: Teams shows the
// text as is, and \u003c would count six bytes against the size limit.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// errorMessage is the service's account of a failure: Power Automate
// answers {"error": {"code": "…", "message": "…"}}.
func errorMessage(body []byte) string {
	var a struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Error.Message == "" {
		return strings.TrimSpace(string(body))
	}
	if a.Error.Code != "" {
		return a.Error.Code + ": " + a.Error.Message
	}
	return a.Error.Message
}
