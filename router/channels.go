package router

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// Channel defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 4
	DefaultMaxAttempts = 12
	DefaultMaxAge      = 24 * time.Hour
	// DefaultBackoff is the first retry delay; each next one is five
	// times longer, up to DefaultMaxBackoff.
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = 8 * time.Hour
	// DefaultBreakerFailures failures in a row open a channel's breaker;
	// an open one is probed every DefaultProbe.
	DefaultBreakerFailures = 5
	DefaultProbe           = 30 * time.Second
)

// Channel is a compiled entry of `channels:`: its notifier and its delivery
// policy.
type Channel struct {
	Name string
	// Kind is slack, email, http, pagerduty, opsgenie, teams or discord.
	Kind string
	// Descriptor describes the kind: its defaults, what the editor shows.
	Descriptor *notifiers.Kind
	Notifier   notifiers.Notifier
	// Timeout bounds one send attempt.
	Timeout time.Duration
	// Concurrency bounds sends in flight.
	Concurrency int
	// RatePerSecond and Burst limit sends; zero rate means unlimited.
	RatePerSecond float64
	Burst         int
	// MaxAttempts and MaxAge bound retries.
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff and MaxBackoff shape the retry delays: Backoff·5^(n-1) up to
	// MaxBackoff (default 5s, 8h).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// BreakerFailures failures in a row open the channel's breaker; an
	// open one is probed every BreakerProbe (backing off to 5m).
	BreakerFailures int
	BreakerProbe    time.Duration
	// OnFailure is the channel told when this one opens, recovers or has
	// deliveries go dead; empty: none.
	OnFailure string
	// Schedule is the channel's quiet hours (nil: none).
	Schedule *schedule.Schedule
	// Pacing is the backlog above which the overflow is collapsed into
	// one summary message; zero: off.
	Pacing int

	// settings is the channel's kind block as decoded by its descriptor
	// (a pointer to the notifier package's Config).
	settings notifiers.Settings
}

// compileChannel applies a channel's shared settings and asks its kind's
// descriptor (from the Builder) to validate the kind block and build the
// notifier.
func (c *compiler) compileChannel(cd config.ChannelDoc) {
	if !cd.OK {
		// Its problems are reported; rules sending to it are not
		// reported again as sending to an unknown channel.
		c.brokenChannels[cd.Name] = true
		return
	}
	cfg := cd.Config
	ch := &Channel{
		Name:        cd.Name,
		Timeout:     DefaultTimeout,
		Concurrency: DefaultConcurrency,
		MaxAttempts: DefaultMaxAttempts,
		MaxAge:      DefaultMaxAge,
		Backoff:     DefaultBackoff,
		MaxBackoff:  DefaultMaxBackoff,

		BreakerFailures: DefaultBreakerFailures,
		BreakerProbe:    DefaultProbe,
		OnFailure:       cfg.OnFailure,
	}
	where := "channels." + cd.Name
	if !ValidName(cd.Name) {
		c.ds.Add(config.SeverityError, c.file, cd.Key, "", where, "channel name %q: use letters, digits, '-', '_' and '.'", cd.Name)
	}
	kinds := cd.Kinds
	switch len(kinds) {
	case 0:
		c.ds.Add(config.SeverityError, c.file, cd.Key, "", where, "channel %q needs one of %s", cd.Name, strings.Join(c.o.Builder.KindNames(), ", "))
		return
	case 1:
	default:
		c.ds.Add(config.SeverityError, c.file, cd.Key, "", where, "channel %q sets %s: use exactly one", cd.Name, strings.Join(kinds, " and "))
		return
	}
	ch.Kind = kinds[0]
	ch.Descriptor, _ = c.o.Builder.Kind(ch.Kind)
	block := cfg.Settings
	if block == nil {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, ch.Kind), "", where, "channel %q: the %s block is empty", cd.Name, ch.Kind)
		return
	}
	ch.settings = block
	kindNode := config.Lookup(cd.Node, ch.Kind)
	missingBefore := c.x.missing
	c.x.expandStruct(reflect.ValueOf(block), kindNode, where+"."+ch.Kind, "")
	c.rs.secrets = append(c.rs.secrets, secretValues(reflect.ValueOf(block))...)
	c.warnLiteralSecrets(ch.Descriptor, kindNode, where+"."+ch.Kind)
	// A channel whose variables are unset cannot be valid (an empty
	// token): that is already reported (or, under --dry-run, the channel
	// only logs), so its validation leaves out what the unset values
	// explain rather than say it twice, and reports the rest (a wrong
	// region beside an unset key).
	hadUnset := c.x.missing > missingBefore

	if cfg.Timeout < 0 || cfg.Concurrency < 0 {
		c.ds.Add(config.SeverityError, c.file, cd.Key, "", where, "channel %q: timeout and concurrency must be positive", cd.Name)
	}
	if cfg.Timeout > 0 {
		ch.Timeout = cfg.Timeout
	}
	if cfg.Concurrency > 0 {
		ch.Concurrency = cfg.Concurrency
	}
	ch.RatePerSecond, ch.Burst = ch.Descriptor.RatePerSecond, ch.Descriptor.Burst
	if r := cfg.Rate; r != nil {
		if r.PerSecond < 0 || r.Burst < 0 {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "rate"), "", where+".rate", "channel %q: rate must be positive (per_second: 0 means unlimited)", cd.Name)
		}
		ch.RatePerSecond, ch.Burst = r.PerSecond, r.Burst
		if ch.Burst == 0 && ch.RatePerSecond > 0 {
			ch.Burst = max(1, int(ch.RatePerSecond))
		}
	}
	if r := cfg.Retry; r != nil {
		if r.MaxAttempts < 0 || r.MaxAge < 0 || r.Backoff < 0 || r.MaxBackoff < 0 {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "retry"), "", where+".retry", "channel %q: retry limits must be positive", cd.Name)
		}
		if r.MaxAttempts > 0 {
			ch.MaxAttempts = r.MaxAttempts
		}
		if r.MaxAge > 0 {
			ch.MaxAge = r.MaxAge
		}
		if r.Backoff > 0 {
			ch.Backoff = r.Backoff
		}
		if r.MaxBackoff > 0 {
			ch.MaxBackoff = r.MaxBackoff
		}
		if ch.MaxBackoff < ch.Backoff {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "retry", "max_backoff"), "", where+".retry.max_backoff",
				"channel %q: retry.max_backoff (%s) is shorter than retry.backoff (%s)", cd.Name,
				FormatDuration(ch.MaxBackoff), FormatDuration(ch.Backoff))
		}
	}
	if b := cfg.Breaker; b != nil {
		if b.Failures < 0 || b.Probe < 0 {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "breaker"), "", where+".breaker",
				"channel %q: breaker.failures and breaker.probe must be positive", cd.Name)
		}
		if b.Failures > 0 {
			ch.BreakerFailures = b.Failures
		}
		if b.Probe > 0 {
			ch.BreakerProbe = b.Probe
		}
	}

	c.compileChannelFatigue(ch, cfg, cd.Node, where)

	err := block.Validate()
	if err != nil && hadUnset {
		err = c.validateUnset(ch.Descriptor, kindNode, where+"."+ch.Kind)
	}
	if err != nil {
		c.fieldErrors(err, kindNode, cd.Name, where+"."+ch.Kind)
		c.rs.Channels[cd.Name] = ch // known, so rules don't also say "unknown channel"
		return
	}
	if c.ds.HasErrors() {
		c.rs.Channels[cd.Name] = ch
		return
	}
	if c.o.DryRun {
		ch.Notifier = &dryRunNotifier{logger: c.o.Logger, channel: cd.Name, kind: ch.Kind, rs: c.rs}
	} else {
		n, err := ch.Descriptor.New(block, notifiers.Options{Timeout: ch.Timeout})
		if err != nil {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, ch.Kind), "", where, "channel %q: %s", cd.Name, secret.Scrub(err.Error(), c.rs.secrets...))
		}
		ch.Notifier = n
	}
	c.rs.Channels[cd.Name] = ch
	c.rs.channelOrder = append(c.rs.channelOrder, cd.Name)
}

// resolveOnFailure checks every on_failure and applies the top-level
// default to the channels without their own. A channel never notifies
// itself: naming itself is an error, and the default channel keeps none.
func (c *compiler) resolveOnFailure(doc *config.Document) {
	known := func(name string) bool { _, ok := c.rs.Channels[name]; return ok }
	def := doc.OnFailure
	if def != "" && !known(def) {
		c.ds.Add(config.SeverityError, c.file, doc.OnFailurePos, "", "on_failure", "on_failure: unknown channel %q%s",
			def, c.suggestChannel(def))
		def = ""
	}
	for _, cd := range doc.Channels {
		ch, ok := c.rs.Channels[cd.Name]
		if !ok {
			continue
		}
		where := "channels." + cd.Name + ".on_failure"
		switch {
		case ch.OnFailure == cd.Name:
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "on_failure"), "", where,
				"channel %q: on_failure names the channel itself; name another channel", cd.Name)
			ch.OnFailure = ""
		case ch.OnFailure != "" && !known(ch.OnFailure):
			c.ds.Add(config.SeverityError, c.file, config.PosIn(cd.Node, "on_failure"), "", where,
				"channel %q: on_failure: unknown channel %q%s", cd.Name, ch.OnFailure, c.suggestChannel(ch.OnFailure))
			ch.OnFailure = ""
		case ch.OnFailure == "" && def != cd.Name:
			ch.OnFailure = def
		}
	}
}

// fieldErrors reports a Validate error, pointing at each field it names.
func (c *compiler) fieldErrors(err error, kn ast.Node, channel, where string) {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *notifiers.FieldError
		if errors.As(e, &fe) {
			at := config.PosIn(kn, fieldPath(fe.Field)...)
			c.ds.Add(config.SeverityError, c.file, at, "", where+"."+fe.Field, "channel %q: %s: %s", channel, fe.Field, secret.Scrub(fe.Message, c.rs.secrets...))
			continue
		}
		c.ds.Add(config.SeverityError, c.file, config.NodePos(kn), "", where, "channel %q: %s", channel, secret.Scrub(e.Error(), c.rs.secrets...))
	}
}

// validateUnset validates a channel block (at path, decoded from node)
// that references unset variables as if each held a value, and keeps the
// errors on the other fields: a wrong region beside an unset key is still
// an error, while "set token or webhook_url" for an unset webhook_url is
// only what the unset variable's warning already says.
func (c *compiler) validateUnset(k *notifiers.Kind, node ast.Node, path string) error {
	block := k.Config()
	if config.NodeToValue(node, block) != nil {
		return nil // the parse reported it
	}
	env := c.x.env
	x := &expander{file: c.file, checkOnly: true, ds: &config.Diags{}, env: func(name string) (string, bool) {
		if v, ok := env(name); ok && v != "" {
			return v, true
		}
		return "unset", true
	}}
	x.expandStruct(reflect.ValueOf(block), node, path, "")
	err := block.Validate()
	if err == nil {
		return nil
	}
	return withoutUnset(err, path, c.x.unsetFields)
}

// withoutUnset keeps the field errors of a block (at path) on fields
// whose values did not come from unset variables; nil when none is left.
// An error that names no field is dropped: an unset value may be its
// cause.
func withoutUnset(err error, path string, unset map[string]bool) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var kept []error
	for _, e := range list {
		var fe *notifiers.FieldError
		if errors.As(e, &fe) && !unset[path+"."+fe.Field] {
			kept = append(kept, e)
		}
	}
	return errors.Join(kept...)
}

// fieldPath splits "to[1]" or "headers.Authorization" into lookup steps.
func fieldPath(f string) []any {
	var out []any
	for _, part := range strings.Split(f, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			out = append(out, name)
		}
		if hasIdx {
			if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				out = append(out, i)
			}
		}
	}
	return out
}

// dryRunNotifier logs a fully rendered notification instead of sending it.
type dryRunNotifier struct {
	logger  *slog.Logger
	channel string
	kind    string
	rs      *Ruleset
}

func (d *dryRunNotifier) Notify(ctx context.Context, dl notifiers.Notification) error {
	p := dl.Parts
	attrs := []any{
		"delivery", dl.ID, "message", dl.MessageID, "rule", dl.Rule,
		"channel", d.channel, "kind", d.kind,
	}
	scrub := func(s string) string { return secret.Scrub(s, d.rs.secrets...) }
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, k, scrub(v))
		}
	}
	add("text", p.Text)
	add("blocks", p.Blocks)
	add("subject", p.Subject)
	if len(p.To) > 0 {
		add("to", strings.Join(p.To, ", "))
	}
	if len(p.Cc) > 0 {
		add("cc", strings.Join(p.Cc, ", "))
	}
	add("html", p.HTML)
	add("path", secret.RedactURL("http://x" + p.Path)[len("http://x"):])
	add("content_type", p.ContentType)
	add("body", p.Body)
	add("details", p.Details)
	add("description", p.Description)
	add("source", p.Source)
	add("card", p.Card)
	add("embeds", p.Embeds)
	if dl.ConversationKey != "" {
		attrs = append(attrs, "conversation", scrub(dl.ConversationKey), "resolve", dl.Resolve)
	}
	d.logger.InfoContext(ctx, "dry-run notification", attrs...)
	return nil
}

// unthreaded reports whether the channel's messages cannot be replied to
// or updated (a Slack incoming webhook returns no message ts).
func (ch *Channel) unthreaded() bool {
	u, ok := ch.settings.(notifiers.Unthreaded)
	return ok && u.Unthreaded()
}
