package notifiers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Notifier sends one delivery through one configured channel.
//
// Notify returns nil when the peer accepted the delivery. Otherwise the error
// says what the delivery worker should do next:
//   - an error for which IsPermanent is true (see Permanent) is never retried:
//     the delivery goes to the dead-letter store at once;
//   - an error carrying a RetryAfter (see RetryAfter) is retried no sooner
//     than that delay;
//   - any other error is transient and retried with exponential backoff.
//
// Notify must honour ctx (the worker sets the channel's timeout on it) and
// must not log: the worker alone records the outcome. Errors must not carry
// secrets (tokens, passwords, credential-bearing URLs).
type Notifier interface {
	Notify(ctx context.Context, d Notification) error
}

// Closer is implemented by notifiers that hold resources (idle connections)
// to release when a configuration is replaced.
type Closer interface {
	Close() error
}

// Notification is one rendered notification for one target of one rule:
// what a Notifier sends. (Routing wraps it in router.Outgoing, the store in
// store.RoutedDelivery before insertion and store.StoredDelivery after.)
type Notification struct {
	// ID is stable across retries and replays: receivers dedupe on it (the
	// HTTP notifier sends it as webhook-id).
	ID string `json:"id"`
	// MessageID identifies the message that caused the delivery.
	MessageID string `json:"message_id"`
	// Rule is the name of the rule that matched.
	Rule string `json:"rule"`
	// Channel is the name of the channel in the rules file.
	Channel string `json:"channel"`
	// Test marks a delivery sent from the editor's "Send test".
	Test bool `json:"test,omitempty"`
	// ConversationKey names the conversation (an incident, an alert) the
	// delivery belongs to, so that a follow-up updates it rather than
	// opening another: PagerDuty sends it as dedup_key, Opsgenie as alias.
	// Empty means the delivery stands alone; those channels then use ID,
	// so a retried delivery never opens a second incident.
	ConversationKey string `json:"conversation_key,omitempty"`
	// Resolve asks the channel to close the conversation ConversationKey
	// names (PagerDuty resolve, Opsgenie close) instead of opening or
	// updating it. Channels without a notion of closing send the parts as
	// a message like any other.
	Resolve bool `json:"resolve,omitempty"`
	// Parts holds everything the channel sends, rendered once at routing.
	Parts Parts `json:"parts"`
}

// Parts are the rendered pieces of a notification. Each channel reads the
// parts it needs and ignores the others.
type Parts struct {
	// Text is Slack's message text (mrkdwn) and an email's plain-text body;
	// PagerDuty's summary, Opsgenie's message, a Teams card's text when
	// there is no Card, and a Discord message's content.
	Text string `json:"text,omitempty"`
	// Blocks is Slack Block Kit JSON (an array of blocks), optional.
	Blocks string `json:"blocks,omitempty"`
	// Subject is an email's subject.
	Subject string `json:"subject,omitempty"`
	// HTML is an email's HTML body, optional.
	HTML string `json:"html,omitempty"`
	// To and Cc are an email's rendered recipients.
	To []string `json:"to,omitempty"`
	Cc []string `json:"cc,omitempty"`
	// Body is an HTTP request body; by default the original message bytes.
	Body string `json:"body,omitempty"`
	// ContentType is the HTTP request's Content-Type (default
	// application/json).
	ContentType string `json:"content_type,omitempty"`
	// Path is the rendered path and query of an HTTP channel whose url is a
	// template ("/hooks/{{ .customer.external_id }}"). Empty means the
	// configured url as is. Scheme and host always come from the config.
	Path string `json:"path,omitempty"`
	// Headers are rendered values of an HTTP channel's templated headers;
	// they override the configured static headers of the same name.
	Headers map[string]string `json:"headers,omitempty"`
	// Conversation, if set, makes the delivery a part of the conversation
	// of its key: a thread reply or an update of the first message.
	Conversation *Conversation `json:"conversation,omitempty"`
	// Details is a JSON object of extra facts: PagerDuty's
	// payload.custom_details, Opsgenie's details. Optional.
	Details string `json:"details,omitempty"`
	// Description is an Opsgenie alert's description. Optional.
	Description string `json:"description,omitempty"`
	// Source names where the event comes from: PagerDuty's payload.source
	// and Opsgenie's source. Empty means "switchboard".
	Source string `json:"source,omitempty"`
	// Card is a Microsoft Teams Adaptive Card (a JSON object); empty
	// means a card holding Text.
	Card string `json:"card,omitempty"`
	// Embeds is a Discord embeds JSON array. Optional.
	Embeds string `json:"embeds,omitempty"`
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a 4xx other than 408/429, Slack
// ok:false, SMTP 5xx, a template that failed to render).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError is a transient error with a delay the peer asked for
// (Slack's or an HTTP receiver's Retry-After). No attempt may be made before
// After has elapsed.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the delay carried by err, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}

// StatusError reports an HTTP response that was not a success.
type StatusError struct {
	Code int
	// Body is the start of the response body, for the delivery log.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("unexpected status %d", e.Code)
	}
	return fmt.Sprintf("unexpected status %d: %s", e.Code, e.Body)
}

// maxErrorBody bounds how much of a failed response ends up in errors.
const maxErrorBody = 512

// CheckResponse classifies an HTTP response: nil for 2xx; a RetryAfterError
// for 429 and 503 with a Retry-After header; a transient error for 408, 429
// and 5xx; a permanent error for anything else. It reads at most a little of
// the body into the error and drains the rest so the connection can be
// reused; the caller still closes the body.
func CheckResponse(resp *http.Response, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		Drain(resp.Body)
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	Drain(resp.Body)
	err := &StatusError{Code: resp.StatusCode, Body: string(b)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			return &RetryAfterError{After: d, Err: err}
		}
		return err
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return err
	default:
		return Permanent(err)
	}
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// Drain reads and discards up to 64 KiB of r so that a keep-alive connection
// can be reused.
func Drain(r io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
}

// Options are what every notifier constructor takes beside its Config.
type Options struct {
	// Timeout bounds one send attempt, connection included (the channel's
	// timeout, default 10s). The worker also sets it on the context.
	Timeout time.Duration
}

// FieldError is a problem with one key of a channel's configuration block.
// Config.Validate methods return them (joined with errors.Join) so that
// `switchboard check` can point at the key's line and column.
type FieldError struct {
	// Field is the key inside the channel kind's block, e.g. "token",
	// "to[1]" or "headers.Authorization".
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
