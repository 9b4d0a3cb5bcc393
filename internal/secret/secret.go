// Package secret holds the type used for every secret configuration value
// (tokens, passwords, HMAC and signing secrets, header values). A Secret
// prints as "<secret>" through fmt, log/slog, encoding/json and YAML, so it
// cannot leak by accident; Reveal is the one explicit way to read it.
package secret

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Redacted is what a secret prints as, everywhere.
const Redacted = "<secret>"

// String is a secret value. Its zero value is the empty (unset) secret.
type String string

// Reveal returns the secret's value. Call it only where the value is used
// (signing, authenticating), never to print or log it.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s == "" }

// String implements fmt.Stringer.
func (s String) String() string { return Redacted }

// GoString implements fmt.GoStringer, used by %#v.
func (s String) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x…)
// prints the redacted form.
func (s String) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", Redacted)
		return
	}
	fmt.Fprint(f, Redacted)
}

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by YAML encoders and
// map keys).
func (s String) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// RedactURL returns u with its userinfo and query replaced by "<secret>",
// for URLs that may carry credentials (webhook URLs, API URLs). A string
// that does not parse as a URL is redacted whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if raw == "" {
			return ""
		}
		return Redacted
	}
	if u.User != nil {
		u.User = url.User(Redacted)
	}
	if u.RawQuery != "" {
		u.RawQuery = Redacted
	}
	u.Fragment = ""
	// url.URL escapes "<" and ">" in userinfo; keep the marker readable.
	out := u.String()
	out = strings.ReplaceAll(out, "%3Csecret%3E", Redacted)
	return out
}

// ScrubURL replaces in s the URL raw and each credential it carries — its
// password, the values of its credential query parameters, and its user
// name where a database driver quotes it ("user=NAME", as pgx's
// connection errors do) — with "<secret>".
func ScrubURL(s, raw string) string { return URLScrubber(raw)(s) }

// URLScrubber returns ScrubURL for raw, with raw parsed once: for a
// logger that scrubs every line.
func URLScrubber(raw string) func(string) string {
	if raw == "" {
		return func(s string) string { return s }
	}
	values := []string{raw}
	user := ""
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			if name := u.User.Username(); name != "" {
				user = "user=" + name
			}
			if pw, ok := u.User.Password(); ok {
				values = append(values, pw)
			}
		}
		for k, vs := range u.Query() {
			// Credentials (password=, sslpassword=, token=, api_key=),
			// not settings such as sslmode=require, whose words would
			// be scrubbed out of every message.
			k = strings.ToLower(k)
			if strings.Contains(k, "pass") || strings.Contains(k, "secret") || strings.Contains(k, "token") || strings.Contains(k, "key") {
				values = append(values, vs...)
			}
		}
	}
	return func(s string) string {
		if user != "" {
			s = strings.ReplaceAll(s, user, "user="+Redacted)
		}
		return Scrub(s, values...)
	}
}

// Scrub replaces every occurrence of each non-empty value in s with
// "<secret>". It is the last line of defence for error texts produced by
// libraries that may echo what they were given (an SMTP server repeating a
// password, a URL in a *url.Error).
func Scrub(s string, values ...string) string {
	for _, v := range values {
		if len(v) >= 4 { // shorter values would redact ordinary words
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// URL is a URL from the configuration whose userinfo and query may carry
// credentials (a webhook URL with ?token=…, https://user:pass@host). It
// prints with those parts redacted; Reveal returns it whole.
type URL string

// Reveal returns the URL whole, for making requests.
func (u URL) Reveal() string { return string(u) }

// String implements fmt.Stringer with userinfo and query redacted.
func (u URL) String() string { return RedactURL(string(u)) }

// GoString implements fmt.GoStringer.
func (u URL) GoString() string { return u.String() }

// Format implements fmt.Formatter so every verb prints the redacted form.
func (u URL) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", u.String())
		return
	}
	fmt.Fprint(f, u.String())
}

// LogValue implements slog.LogValuer.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalText implements encoding.TextMarshaler.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }
