package webhook

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/standardwebhooks"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// DefaultContentType is sent when neither the template nor the configured
// headers give a Content-Type.
const DefaultContentType = "application/json"

// UserAgent is the User-Agent of every request unless the configuration
// sets one.
const UserAgent = "Switchboard"

// Notifier sends deliveries as HTTP requests to one configured receiver.
// It is safe for concurrent use.
type Notifier struct {
	client      *nethttp.Client
	method      string
	base        string
	host        string
	defaultPath string
	headers     nethttp.Header
	key         standardwebhooks.Key
	// secrets are the values scrubbed from every error text.
	secrets []string
}

var _ notifiers.Notifier = (*Notifier)(nil)
var _ notifiers.Closer = (*Notifier)(nil)

// New validates c and builds its notifier. The notifier has its own
// connection pool; Close releases it.
//
// Proxies from the environment (HTTP_PROXY, HTTPS_PROXY) are not used:
// the receiver is exactly the configured host, and a proxy URL in the
// environment could carry credentials into error texts.
func New(c Config, o notifiers.Options) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	method, _ := parseMethod(c.Method)
	base := c.Base()
	u, err := url.Parse(base)
	if err != nil { // unreachable after Validate; never quote the URL
		return nil, errors.New("url: not a valid URL")
	}

	n := &Notifier{
		method:      method,
		base:        base,
		host:        u.Host,
		defaultPath: c.PathTemplate(),
		headers:     nethttp.Header{"User-Agent": {UserAgent}},
	}
	if u.User != nil {
		n.secrets = append(n.secrets, u.User.Username())
		pw, _ := u.User.Password()
		if pw != "" {
			n.secrets = append(n.secrets, pw)
		}
		// A receiver may echo the Authorization header net/http derives
		// from the userinfo.
		n.secrets = append(n.secrets, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	if full, err := url.Parse(base + withoutActions(n.defaultPath)); err == nil && full.RawQuery != "" {
		n.secrets = append(n.secrets, full.RawQuery)
		for _, vs := range full.Query() {
			n.secrets = append(n.secrets, vs...)
		}
	}
	for k, v := range c.Headers {
		if strings.Contains(v.Reveal(), "{{") {
			// A template: the router renders it into Parts.Headers.
			continue
		}
		n.headers.Set(k, v.Reveal())
		n.secrets = append(n.secrets, headerSecrets(v.Reveal())...)
	}
	if !c.SigningSecret.IsZero() {
		n.key, _ = standardwebhooks.ParseKey(c.SigningSecret.Reveal())
		s := c.SigningSecret.Reveal()
		n.secrets = append(n.secrets, s, strings.TrimPrefix(s, "whsec_"))
	}

	// Notify appends per-delivery values: make that always copy.
	n.secrets = slices.Clip(n.secrets)

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !c.AllowLinkLocal {
		dialer.Control = refuseLinkLocal
	}
	n.client = &nethttp.Client{
		Timeout: timeout,
		Transport: &nethttp.Transport{
			Proxy:                  nil, // see the doc comment of New
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    timeout,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           256,
			MaxIdleConnsPerHost:    128, // thousands of deliveries a second go to one receiver
			IdleConnTimeout:        90 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		// A redirect could aim the request, its headers and its signature
		// at another (internal) address: never follow one. The 3xx is
		// returned as is and is a permanent failure.
		CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error {
			return nethttp.ErrUseLastResponse
		},
	}
	return n, nil
}

// Notify sends d.Parts.Body to the configured URL (its path and query
// replaced by d.Parts.Path when set) with the configured headers, the
// rendered header overrides, webhook-id set to d.ID and, with a signing
// secret, Standard Webhooks signature headers.
//
// A 2xx answer is success; 408, 429, 5xx and network errors are
// transient (honouring Retry-After on 429 and 503); any other answer,
// redirects included, is permanent.
func (n *Notifier) Notify(ctx context.Context, d notifiers.Notification) error {
	secrets := n.secrets
	for _, v := range d.Parts.Headers {
		secrets = append(secrets, headerSecrets(v)...)
	}
	err := n.notify(ctx, d)
	if err == nil {
		return nil
	}
	return scrub(fmt.Errorf("send webhook: %w", err), secrets)
}

func (n *Notifier) notify(ctx context.Context, d notifiers.Notification) error {
	path := d.Parts.Path
	if path == "" {
		if strings.Contains(n.defaultPath, "{{") {
			return notifiers.Permanent(errors.New("url path template was not rendered"))
		}
		path = n.defaultPath
	}
	if !strings.HasPrefix(path, "/") {
		return notifiers.Permanent(errors.New("rendered url path does not start with /"))
	}
	if hasDotSegment(path) {
		// A value such as ".." would let a message reach another resource
		// on a receiver that normalises paths.
		return notifiers.Permanent(errors.New("rendered url path has a . or .. segment"))
	}
	target, err := url.Parse(n.base + path)
	if err != nil || target.Host != n.host {
		// Never echo the URL: its query may carry credentials.
		return notifiers.Permanent(errors.New("rendered url path is not valid in a URL"))
	}

	req, err := nethttp.NewRequestWithContext(ctx, n.method, n.base, strings.NewReader(d.Parts.Body))
	if err != nil {
		return notifiers.Permanent(errors.New("build request"))
	}
	req.URL = target
	req.Host = ""

	h := n.headers.Clone()
	req.Header = h
	for k, v := range d.Parts.Headers {
		if !validHeaderName(k) || isReserved(k) {
			return notifiers.Permanent(fmt.Errorf("header %q cannot be set", k))
		}
		if !validHeaderValue(v) {
			return notifiers.Permanent(fmt.Errorf("header %s: rendered value contains control characters", k))
		}
		h.Set(k, v)
	}
	switch {
	case d.Parts.ContentType != "":
		if !validHeaderValue(d.Parts.ContentType) {
			return notifiers.Permanent(errors.New("rendered content type contains control characters"))
		}
		h.Set("Content-Type", d.Parts.ContentType)
	case h.Get("Content-Type") == "":
		h.Set("Content-Type", DefaultContentType)
	}
	if d.ID == "" || !validHeaderValue(d.ID) {
		return notifiers.Permanent(errors.New("delivery has no valid ID"))
	}
	h.Set(standardwebhooks.HeaderID, d.ID)
	if n.key != nil {
		now := time.Now()
		h.Set(standardwebhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(standardwebhooks.HeaderSignature, n.key.Sign(d.ID, now, []byte(d.Parts.Body)))
	}
	if validHeaderValue(d.Rule) && d.Rule != "" {
		h.Set(headerRule, d.Rule)
	}
	if d.Test {
		h.Set(headerTest, "true")
	}

	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = secret.RedactURL(ue.URL)
		}
		if errors.Is(err, errLinkLocal) {
			return notifiers.Permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	err = notifiers.CheckResponse(resp, time.Now())
	if err != nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("redirects are not followed: %w", err)
	}
	return err
}

// Close releases the notifier's idle connections. Requests in flight are
// not interrupted.
func (n *Notifier) Close() error {
	n.client.CloseIdleConnections()
	return nil
}

// headerSecrets lists what to scrub for one header value: the whole value
// and each long word of it (the token of "Bearer <token>"), since a
// receiver may echo either in an error body.
func headerSecrets(v string) []string {
	out := []string{v}
	if f := strings.Fields(v); len(f) > 1 {
		for _, w := range f {
			if len(w) >= 8 {
				out = append(out, w)
			}
		}
	}
	return out
}

// scrub removes secrets from err's text while keeping what the delivery
// worker reads through errors.As and errors.Is (permanent marker,
// Retry-After, status code, timeouts).
func scrub(err error, secrets []string) error {
	var se *notifiers.StatusError
	if errors.As(err, &se) {
		se.Body = secret.Scrub(se.Body, secrets...)
	}
	msg := err.Error()
	if clean := secret.Scrub(msg, secrets...); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError is err with secrets removed from its text.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// hasDotSegment reports whether the path part of p has a "." or ".."
// segment, literally or percent-encoded.
func hasDotSegment(p string) bool {
	p, _, _ = strings.Cut(p, "?")
	for _, seg := range strings.Split(p, "/") {
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// errLinkLocal is the dial error for a refused link-local address.
var errLinkLocal = errors.New("refused: a link-local or cloud metadata address (set allow_link_local: true on the channel to allow it)")

// refuseLinkLocal is the dialer's Control: it runs on the resolved
// address, so a host name that resolves to a metadata address (or is
// rebound to one) is refused as well.
func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	if LinkLocal(ap.Addr()) {
		return fmt.Errorf("connect to %s: %w", ap.Addr(), errLinkLocal)
	}
	return nil
}
