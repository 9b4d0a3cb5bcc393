package notifiers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
)

// NewHTTPClient returns a client for one channel: its own transport (so
// Close releases only its connections), timeout bounding each attempt
// (10s when zero), and no redirects followed — a redirect could carry a
// credential to another host, so it is answered as the status it is.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var transport *http.Transport
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		transport = t.Clone()
	} else {
		transport = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// maxAnswer bounds how much of a peer's answer is read.
const maxAnswer = 64 << 10

// Answer is a peer's reply to PostJSON: its status, headers and the start
// of its body.
type Answer struct {
	Code   int
	Header http.Header
	Body   []byte
}

// PostJSON posts body as JSON to rawURL with the extra headers and reads
// the answer (at most 64 KiB of it). The error is a transport error
// (network, timeout, a cancelled ctx): the caller classifies the Answer.
func PostJSON(ctx context.Context, client *http.Client, rawURL string, body []byte, headers map[string]string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	Drain(resp.Body)
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The peer said yes; a cut answer body does not change that.
		err = nil
	}
	return Answer{Code: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// ClassifyStatus turns a non-2xx status into the error the delivery
// worker understands, like CheckResponse: 429 and 503 with a delay
// (retryAfter, from a Retry-After header or the peer's body) are a
// RetryAfterError; 408, 429 and 5xx are transient; anything else is
// permanent. msg is the peer's own account of the problem, kept short.
func ClassifyStatus(code int, retryAfter time.Duration, hasRetryAfter bool, msg string) error {
	msg = strings.TrimSpace(msg)
	if len(msg) > maxErrorBody {
		msg = msg[:maxErrorBody] + "…"
	}
	err := &StatusError{Code: code, Body: msg}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if hasRetryAfter {
			return &RetryAfterError{After: retryAfter, Err: err}
		}
		return err
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	default:
		return Permanent(err)
	}
}

// ScrubbedError has a message free of secrets and keeps the chain it came
// from, so that errors.As still finds the classification.
type ScrubbedError struct {
	msg string
	err error
}

func (e *ScrubbedError) Error() string { return e.msg }
func (e *ScrubbedError) Unwrap() error { return e.err }

// Scrub returns err as op + ": " + err's text, with the URL of every
// *url.Error in the chain cut to its scheme and host (a webhook URL is a
// credential as a whole) and every secret removed from the text and from
// a StatusError's body. The chain is kept for errors.As.
func Scrub(op string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch x := e.(type) {
		case *url.Error:
			x.URL = hostOnly(x.URL)
		case *StatusError:
			x.Body = secret.Scrub(x.Body, secrets...)
		}
	}
	return &ScrubbedError{msg: secret.Scrub(op+": "+err.Error(), secrets...), err: err}
}

// hostOnly keeps what helps to diagnose a failed request without the
// credential: the scheme and host of raw.
func hostOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return secret.Redacted
	}
	return u.Scheme + "://" + u.Host + "/" + secret.Redacted
}

// URLSecrets lists the parts of a credential-bearing URL that must never
// appear in an error: the whole URL, its path (with and without the
// leading "/"), its query and its password.
func URLSecrets(raw string) []string {
	s := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return s
	}
	if len(u.Path) > 1 {
		s = append(s, u.Path, strings.TrimPrefix(u.Path, "/"))
	}
	if u.RawQuery != "" {
		s = append(s, u.RawQuery)
	}
	if p, ok := u.User.Password(); ok {
		s = append(s, p)
	}
	return s
}

// CheckHTTPURL returns what is wrong with raw as an http(s) URL, or "".
// The message never quotes raw: the URL may be a credential.
func CheckHTTPURL(raw string) string {
	if strings.TrimSpace(raw) != raw {
		return "has leading or trailing white space"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must be an http or https URL"
	}
	if u.Host == "" {
		return "must name a host"
	}
	return ""
}

// Poster is what a notifier posting JSON to one service holds besides
// its settings: its own client, the secrets its errors are scrubbed of,
// and its clock. Embedded in the notifier, it gives it Close.
type Poster struct {
	client  *http.Client
	secrets []string
	now     func() time.Time
}

var _ Closer = (*Poster)(nil)

// NewPoster returns a Poster with a client for o.Timeout (NewHTTPClient)
// whose errors never show secrets.
func NewPoster(o Options, secrets ...string) Poster {
	return Poster{client: NewHTTPClient(o.Timeout), secrets: secrets, now: time.Now}
}

// Close closes the client's idle connections.
func (p *Poster) Close() error {
	p.client.CloseIdleConnections()
	return nil
}

// Now is the time on the poster's clock.
func (p *Poster) Now() time.Time { return p.now() }

// Post posts body as JSON to rawURL (PostJSON); a transport error comes
// back scrubbed, as op. The caller checks the answer's status (OK).
func (p *Poster) Post(ctx context.Context, op, rawURL string, body []byte, headers map[string]string) (Answer, error) {
	a, err := PostJSON(ctx, p.client, rawURL, body, headers)
	if err != nil {
		return Answer{}, p.Scrub(op, err)
	}
	return a, nil
}

// Refused is the error for a's non-2xx status (ClassifyStatus), scrubbed,
// as op: msg is the peer's account of the problem; bodyAfter a delay the
// peer asked for in its body, used when longer than its Retry-After.
func (p *Poster) Refused(op string, a Answer, msg string, bodyAfter time.Duration) error {
	after, has := ParseRetryAfter(a.Header.Get("Retry-After"), p.now())
	if bodyAfter > after {
		after, has = bodyAfter, true
	}
	return p.Scrub(op, ClassifyStatus(a.Code, after, has, msg))
}

// Scrub removes the poster's secrets from err, as op (Scrub).
func (p *Poster) Scrub(op string, err error) error { return Scrub(op, err, p.secrets...) }

// OK reports whether the peer took the request (a 2xx status).
func (a Answer) OK() bool { return a.Code >= 200 && a.Code < 300 }
