package notifiers

import "encoding/json"

// Kind describes one channel kind to the code that is not its notifier:
// the router's defaults, the delivery workers' pacing summaries, the admin
// API and the editor. Each notifier package exports its own; the wiring
// package registers them, so adding a kind touches its package and one
// registration line.
type Kind struct {
	// Name is the kind's key in a channel's block ("slack", "email",
	// "http").
	Name string
	// RatePerSecond and Burst are the default send rate (zero: no limit).
	RatePerSecond float64
	Burst         int
	// Pacing is the default backlog above which the overflow collapses
	// into one summary (zero: off).
	Pacing int
	// TestRecipient is set when Send test asks for a recipient (an
	// address the test goes to instead of the configured ones).
	TestRecipient bool
	// Config returns a new, empty configuration block of the kind (a
	// pointer to the package's Config, a Settings) for the rules file's
	// block to be decoded into: its YAML keys are the block's keys.
	Config func() Settings
	// New builds the kind's notifier from its configuration block (a
	// pointer to the package's Config, validated).
	New func(cfg any, o Options) (Notifier, error)
	// Show returns the parts of a rendered notification that the admin
	// API and the editor show, by label. It never shows a secret.
	Show func(p Parts) map[string]string
	// Title names the kind to people in messages ("PagerDuty").
	Title string
	// Template is the kind's built-in template file: what a send entry
	// with neither template nor message renders. It names the event type
	// and the object's identifying fields, and never fails on a message
	// of another shape.
	Template string
	// Blocks are the kind's template blocks, each filling one part, in
	// the order they render. Addressing written in the channel comes on
	// top (see Addressed and Routed).
	Blocks []Block
	// MessageBlock is the block an inline `message:` stands for.
	MessageBlock string
	// Needs lists the blocks of which a template file must define at
	// least one.
	Needs []string
	// Missing, when set, says what a template file lacking every block of
	// Needs has ("neither a \"text\" nor an \"html\" block"); empty:
	// "no \"a\" or \"b\" block".
	Missing string
	// Complete, when set, fills what the rendered blocks left unset (a
	// default content type); inline reports whether the content came from
	// an inline `message:`.
	Complete func(p *Parts, inline bool)
	// DigestEscape is how a template file's digest_text block escapes
	// the values it inserts (empty: plain).
	DigestEscape Escape
	// Digest renders a digest of a group of messages; nil: the header and
	// the lines as text, or the file's digest_text (TextDigest).
	Digest func(d Digest) (Parts, error)
	// SecretKeys are the keys of the kind's block holding a credential
	// that must come from the environment: written literally in the
	// rules file, they are warned about (by name, never by value).
	SecretKeys []string
	// NoConversations, when set, says why the kind's channels cannot hold
	// a conversation (thread or update keys), after "channel NAME":
	// "is HTTP, which has no conversations (…)".
	NoConversations string
	// NoUpdates, when set, says why a conversation of the kind cannot
	// update its first message (use thread instead).
	NoUpdates string
	// Broadcasts is true for a kind whose thread replies can also go to
	// the channel (broadcast: true, Slack's reply_broadcast).
	Broadcasts bool
	// Notice shapes an operational notice about a channel (it opened,
	// recovered, or had deliveries go dead) from its rendered forms; nil
	// sends the text alone.
	Notice func(n Notice) Parts
	// EscapeValue, when set, escapes the values (a channel's name, an
	// error, rule names) inserted in a notice's text, for a kind whose
	// text is markup (Slack mrkdwn).
	EscapeValue func(string) string
	// Summary renders a pacing summary for channel: text is the summary
	// line, collapsed how many notifications it stands for, byType how
	// many of each webhook type. Addressing comes from last, the last
	// collapsed notification.
	Summary func(channel string, last Parts, text string, collapsed int, byType map[string]int) Parts
}

// Builds returns a Kind.New that builds a kind's notifier with newFn
// from its configuration block, a *C (what the kind's Config returns).
func Builds[C any, N Notifier](newFn func(C, Options) (N, error)) func(cfg any, o Options) (Notifier, error) {
	return func(cfg any, o Options) (Notifier, error) {
		n, err := newFn(*cfg.(*C), o)
		if err != nil {
			// Not n: a nil *N would be a non-nil Notifier.
			return nil, err
		}
		return n, nil
	}
}

// ShowParts puts each non-empty value of kv (label, value, label, value…)
// in a map, as Kind.Show returns them.
func ShowParts(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// Addressing returns the parts of last that say where a notification
// goes (recipients, path, headers), for a summary that goes the same way.
func Addressing(last Parts) Parts {
	return Parts{To: last.To, Cc: last.Cc, Path: last.Path, Headers: last.Headers}
}

// TextSummary is the pacing summary of a kind that sends text: the
// summary line, addressed as last.
func TextSummary(_ string, last Parts, text string, _ int, _ map[string]int) Parts {
	p := Addressing(last)
	p.Text = text
	return p
}

// Settings is a kind's configuration block as the rules file writes it.
type Settings interface {
	// Validate reports every problem of the block, each a *FieldError
	// naming its field (joined with errors.Join).
	Validate() error
}

// Addressed is implemented by the Settings of a kind whose notifications
// are addressed by templates written in the channel (email: subject, to,
// cc): the router compiles them with the rule's. The kind's "subject"
// block, when the template file has none, is the channel's subject, else
// an inline message, else the built-in template's subject; a notification
// rendering no recipient fails.
type Addressed interface {
	Addresses() Addresses
}

// Addresses are a channel's addressing templates, as written.
type Addresses struct {
	// Subject is the channel's subject template; empty: the template's or
	// the built-in one.
	Subject string
	// To and Cc are recipient templates; each may render to several
	// addresses ("a@x, b@y").
	To, Cc []string
	// MaxRecipients bounds the addresses one templated entry may render
	// to (at least 1).
	MaxRecipients int
}

// Routed is implemented by the Settings of a kind that sends to a URL
// whose path, query and header values may be templates (http).
type Routed interface {
	// PathTemplate returns the URL's path and query as written, with
	// their template actions.
	PathTemplate() string
	// HeaderTemplates returns every header value as written (revealed:
	// the router compiles them and never shows them).
	HeaderTemplates() map[string]string
}

// Unthreaded is implemented by the Settings of a kind that may send
// through a way returning no message to reply to or edit (a Slack
// incoming webhook).
type Unthreaded interface {
	// Unthreaded reports whether this channel's messages cannot be
	// replied to or updated.
	Unthreaded() bool
}

// Escape names how a template block escapes the values it inserts.
type Escape string

// The escapings a Block may ask for.
const (
	// EscapePlain inserts values as they are.
	EscapePlain Escape = "plain"
	// EscapeMarkdown escapes values for Discord and Teams Markdown, so a
	// customer named "@everyone" shows as written.
	EscapeMarkdown Escape = "markdown"
	// EscapeMrkdwn escapes values for Slack mrkdwn (&, <, >), so a value
	// cannot mention (<!channel>) or add a link.
	EscapeMrkdwn Escape = "mrkdwn"
	// EscapeHTML escapes values for HTML (an email's html part).
	EscapeHTML Escape = "html"
	// EscapeHeader refuses line breaks in values, for a header value.
	EscapeHeader Escape = "header"
)

// Block is one template block a kind reads and the part of a
// notification it fills.
type Block struct {
	// Name is the block's name in a template file ("summary").
	Name   string
	Escape Escape
	// JSON: the result must be JSON (an object, or Discord's array).
	JSON bool
	// JSONHint says how to insert values so that the result stays JSON;
	// empty: "toJson or markdownJson".
	JSONHint string
	// MrkdwnJSON: the block is JSON whose texts are Slack mrkdwn; a value
	// inserted there without mrkdwnJson is warned about.
	MrkdwnJSON bool
	// Set puts the rendered block in its part.
	Set func(p *Parts, s string)
	// Else, when set, fills the part when the target has no such block
	// (from raw, the message's bytes).
	Else func(p *Parts, raw []byte)
	// FromDefault: a target whose template or inline message has no such
	// block renders the kind's built-in template's (PagerDuty's source,
	// the message's source, whatever the summary).
	FromDefault bool
}

// Digest is what a kind's Digest renders one digest from.
type Digest struct {
	// Base is the last message as the target renders it alone: its
	// addressing goes with the digest.
	Base Parts
	// Header says what the digest holds ("12 × Invoice overdue in the
	// last 5 minutes"); Lines lists the first messages, one line each.
	Header, Lines string
	// Block renders the template file's digest block name; ok is false
	// when the file has no such block.
	Block func(name string) (s string, ok bool)
	// Rule, Key, Count and Since describe the group for a kind that
	// sends data; Bodies are its messages' bytes that are JSON.
	Rule, Key string
	Count     int
	Since     string
	Bodies    []json.RawMessage
}

// TextDigest is the digest of a kind that sends one text: the file's
// digest_text, or the header and the lines. The other parts are dropped.
func TextDigest(d Digest) (Parts, error) {
	p := Parts{Text: d.Header + "\n" + d.Lines}
	if s, ok := d.Block("digest_text"); ok {
		p.Text = s
	}
	return p, nil
}

// Notice is an operational notice about a channel, rendered once for
// every kind; Kind.Notice picks the forms its kind sends.
type Notice struct {
	// Summary is one line; Subject is the summary as an email subject;
	// Text is the whole notice.
	Summary, Subject, Text string
	// JSON is the notice as a JSON object (its type, the channel, counts
	// and the summary as "text"), for a kind that sends data.
	JSON []byte
}

// SummaryNotice is the notice of an alerting kind: the summary line as
// the alert's summary (or message, or text), the whole notice as its
// description.
func SummaryNotice(n Notice) Parts { return Parts{Text: n.Summary, Description: n.Text} }
