package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTimeout bounds one attempt when Options.Timeout is zero.
const defaultTimeout = 10 * time.Second

// maxDetails bounds how many of Slack's response_metadata messages (which
// say what is wrong with invalid blocks) end up in an error.
const maxDetails = 3

// transientCode reports whether an ok:false error code means "try again
// later"; every other code is a problem with the configuration or the
// message.
func transientCode(code string) bool {
	switch code {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
		"team_added_to_org": // workspace migration in progress
		return true
	}
	return false
}

// Notifier posts deliveries to one Slack channel, through chat.postMessage
// with a bot token or through an incoming webhook.
type Notifier struct {
	client *http.Client
	// api is set in token mode, webhookURL in webhook mode.
	api        *slackapi.Client
	channel    string
	webhookURL string
	// secrets are scrubbed from every error text.
	secrets []string
}

var (
	_ notifiers.Notifier             = (*Notifier)(nil)
	_ notifiers.Closer               = (*Notifier)(nil)
	_ notifiers.ConversationNotifier = (*Notifier)(nil)
)

// New returns a Notifier for c, or c's validation errors. Each Notifier
// owns its HTTP client and connections; Close releases them.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	var transport *http.Transport
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		transport = t.Clone()
	} else {
		transport = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// Slack never redirects a POST. Following one could resend the
		// token (a form field) to another host, so a redirect is answered
		// as the error it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n := &Notifier{
		client:     client,
		channel:    c.Channel,
		webhookURL: c.WebhookURL.Reveal(),
		secrets:    secretsOf(c),
	}
	if !c.Token.IsZero() {
		n.api = slackapi.New(c.Token.Reveal(),
			slackapi.OptionAPIURL(c.apiURL()),
			slackapi.OptionHTTPClient(client))
	}
	return n, nil
}

// Notify posts d.Parts.Text, with d.Parts.Blocks when set. Text is the
// notification fallback when there are blocks. Slack ok:false answers and
// 4xx statuses are permanent, except the codes that mean "later"
// (ratelimited, internal_error, …); 429 carries Slack's Retry-After.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	_, err := n.NotifyConversation(ctx, d)
	return err
}

// NotifyConversation sends d like Notify and reports the channel ID and ts
// Slack answered. When d.Parts.Conversation refers to an earlier message
// (SlackTS set), a thread delivery replies in its thread (also in the
// channel with Broadcast) and an update delivery edits it with
// chat.update. Both need a bot token: an incoming webhook answers no ts.
func (n *Notifier) NotifyConversation(ctx context.Context, d notifiers.Notification) (notifiers.Posted, error) {
	text, blocks, err := n.content(d)
	if err != nil {
		return notifiers.Posted{}, err
	}
	conv := d.Parts.Conversation
	if n.api == nil {
		if conv != nil && conv.SlackTS != "" {
			return notifiers.Posted{}, notifiers.Permanent(fmt.Errorf("slack %s: %w (use a bot token)", conv.Mode, notifiers.ErrNoReference))
		}
		return notifiers.Posted{}, n.postWebhook(ctx, text, blocks)
	}
	switch {
	case conv == nil || conv.SlackTS == "":
		return n.postMessage(ctx, n.channel, text, blocks)
	case conv.Mode == notifiers.ModeUpdate:
		return n.updateMessage(ctx, conv.SlackChannel, conv.SlackTS, text, blocks)
	default:
		opts := []slackapi.MsgOption{slackapi.MsgOptionTS(conv.SlackTS)}
		if conv.Broadcast {
			opts = append(opts, slackapi.MsgOptionBroadcast())
		}
		return n.postMessage(ctx, conv.SlackChannel, text, blocks, opts...)
	}
}

// content checks and prepares d's text and blocks.
func (n *Notifier) content(d notifiers.Notification) (string, []slackapi.Block, error) {
	blocks, err := parseBlocks(d.Parts.Blocks)
	if err != nil {
		return "", nil, notifiers.Permanent(fmt.Errorf("slack blocks: %w", err))
	}
	if strings.TrimSpace(d.Parts.Text) == "" && len(blocks) == 0 {
		return "", nil, notifiers.Permanent(errors.New("slack message: text and blocks are both empty"))
	}
	text := d.Parts.Text
	if d.Test {
		// A test from the editor says so, in the text (notifications and
		// clients without blocks) and above the blocks.
		text = TestPrefix + text
		if len(blocks) > 0 {
			note := slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType,
				"*[TEST]* sent from the Switchboard rule editor, not by a real event", false, false))
			blocks = append([]slackapi.Block{note}, blocks...)
		}
	}
	return text, blocks, nil
}

// TestPrefix starts the text of a test notification.
const TestPrefix = "[TEST] "

// Close closes the notifier's idle connections.
func (n *Notifier) Close() error {
	n.client.CloseIdleConnections()
	return nil
}

func (n *Notifier) postMessage(ctx context.Context, channel, text string, blocks []slackapi.Block, extra ...slackapi.MsgOption) (notifiers.Posted, error) {
	opts := append([]slackapi.MsgOption{slackapi.MsgOptionText(text, false)}, extra...)
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	ch, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return notifiers.Posted{}, n.classify("post to slack", err)
	}
	return notifiers.Posted{SlackChannel: ch, SlackTS: ts}, nil
}

// updateMessage edits the message (channel, ts) with chat.update.
func (n *Notifier) updateMessage(ctx context.Context, channel, ts, text string, blocks []slackapi.Block) (notifiers.Posted, error) {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	ch, newTS, _, err := n.api.UpdateMessageContext(ctx, channel, ts, opts...)
	if err != nil {
		return notifiers.Posted{}, n.classify("update slack message", err)
	}
	if newTS == "" {
		ch, newTS = channel, ts
	}
	return notifiers.Posted{SlackChannel: ch, SlackTS: newTS}, nil
}

// classify turns a Web API error into a retryable or permanent one.
func (n *Notifier) classify(op string, err error) error {

	var rateLimited *slackapi.RateLimitedError
	if errors.As(err, &rateLimited) {
		return &notifiers.RetryAfterError{After: rateLimited.RetryAfter, Err: n.wrap(op, "rate limited", err)}
	}
	var apiErr slackapi.SlackErrorResponse
	if errors.As(err, &apiErr) {
		wrapped := n.wrap(op, apiErr.Err+details(apiErr), err)
		if transientCode(apiErr.Err) {
			return wrapped
		}
		return notifiers.Permanent(wrapped)
	}
	var status slackapi.StatusCodeError
	if errors.As(err, &status) {
		wrapped := n.wrap(op, "unexpected status "+status.Status, err)
		if status.Code == http.StatusRequestTimeout || status.Code == http.StatusTooManyRequests || status.Code >= 500 {
			return wrapped
		}
		return notifiers.Permanent(wrapped)
	}
	// Network errors, timeouts and unreadable answers (a proxy's error
	// page): try again.
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
		return n.wrap(op, "unreadable answer: "+err.Error(), err)
	}
	return n.wrap(op, "", err)
}

// postWebhook posts to an incoming webhook with net/http rather than
// slack.PostWebhookCustomHTTPContext: that one reports only "slack server
// error: 404 Not Found", dropping the body in which Slack names the problem
// (channel_not_found, invalid_payload, no_service…), and cannot read a
// Retry-After given as a date. notifiers.CheckResponse keeps both.
func (n *Notifier) postWebhook(ctx context.Context, text string, blocks []slackapi.Block) error {
	const op = "post to slack webhook"
	msg := slackapi.WebhookMessage{Text: text}
	if len(blocks) > 0 {
		msg.Blocks = &slackapi.Blocks{BlockSet: blocks}
	}
	body, err := json.Marshal(&msg)
	if err != nil {
		return notifiers.Permanent(n.wrap("encode slack webhook message", "", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.webhookURL, bytes.NewReader(body))
	if err != nil {
		return notifiers.Permanent(n.wrap(op, "", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return n.wrap(op, "", err)
	}
	defer resp.Body.Close()
	if err := notifiers.CheckResponse(resp, time.Now()); err != nil {
		return n.wrap(op, "", err)
	}
	return nil
}

// scrubbedError has a message free of secrets and keeps the chain it came
// from, so that errors.As still finds the classification.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// wrap returns err with the text op + ": " + text (err's own text when
// text is empty), after removing request URLs from the chain's *url.Error
// values and every secret from the text. The chain is kept for errors.As.
func (n *Notifier) wrap(op, text string, err error) error {
	n.redactURLs(err)
	var status *notifiers.StatusError
	if errors.As(err, &status) {
		status.Body = secret.Scrub(strings.TrimSpace(status.Body), n.secrets...)
	}
	if text == "" {
		text = err.Error()
	}
	return &scrubbedError{msg: secret.Scrub(op+": "+text, n.secrets...), err: err}
}

// redactURLs replaces the URL of every *url.Error in err's chain: a webhook
// URL is a credential as a whole, an api_url may carry userinfo. The errors
// are fresh from this attempt, so changing them in place is safe.
func (n *Notifier) redactURLs(err error) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = n.redactURL(ue.URL)
		}
	}
}

// redactURL keeps what helps to diagnose a failed request without the
// credential: the host of a webhook URL, an api_url without its userinfo.
func (n *Notifier) redactURL(raw string) string {
	if n.api != nil {
		return secret.RedactURL(raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return secret.Redacted
	}
	return u.Scheme + "://" + u.Host + "/" + secret.Redacted
}

// details renders what Slack said beyond the error code: the scopes a
// missing_scope needed, the messages explaining invalid_blocks.
func details(e slackapi.SlackErrorResponse) string {
	var parts []string
	if e.Needed != "" || e.Provided != "" {
		parts = append(parts, fmt.Sprintf("needed: %s, provided: %s", e.Needed, e.Provided))
	}
	msgs := e.ResponseMetadata.Messages
	if len(msgs) > maxDetails {
		msgs = append(msgs[:maxDetails:maxDetails], fmt.Sprintf("and %d more", len(e.ResponseMetadata.Messages)-maxDetails))
	}
	parts = append(parts, msgs...)
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// secretsOf lists the values of c that must never appear in an error.
func secretsOf(c Config) []string {
	s := []string{c.Token.Reveal(), c.WebhookURL.Reveal()}
	if u, err := url.Parse(c.WebhookURL.Reveal()); err == nil {
		// The path of a Slack webhook URL is its credential; a proxy may
		// put one in the query.
		if len(u.Path) > 1 {
			s = append(s, u.Path, strings.TrimPrefix(u.Path, "/"))
		}
		s = append(s, u.RawQuery)
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	if u, err := url.Parse(c.APIURL.Reveal()); err == nil {
		s = append(s, u.RawQuery)
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	return s
}

// parseBlocks reads Block Kit JSON: an array of blocks, or an object
// {"blocks": [...]} as Slack's Block Kit Builder exports it. Empty input
// means no blocks.
func parseBlocks(raw string) ([]slackapi.Block, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	if !strings.HasPrefix(raw, "{") {
		var blocks slackapi.Blocks
		if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
			return nil, err
		}
		return blocks.BlockSet, nil
	}
	var wrapper struct {
		Blocks *slackapi.Blocks `json:"blocks"`
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wrapper); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the blocks object")
	}
	if wrapper.Blocks == nil {
		return nil, errors.New(`an object must hold a "blocks" array`)
	}
	return wrapper.Blocks.BlockSet, nil
}
