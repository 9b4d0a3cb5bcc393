package email

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// TLS modes of Config.TLS.
const (
	// TLSStartTLS connects in plaintext and upgrades with STARTTLS, which
	// the server must offer: there is never a silent plaintext fallback.
	// The default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte ("SMTPS", port 465).
	TLSImplicit = "tls"
	// TLSNone sends everything, credentials included, in plaintext. Only
	// for relays on the same host or a trusted network.
	TLSNone = "none"
)

// Default ports per TLS mode, used when Config.Port is not set.
const (
	// DefaultPortStartTLS is the submission port (RFC 6409).
	DefaultPortStartTLS = 587
	// DefaultPortImplicit is the submission port over implicit TLS
	// (RFC 8314).
	DefaultPortImplicit = 465
	// DefaultPortNone is the SMTP port, where local relays listen.
	DefaultPortNone = 25
)

// Config is the `email:` block of a channel: the SMTP server to submit
// through and the envelope of every message.
type Config struct {
	// Host is the SMTP server's host name or IP address, without a port.
	// With tls: starttls or tls its certificate must be valid for Host.
	Host string `yaml:"host" sb:"env"`
	// Port is the server's TCP port: a number or a string such as
	// "${SMTP_PORT}". Default: 587 for starttls, 465 for tls, 25 for none.
	Port Port `yaml:"port" sb:"env"`
	// Username, when set, makes Switchboard authenticate (AUTH PLAIN, or
	// LOGIN or CRAM-MD5 when the server offers only those).
	Username string `yaml:"username,omitempty" sb:"env"`
	// Password goes with Username. It prints as <secret>.
	Password secret.String `yaml:"password,omitempty" sb:"env"`
	// TLS is starttls (the default), tls (implicit TLS) or none.
	TLS string `yaml:"tls,omitempty"`
	// CAFile is a PEM file of extra CA certificates to trust for the
	// server's certificate, beside the system's (a private CA, a
	// self-signed relay).
	CAFile string `yaml:"ca_file,omitempty" sb:"env"`
	// From is the sender, "Billing <billing@example.com>" or a bare
	// address. It is also the envelope sender (MAIL FROM).
	From string `yaml:"from"`
	// To are the recipients, at least one. Each entry is a template
	// ("{{ .invoice.customer.email }}"). An entry written without "{{"
	// may list several comma-separated addresses; a templated entry must
	// render to one address (a customer's email holding a comma cannot
	// add recipients) unless MaxRecipients allows more.
	To []string `yaml:"to,omitempty"`
	// Cc are copy recipients, templates like To.
	Cc []string `yaml:"cc,omitempty"`
	// Subject is the subject template used when the rule's template has
	// no subject block.
	Subject string `yaml:"subject,omitempty"`
	// MaxRecipients is how many addresses one templated to or cc entry
	// may render to; 0 means 1. A delivery whose entry renders to more
	// fails (dead-lettered with the reason) instead of mailing them.
	MaxRecipients int `yaml:"max_recipients,omitempty"`
}

// Validate reports every problem with the block, each as a
// *notifiers.FieldError joined with errors.Join. Entries of to and cc
// containing "{{" are templates, checked by the router; the others must be
// valid addresses. Messages never contain the password.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	host := strings.TrimSpace(c.Host)
	switch {
	case host == "":
		add("host", "required: the SMTP server's host name")
	case strings.ContainsAny(host, "/ \t") || (strings.Contains(host, ":") && net.ParseIP(host) == nil):
		add("host", "%q is not a host name: give the name alone (no scheme, no path) and the port in port", host)
	}

	mode, modeOK := c.mode()
	if !modeOK {
		add("tls", "%q is not one of starttls, tls, none", c.TLS)
	}
	if _, err := c.Port.Number(); err != nil {
		add("port", "%v", err)
	}

	if c.Password.Reveal() != "" && c.Username == "" {
		add("password", "set without username")
	}
	if c.Username != "" && c.Password.Reveal() == "" {
		add("password", "required with username")
	}
	if c.Username != "" && modeOK && mode == TLSNone && host != "" && !isLoopback(host) {
		add("tls", "none would send the password in plaintext to %s: use starttls or tls", host)
	}

	if c.CAFile != "" {
		if _, err := loadCAFile(c.CAFile); err != nil {
			add("ca_file", "%v", err)
		}
	}

	if strings.TrimSpace(c.From) == "" {
		add("from", "required: the sender address")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("from", "%q is not an email address: %v", c.From, addrErr(err))
	}

	if len(c.To) == 0 {
		add("to", "required: at least one recipient")
	}
	if c.MaxRecipients < 0 {
		add("max_recipients", "must be 1 or more")
	}
	for i, to := range c.To {
		if msg := recipientProblem(to); msg != "" {
			add(fmt.Sprintf("to[%d]", i), "%s", msg)
		}
	}
	for i, cc := range c.Cc {
		if msg := recipientProblem(cc); msg != "" {
			add(fmt.Sprintf("cc[%d]", i), "%s", msg)
		}
	}
	return errors.Join(errs...)
}

// mode returns the TLS mode, defaulting to starttls.
func (c Config) mode() (string, bool) {
	switch c.TLS {
	case "", TLSStartTLS:
		return TLSStartTLS, true
	case TLSImplicit, TLSNone:
		return c.TLS, true
	}
	return "", false
}

// port returns the configured port or the mode's default.
func (c Config) port() int {
	if n, err := c.Port.Number(); err == nil && n != 0 {
		return n
	}
	mode, _ := c.mode()
	switch mode {
	case TLSImplicit:
		return DefaultPortImplicit
	case TLSNone:
		return DefaultPortNone
	}
	return DefaultPortStartTLS
}

// recipientProblem checks a literal to/cc entry; templates are left to
// the router.
func recipientProblem(entry string) string {
	if strings.Contains(entry, "{{") {
		return ""
	}
	if strings.TrimSpace(entry) == "" {
		return "empty recipient"
	}
	if _, err := mail.ParseAddressList(entry); err != nil {
		return fmt.Sprintf("%q is not an email address: %v", entry, addrErr(err))
	}
	return ""
}

// addrErr drops net/mail's "mail: " prefix.
func addrErr(err error) string { return strings.TrimPrefix(err.Error(), "mail: ") }

// isLoopback reports whether host is this machine, where plaintext
// credentials do not cross a network.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadCAFile reads a PEM bundle of CA certificates and checks that it
// holds at least one.
func loadCAFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return b, nil
}

// Port is an SMTP port as written in the rules file: a number (587) or a
// string that may reference the environment ("${SMTP_PORT}"), which the
// router expands (see ExpandEnv) before Validate checks that it is a
// number from 1 to 65535. The zero Port means the TLS mode's default.
type Port struct {
	raw string
}

// NewPort returns the Port n.
func NewPort(n int) Port { return Port{raw: strconv.Itoa(n)} }

// String returns the port as written (after expansion, once expanded).
func (p Port) String() string { return p.raw }

// IsZero reports whether the port is unset.
func (p Port) IsZero() bool { return strings.TrimSpace(p.raw) == "" }

// Number returns the port number, 0 when unset, or an error when the port
// is not a number from 1 to 65535.
func (p Port) Number() (int, error) {
	s := strings.TrimSpace(p.raw)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		if strings.Contains(s, "${") {
			return 0, fmt.Errorf("%q was not expanded to a port number", s)
		}
		return 0, fmt.Errorf("%q is not a port number (1 to 65535)", s)
	}
	return n, nil
}

// UnmarshalYAML implements goccy/go-yaml's BytesUnmarshaler: it accepts a
// number (port: 587) or a string (port: "${SMTP_PORT}").
func (p *Port) UnmarshalYAML(b []byte) error {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		p.raw = ""
	case string:
		p.raw = x
	case uint64:
		p.raw = strconv.FormatUint(x, 10)
	case int64:
		p.raw = strconv.FormatInt(x, 10)
	case int:
		p.raw = strconv.Itoa(x)
	case float64:
		// Kept as written so that Validate names the bad value.
		p.raw = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Errorf("port must be a number or a string, not %T", v)
	}
	return nil
}

// MarshalYAML implements goccy/go-yaml's BytesMarshaler: a number when
// the port is one, else a string.
func (p Port) MarshalYAML() ([]byte, error) {
	if _, err := strconv.Atoi(strings.TrimSpace(p.raw)); err == nil {
		return []byte(strings.TrimSpace(p.raw)), nil
	}
	return yaml.Marshal(p.raw)
}

// MarshalText implements encoding.TextMarshaler (JSON output of a
// configuration).
func (p Port) MarshalText() ([]byte, error) { return []byte(p.raw), nil }

// ExpandEnv replaces the port's text with expand's result; the router
// calls it with its ${VAR} expansion. Checking the result is Validate's
// job.
func (p *Port) ExpandEnv(expand func(string) string) error {
	p.raw = expand(p.raw)
	return nil
}
