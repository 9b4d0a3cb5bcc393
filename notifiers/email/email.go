package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/go-mail/mail/v2"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// DefaultTimeout bounds one send attempt when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Headers Switchboard adds to messages.
const (
	// HeaderDelivery carries the delivery ID, on every message.
	HeaderDelivery = "X-Switchboard-Delivery"
	// HeaderRule carries the name of the rule that matched, on every
	// message.
	HeaderRule = "X-Switchboard-Rule"
	// HeaderTest is "true" on a test delivery (the editor's "Send test").
	HeaderTest = "X-Switchboard-Test"
)

// TestSubjectPrefix starts the subject of a test delivery.
const TestSubjectPrefix = "[TEST] "

// messageIDDomain is the right-hand side of every Message-ID.
const messageIDDomain = "switchboard"

// Notifier sends deliveries as email through one SMTP server. It holds no
// connection between deliveries and is safe for concurrent use.
type Notifier struct {
	from      *mail.Address
	transport transport
	// secrets are the forms of the password that could appear in a
	// server's reply, scrubbed from every error.
	secrets []string
}

var (
	_ notifiers.Notifier             = (*Notifier)(nil)
	_ notifiers.ConversationNotifier = (*Notifier)(nil)
)

// NotifyConversation sends d like Notify and reports its Message-ID, which
// later emails of the conversation name in In-Reply-To and References.
func (n *Notifier) NotifyConversation(ctx context.Context, d notifiers.Notification) (notifiers.Posted, error) {
	if err := n.Notify(ctx, d); err != nil {
		return notifiers.Posted{}, err
	}
	return notifiers.Posted{EmailMessageID: MessageID(d.ID)}, nil
}

// envelope is what the SMTP transaction carries beside the message: MAIL
// FROM and RCPT TO.
type envelope struct {
	from string
	to   []string
}

// transport submits one composed message. It keeps the SMTP client
// library out of Notify; smtpTransport is the implementation.
type transport interface {
	send(ctx context.Context, env envelope, msg io.WriterTo) error
}

// New returns a Notifier for c, which must be valid (see Config.Validate;
// New checks it again and returns its error). It reads ca_file once, here.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil { // unreachable after Validate
		return nil, fmt.Errorf("email: from: %w", err)
	}
	mode, _ := c.mode()
	host := strings.TrimSpace(c.Host)
	tlsConfig := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		bundle, err := loadCAFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("email: ca_file: %w", err)
		}
		// Extra CAs, beside the system's: a server may present either.
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(bundle)
		tlsConfig.RootCAs = pool
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pw := c.Password.Reveal()
	return &Notifier{
		from: from,
		transport: &smtpTransport{
			addr:      net.JoinHostPort(host, strconv.Itoa(c.port())),
			host:      host,
			mode:      mode,
			tlsConfig: tlsConfig,
			username:  c.Username,
			password:  pw,
			timeout:   timeout,
		},
		secrets: passwordForms(c.Username, pw),
	}, nil
}

// passwordForms lists the password and the encodings in which AUTH PLAIN
// and LOGIN send it, so that a server echoing them cannot leak it.
func passwordForms(username, password string) []string {
	if password == "" {
		return nil
	}
	enc := base64.StdEncoding.EncodeToString
	return []string{
		password,
		enc([]byte("\x00" + username + "\x00" + password)),
		enc([]byte(password)),
	}
}

// Notify sends d as one email to the rendered recipients d.Parts.To and
// d.Parts.Cc. An empty or invalid recipient list, an SMTP 5xx reply, a
// server that does not offer STARTTLS when tls: starttls requires it and
// an untrusted certificate are permanent errors; 4xx replies, network
// errors and timeouts are transient.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	to, err := parseRecipients("to", d.Parts.To)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("send email: %w", err))
	}
	if len(to) == 0 {
		return notifiers.Permanent(errors.New("send email: no recipient (to rendered empty)"))
	}
	cc, err := parseRecipients("cc", d.Parts.Cc)
	if err != nil {
		return notifiers.Permanent(fmt.Errorf("send email: %w", err))
	}
	env := envelope{from: n.from.Address, to: envelopeRecipients(to, cc)}
	msg := compose(n.from, to, cc, d, time.Now())
	if err := n.transport.send(ctx, env, msg); err != nil {
		return n.sendError(err)
	}
	return nil
}

// sendError wraps err as "send email: …" with the password scrubbed, and
// classifies it.
func (n *Notifier) sendError(err error) error {
	text := "send email: " + err.Error()
	var out error
	if scrubbed := secret.Scrub(text, n.secrets...); scrubbed != text {
		// The chain would still hold the secret: keep only the text.
		out = errors.New(scrubbed)
	} else {
		out = fmt.Errorf("send email: %w", err)
	}
	if isPermanent(err) {
		return notifiers.Permanent(out)
	}
	return out
}

// parseRecipients parses rendered recipients; an entry may hold several
// comma-separated addresses and empty entries are skipped.
func parseRecipients(field string, entries []string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, e := range entries {
		if strings.TrimSpace(e) == "" {
			continue
		}
		list, err := mail.ParseAddressList(e)
		if err != nil {
			return nil, fmt.Errorf("invalid %s address %q: %s", field, e, addrErr(err))
		}
		for _, a := range list {
			if !isASCII(a.Address) {
				return nil, fmt.Errorf("invalid %s address %q: addresses must be ASCII (internationalized addresses are not supported)", field, a.Address)
			}
		}
		out = append(out, list...)
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// envelopeRecipients lists each address of to and cc once.
func envelopeRecipients(to, cc []*mail.Address) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]*mail.Address{to, cc} {
		for _, a := range list {
			k := strings.ToLower(a.Address)
			if !seen[k] {
				seen[k] = true
				out = append(out, a.Address)
			}
		}
	}
	return out
}

// compose builds the message: text only is text/plain, HTML only is
// text/html, both are multipart/alternative with the text first. Headers
// are RFC 2047-encoded where they are not ASCII; bodies are
// quoted-printable UTF-8.
func compose(from *mail.Address, to, cc []*mail.Address, d notifiers.Notification, now time.Time) io.WriterTo {
	m := gomail.NewMessage()
	m.SetAddressHeader("From", from.Address, from.Name)
	m.SetHeader("To", formatAddresses(m, to)...)
	if len(cc) > 0 {
		m.SetHeader("Cc", formatAddresses(m, cc)...)
	}
	subject := d.Parts.Subject
	if d.Test {
		subject = TestSubjectPrefix + subject
	}
	m.SetHeader("Subject", subject)
	m.SetDateHeader("Date", now)
	m.SetHeader("Message-ID", MessageID(d.ID))
	if c := d.Parts.Conversation; c != nil && c.Root != "" && c.Root != d.ID {
		// A follow-up in a conversation: mail clients thread it under the
		// conversation's first email.
		m.SetHeader("In-Reply-To", MessageID(c.Root))
		m.SetHeader("References", MessageID(c.Root))
	}
	m.SetHeader(HeaderDelivery, d.ID)
	m.SetHeader(HeaderRule, d.Rule)
	if d.Test {
		m.SetHeader(HeaderTest, "true")
	}
	// RFC 3834: keeps vacation responders and the like from answering.
	m.SetHeader("Auto-Submitted", "auto-generated")

	text, html := d.Parts.Text, d.Parts.HTML
	switch {
	case html == "":
		m.SetBody("text/plain", text)
	case text == "":
		m.SetBody("text/html", html)
	default:
		m.SetBody("text/plain", text)
		m.AddAlternative("text/html", html)
	}
	return m
}

// formatAddresses formats addresses for a header, encoding non-ASCII
// display names.
func formatAddresses(m *gomail.Message, list []*mail.Address) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = m.FormatAddress(a.Address, a.Name)
	}
	return out
}

// MessageID returns the Message-ID of the email for a delivery:
// "<ID@switchboard>". It depends only on the delivery ID, so every retry
// and replay of a delivery carries the same Message-ID and mail clients
// show it once. Characters of the ID that a Message-ID cannot hold are
// written as "=XX" (hex).
func MessageID(deliveryID string) string {
	var b strings.Builder
	b.WriteByte('<')
	for i := 0; i < len(deliveryID); i++ {
		c := deliveryID[i]
		if isIDChar(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("@" + messageIDDomain + ">")
	return b.String()
}

// isIDChar reports whether c can appear as is in a Message-ID's left
// part: RFC 5322 atext, minus "=" (the escape) and "." (so that no
// dot-atom rule can be broken).
func isIDChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/?^_`{|}~", c) >= 0
}
