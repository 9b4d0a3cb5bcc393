package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Config is the `http:` block of a channel: where and how to send an
// outgoing webhook.
type Config struct {
	// URL is the receiver's absolute http or https URL. Its scheme and host
	// (and userinfo, sent as basic auth) are fixed by the configuration; its
	// path and query may be templates rendered per message
	// ("https://crm.example.com/hooks/{{ .customer.external_id }}"). The
	// userinfo and query print as <secret>.
	URL secret.URL `yaml:"url" sb:"env"`
	// Method is POST (the default), PUT or PATCH.
	Method string `yaml:"method,omitempty"`
	// Headers are sent with every request. Values are secrets (they print
	// as <secret>); a value containing "{{" is a template rendered per
	// message. Host, Content-Length, the webhook-* signature headers and
	// the X-Switchboard-* headers are set by Switchboard and cannot be
	// configured. A Content-Type here replaces the default
	// application/json (a template's content_type block replaces both),
	// and a User-Agent here replaces "Switchboard".
	Headers map[string]secret.String `yaml:"headers,omitempty" sb:"env"`
	// SigningSecret, a Standard Webhooks secret ("whsec_" and base64),
	// makes every request carry webhook-timestamp and webhook-signature so
	// the receiver can check where it came from.
	SigningSecret secret.String `yaml:"signing_secret,omitempty" sb:"env"`
	// AllowLinkLocal lets the channel connect to link-local and cloud
	// metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
	// 100.100.100.200), which are refused by default: from a cloud VM they
	// answer with the machine's credentials. The check applies to the
	// address actually dialled, after DNS, so a name that resolves there
	// is refused too. Private and loopback addresses are allowed.
	AllowLinkLocal bool `yaml:"allow_link_local,omitempty"`
}

// Headers Switchboard sets itself on every request.
const (
	headerRule = "X-Switchboard-Rule"
	headerTest = "X-Switchboard-Test"
)

// Validate reports every problem with the block, each as a
// *notifiers.FieldError joined with errors.Join. Messages never contain
// secret values.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &notifiers.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	if msg := c.urlProblem(); msg != "" {
		add("url", "%s", msg)
	}
	if _, err := parseMethod(c.Method); err != nil {
		add("method", "%v", err)
	}

	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		field := "headers." + k
		switch {
		case !validHeaderName(k):
			add(field, "%q is not a valid header name", k)
		case isReserved(k):
			add(field, "%s is set by Switchboard and cannot be configured", k)
		case !validHeaderValue(c.Headers[k].Reveal()):
			add(field, "value must not contain control characters such as line breaks")
		}
	}

	if !c.SigningSecret.IsZero() {
		if _, err := standardwebhooks.ParseKey(c.SigningSecret.Reveal()); err != nil {
			add("signing_secret", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// urlProblem describes what is wrong with c.URL, or returns "". It never
// quotes the URL, which may carry credentials.
func (c Config) urlProblem() string {
	raw := c.URL.Reveal()
	if strings.TrimSpace(raw) == "" {
		return "required"
	}
	base, rest, ok := splitURL(raw)
	if !ok {
		return "must be an absolute http or https URL"
	}
	if i := strings.Index(raw, "{{"); i >= 0 && i < len(base) {
		return "scheme and host cannot be templates"
	}
	u, err := url.Parse(base)
	if err != nil {
		return "must be an absolute http or https URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "scheme must be http or https"
	}
	if u.Hostname() == "" {
		return "must have a host"
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !c.AllowLinkLocal && LinkLocal(ip) {
		return "host is a link-local or cloud metadata address; set allow_link_local: true on the channel if it is really meant"
	}
	// Parse the whole URL with template actions replaced by a plain
	// placeholder, so a broken static part is caught now, not per message.
	full, err := url.Parse(base + withoutActions(rest))
	if err != nil {
		return "path or query is not valid in a URL"
	}
	if full.Fragment != "" || strings.Contains(withoutActions(rest), "#") {
		return "must not have a fragment (it is never sent)"
	}
	return ""
}

// Base returns the scheme, userinfo and host of the URL
// ("https://user:pass@crm.example.com:8443"): the part a message can never
// change.
func (c Config) Base() string {
	base, _, _ := splitURL(c.URL.Reveal())
	return base
}

// PathTemplate returns the path and query of the URL ("/hooks/{{ .id }}?a=b"),
// possibly holding template actions. It always starts with "/": an empty
// path is "/".
func (c Config) PathTemplate() string {
	_, rest, _ := splitURL(c.URL.Reveal())
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest
}

// splitURL cuts raw after its authority: base is scheme://[userinfo@]host,
// rest is everything from the first "/", "?" or "#" after "://". ok is
// false when raw has no "://".
func splitURL(raw string) (base, rest string, ok bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", raw, false
	}
	start := i + len("://")
	end := strings.IndexAny(raw[start:], "/?#")
	if end < 0 {
		return raw, "", true
	}
	return raw[:start+end], raw[start+end:], true
}

// withoutActions replaces every {{ … }} in s with "x".
func withoutActions(s string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			if depth == 0 {
				b.WriteByte('x')
			}
			depth++
			i++
		case depth > 0 && strings.HasPrefix(s[i:], "}}"):
			depth--
			i++
		case depth == 0:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// parseMethod returns the request method, POST by default. Case is
// ignored.
func parseMethod(m string) (string, error) {
	switch up := strings.ToUpper(strings.TrimSpace(m)); up {
	case "":
		return "POST", nil
	case "POST", "PUT", "PATCH":
		return up, nil
	default:
		return "", fmt.Errorf("%q is not allowed: use POST, PUT or PATCH", m)
	}
}

// isReserved reports whether name is a header the transport or the
// notifier sets: a configured value would break framing or signatures.
func isReserved(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding",
		standardwebhooks.HeaderID, standardwebhooks.HeaderTimestamp, standardwebhooks.HeaderSignature,
		strings.ToLower(headerRule), strings.ToLower(headerTest):
		return true
	}
	return false
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters other than horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// LinkLocal reports whether ip is a link-local or cloud metadata address
// (see Config.AllowLinkLocal); IPv4-mapped IPv6 addresses count as their
// IPv4 address.
func LinkLocal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() {
		return true
	}
	switch ip {
	case netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("100.100.100.200"):
		return true
	}
	return false
}
