package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// The types below mirror the rules file key by key (DESIGN.md §2). Fields
// tagged sb:"env" are connection or secret fields in which ${VAR} and
// ${VAR:-default} are expanded after parsing; nowhere else is.

// SourceConfig is one entry of `sources:`; it is served at
// POST /webhooks/<name>.
type SourceConfig struct {
	// MaxBody is the largest accepted request body (default 8MiB for lago
	// sources, whose invoice.created carries every fee, and 1MiB for
	// generic ones); larger requests are answered 413.
	MaxBody ByteSize `yaml:"max_body,omitempty"`
	// Lago verifies Lago's signatures and deduplicates on X-Lago-Unique-Key.
	Lago *LagoSourceConfig `yaml:"lago,omitempty"`
	// Generic accepts any JSON sender.
	Generic *GenericSourceConfig `yaml:"generic,omitempty"`
}

// LagoSourceConfig configures Lago signature verification. Set one of
// HMACSecret, JWTPublicKey or JWTPublicKeyURL; none means unsigned.
type LagoSourceConfig struct {
	HMACSecret      secret.String `yaml:"hmac_secret,omitempty" sb:"env"`
	JWTPublicKey    secret.String `yaml:"jwt_public_key,omitempty" sb:"env"`
	JWTPublicKeyURL secret.URL    `yaml:"jwt_public_key_url,omitempty" sb:"env"`
	APIKey          secret.String `yaml:"api_key,omitempty" sb:"env"`
	JWTIssuer       string        `yaml:"jwt_issuer,omitempty"`
	// OrganizationID lists the Lago organizations whose messages the
	// source accepts, checked against the envelope's organization_id
	// after the signature. Lago signs JWT webhooks with one key per Lago
	// instance, so on a shared instance (Lago Cloud) every tenant's
	// messages carry a valid signature: with jwt_public_key or
	// jwt_public_key_url it is required unless AllowAnyOrganization is
	// set. With hmac_secret (a key per organization) it is optional.
	OrganizationID StringList `yaml:"organization_id,omitempty"`
	// AllowAnyOrganization accepts a JWT source without organization_id,
	// for a self-hosted Lago whose every organization is trusted.
	AllowAnyOrganization bool `yaml:"allow_any_organization,omitempty"`
}

// StringList is one string or a list of strings (used by organization_id): `organization_id: abc`
// and `organization_id: [abc, def]` both work.
type StringList []string

// UnmarshalYAML implements goccy/go-yaml's InterfaceUnmarshaler.
func (l *StringList) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("organization_id: want one ID or a list of IDs")
	}
	*l = many
	return nil
}

// GenericSourceConfig configures a source for any JSON sender.
type GenericSourceConfig struct {
	// IdempotencyHeader names the header whose value deduplicates
	// messages; without it (and without Standard Webhooks) nothing is
	// deduplicated.
	IdempotencyHeader string                  `yaml:"idempotency_header,omitempty"`
	HMAC              *HMACSourceConfig       `yaml:"hmac,omitempty"`
	StandardWebhooks  *StandardWebhooksConfig `yaml:"standard_webhooks,omitempty"`
	Bearer            *BearerConfig           `yaml:"bearer,omitempty"`
}

// HMACSourceConfig verifies an HMAC of the raw body carried in a header.
type HMACSourceConfig struct {
	Secret   secret.String `yaml:"secret" sb:"env"`
	Header   string        `yaml:"header,omitempty"`
	Hash     string        `yaml:"hash,omitempty"`
	Encoding string        `yaml:"encoding,omitempty"`
	Prefix   string        `yaml:"prefix,omitempty"`
}

// StandardWebhooksConfig verifies Standard Webhooks signatures.
type StandardWebhooksConfig struct {
	Secret secret.String `yaml:"secret" sb:"env"`
}

// BearerConfig requires Authorization: Bearer <token>.
type BearerConfig struct {
	Token secret.String `yaml:"token" sb:"env"`
}

// ChannelConfig is one entry of `channels:`: the settings every kind
// shares, and one kind block (slack:, email:, http:, pagerduty:, …) that
// the kind's descriptor decodes into Settings. The schema names no kind:
// adding one touches its notifier package, not this file.
type ChannelConfig struct {
	// Timeout bounds one send attempt (default 10s).
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Concurrency is the number of sends in flight at once (default 4).
	Concurrency int `yaml:"concurrency,omitempty"`
	// Rate limits sends per second (default: Slack 1/s burst 3; others
	// unlimited).
	Rate *RateConfig `yaml:"rate,omitempty"`
	// Retry bounds retries of transient failures.
	Retry *RetryConfig `yaml:"retry,omitempty"`

	// Schedule mutes the channel during quiet hours (hold or drop).
	Schedule *ScheduleConfig `yaml:"schedule,omitempty"`
	// Pacing collapses a backlog into one summary message (default for
	// Slack: threshold 20; off for email and HTTP).
	Pacing *PacingConfig `yaml:"pacing,omitempty"`
	// Breaker stops sending to a failing channel (default: open after 5
	// failures in a row, probe every 30s backing off to 5m).
	Breaker *BreakerConfig `yaml:"breaker,omitempty"`
	// OnFailure names the channel told when this one fails and recovers
	// (default: the top-level on_failure).
	OnFailure string `yaml:"on_failure,omitempty"`

	// Settings is the channel's kind block (slack:, email:, http:, …)
	// decoded by its kind's descriptor: a pointer to the notifier
	// package's Config. The parser sets it; it is not a key.
	Settings Settings `yaml:"-"`
	// Kind names the block Settings was decoded from.
	Kind string `yaml:"-"`
}

// RateConfig is a token bucket.
type RateConfig struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst,omitempty"`
}

// BreakerConfig is a channel's circuit breaker: after Failures retryable
// failures in a row the channel is open (nothing is sent, deliveries wait)
// and one probe goes out every Probe, doubling up to 5m, until one
// succeeds.
type BreakerConfig struct {
	Failures int           `yaml:"failures,omitempty"`
	Probe    time.Duration `yaml:"probe,omitempty"`
}

// RetryConfig bounds retries: whichever limit comes first ends them.
// Backoff is the first delay (default 5s), five times longer after each
// failure up to MaxBackoff (default 8h), with jitter.
type RetryConfig struct {
	MaxAttempts int           `yaml:"max_attempts,omitempty"`
	MaxAge      time.Duration `yaml:"max_age,omitempty"`
	Backoff     time.Duration `yaml:"backoff,omitempty"`
	MaxBackoff  time.Duration `yaml:"max_backoff,omitempty"`
}

// RuleConfig is one entry of `rules:`.
type RuleConfig struct {
	Name        string       `yaml:"name"`
	Description string       `yaml:"description,omitempty"`
	Enabled     *bool        `yaml:"enabled,omitempty"`
	When        string       `yaml:"when"`
	Send        []SendConfig `yaml:"send"`
	// Throttle sends at most one notification per key per window.
	Throttle *ThrottleConfig `yaml:"throttle,omitempty"`
	// Group collects matches into digests.
	Group *GroupConfig `yaml:"group,omitempty"`
	// Schedule mutes the rule during quiet hours (hold or drop).
	Schedule *ScheduleConfig `yaml:"schedule,omitempty"`
	// Resolves names the rule whose open conversation for the same key a
	// match of this rule closes (this rule needs a thread or update key).
	Resolves string `yaml:"resolves,omitempty"`
	// Escalate notifies another channel when a conversation of this rule
	// is still open After its first message.
	Escalate *EscalateConfig `yaml:"escalate,omitempty"`
}

// EscalateConfig is a rule's escalation on absence: when no resolving
// message closed the conversation within After, To is notified once.
type EscalateConfig struct {
	After Duration `yaml:"after"`
	// UnlessResolved (default true) cancels the escalation when the
	// conversation is resolved in time; false escalates regardless.
	UnlessResolved *bool  `yaml:"unless_resolved,omitempty"`
	To             string `yaml:"to"`
	Template       string `yaml:"template,omitempty"`
	Message        string `yaml:"message,omitempty"`
}

// ThrottleConfig lets at most one notification per key go out in each
// window of Every; later matches in the window are suppressed and counted
// (.Suppressed in the next one that goes out).
type ThrottleConfig struct {
	// Key is a template rendered on each message ("{{ .wallet.external_customer_id }}");
	// empty: one window for the whole rule.
	Key   string   `yaml:"key,omitempty"`
	Every Duration `yaml:"every"`
}

// GroupConfig collects a rule's matches per key into digests: the first
// match opens a group, delivered Wait later as one notification; later
// matches go into the next digest, no sooner than Interval after the last.
type GroupConfig struct {
	// By is a template rendered on each message; empty: one group per rule.
	By       string   `yaml:"by,omitempty"`
	Wait     Duration `yaml:"wait,omitempty"`
	Interval Duration `yaml:"interval,omitempty"`
	// Max is the most messages a digest carries in .Messages (.Count
	// counts them all).
	Max int `yaml:"max,omitempty"`
}

// ScheduleConfig declares quiet hours: during_quiet hold delivers when the
// quiet period ends, drop only counts.
type ScheduleConfig struct {
	Timezone    string   `yaml:"timezone,omitempty"`
	Quiet       []string `yaml:"quiet"`
	DuringQuiet string   `yaml:"during_quiet,omitempty"`
}

// PacingConfig collapses a channel's backlog: when more than Threshold
// deliveries wait, the overflow becomes one summary message. Zero turns
// pacing off.
type PacingConfig struct {
	Threshold int `yaml:"threshold"`
}

// IsEnabled reports whether the rule is enabled (the default).
func (r RuleConfig) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// SendConfig is one target of a rule: a channel and what to send it.
type SendConfig struct {
	To       string `yaml:"to"`
	Template string `yaml:"template,omitempty"`
	Message  string `yaml:"message,omitempty"`
	// Thread is a key template ("{{ .invoice.lago_id }}"): the first
	// notification of a key starts a conversation, later ones reply in its
	// thread (Slack with a bot token; email threads with In-Reply-To).
	Thread string `yaml:"thread,omitempty"`
	// Update is a key template: later notifications of a key edit the
	// first message (Slack chat.update) instead of posting.
	Update string `yaml:"update,omitempty"`
	// Broadcast also shows thread replies in the channel.
	Broadcast bool `yaml:"broadcast,omitempty"`
}

// Duration is a time.Duration written as "30s", "5m", "6h" or "1h30m".
type Duration time.Duration

// MarshalYAML writes the shortest form: "6h", not "6h0m0s".
func (d Duration) MarshalYAML() ([]byte, error) { return []byte(FormatDuration(time.Duration(d))), nil }

// UnmarshalYAML implements goccy/go-yaml's BytesUnmarshaler.
func (d *Duration) UnmarshalYAML(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"'`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (write durations like 30s, 5m, 6h or 1h30m)", s)
	}
	*d = Duration(v)
	return nil
}

// FormatDuration writes d without zero units: 6h, 1h30m, 90s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ByteSize is a size in bytes written as 1048576, "512KiB", "1MiB" or "2MB".
type ByteSize int64

// UnmarshalYAML implements goccy/go-yaml's BytesUnmarshaler.
func (b *ByteSize) UnmarshalYAML(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"'`)
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// ParseByteSize parses "1048576", "64KiB", "1MiB", "1MB", "1 GiB".
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (use e.g. 1MiB or 512KiB)", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size unit in %q (use B, KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return int64(f * mult), nil
}

// RetentionConfig is the top-level `retention:` block.
type RetentionConfig struct {
	// Messages is how long received messages (their original bytes) are
	// kept after receipt, whatever became of their deliveries, so that
	// backtests and `switchboard unmatched` can replay them (default 7d,
	// at least 24h; a message is also kept as long as a delivery refers
	// to it). Delivered and dead deliveries have their own retention.
	Messages Days `yaml:"messages,omitempty"`
}

// Days is a duration that may also be written in days: 30d, 1d12h, 36h.
type Days time.Duration

// UnmarshalYAML implements goccy/go-yaml's BytesUnmarshaler.
func (d *Days) UnmarshalYAML(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"'`)
	v, err := ParseDays(s)
	if err != nil {
		return err
	}
	*d = Days(v)
	return nil
}

// MarshalYAML writes whole days as "30d".
func (d Days) MarshalYAML() ([]byte, error) {
	v := time.Duration(d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"), nil
	}
	return []byte(FormatDuration(v)), nil
}

// ParseDays reads a duration that may start with a number of days: 30d,
// 1d12h, 36h, 90m.
func ParseDays(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q (write durations like 30d, 36h or 1d12h)", s)
	days := 0
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return 0, bad
		}
		rest = v
	}
	return time.Duration(days)*24*time.Hour + rest, nil
}
