package testpeer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SlackWebhookPath is the incoming-webhook path that SlackServer.WebhookURL
// returns. Any path under /services/ is accepted as a webhook.
const SlackWebhookPath = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"

// SlackRequest is one request SlackServer received, decoded.
type SlackRequest struct {
	// Method and Path are the request's method and URL path.
	Method string
	Path   string
	// Header holds the request headers.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// Form holds the fields of a form-encoded body (chat.postMessage as
	// slack-go sends it: token, channel, text, blocks as a JSON string).
	Form url.Values
	// JSON is a JSON object body (incoming webhooks), decoded.
	JSON map[string]any
	// At is when the server received the request, by its clock (SetNow).
	At time.Time
	// OK is true when the server answered success.
	OK bool
}

// IsWebhook reports whether the request went to an incoming-webhook path.
func (r SlackRequest) IsWebhook() bool { return strings.HasPrefix(r.Path, "/services/") }

// APIMethod returns the Web API method the request called
// ("chat.postMessage"), or "" for a webhook.
func (r SlackRequest) APIMethod() string {
	m, ok := strings.CutPrefix(r.Path, "/api/")
	if !ok {
		return ""
	}
	return m
}

// Token returns the token the request authenticated with: the form's token
// field or the Authorization bearer token.
func (r SlackRequest) Token() string {
	if t := r.Form.Get("token"); t != "" {
		return t
	}
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return t
}

// Channel returns the channel the message was posted to ("" for webhooks
// that do not name one).
func (r SlackRequest) Channel() string {
	if r.Form != nil {
		return r.Form.Get("channel")
	}
	s, _ := r.JSON["channel"].(string)
	return s
}

// Text returns the message text, whichever way it was sent.
func (r SlackRequest) Text() string {
	if r.Form != nil {
		return r.Form.Get("text")
	}
	s, _ := r.JSON["text"].(string)
	return s
}

// Blocks returns the message's Block Kit blocks as compact JSON, or nil when
// the message had none.
func (r SlackRequest) Blocks() json.RawMessage {
	var raw []byte
	switch {
	case r.Form != nil && r.Form.Get("blocks") != "":
		raw = []byte(r.Form.Get("blocks"))
	case r.JSON["blocks"] != nil:
		b, err := json.Marshal(r.JSON["blocks"])
		if err != nil {
			return nil
		}
		raw = b
	default:
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return json.RawMessage(raw)
	}
	return buf.Bytes()
}

// ThreadTS returns the thread_ts a chat.postMessage replied in ("" for a
// message that starts no thread).
func (r SlackRequest) ThreadTS() string { return r.field("thread_ts") }

// TS returns the ts of the message a chat.update edits.
func (r SlackRequest) TS() string { return r.field("ts") }

// Broadcast reports whether a thread reply is also shown in the channel
// (reply_broadcast).
func (r SlackRequest) Broadcast() bool { return r.field("reply_broadcast") == "true" }

// PostedTS returns the ts the server answered a chat.postMessage with.
func (r SlackRequest) PostedTS() string { return r.Header.Get(postedTSHeader) }

func (r SlackRequest) field(name string) string {
	if r.Form != nil {
		return r.Form.Get(name)
	}
	switch v := r.JSON[name].(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// postedTSHeader is where a recorded request keeps the ts its answer gave.
const postedTSHeader = "X-Testpeer-Posted-Ts"

// SlackChannelID is the conversation ID the server answers for every
// channel, as Slack answers an ID for a "#name".
const SlackChannelID = "C0SWITCHBD"

// SlackReply is a scripted reply. The zero value is a success.
type SlackReply struct {
	// Error, when set, is a Slack error code: the Web API answers
	// {"ok":false,"error":Error} with 200; a webhook answers the code as
	// plain text with the status Slack uses for it (404 for
	// channel_not_found, 403 for invalid_token, 400 otherwise) unless Status
	// is set.
	Error string
	// Status, when set, is the HTTP status to answer with.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Body, when set, replaces the body the reply would have.
	Body string
	// Hang makes the server answer nothing until the request's context ends
	// (the client gave up) or the server is closed.
	Hang bool
}

// SlackOK is a successful reply.
func SlackOK() SlackReply { return SlackReply{} }

// SlackError is an ok:false reply with the given Slack error code.
func SlackError(code string) SlackReply { return SlackReply{Error: code} }

// SlackRateLimited is a 429 with Retry-After set to retryAfter (seconds, or
// empty for none).
func SlackRateLimited(retryAfter string) SlackReply {
	return SlackReply{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Body: "ratelimited"}
}

// SlackStatus is a bare reply with the given HTTP status.
func SlackStatus(code int) SlackReply {
	return SlackReply{Status: code, Body: http.StatusText(code)}
}

// SlackHang is a reply that never comes: the server waits until the client
// gives up.
func SlackHang() SlackReply { return SlackReply{Hang: true} }

// SlackServer stands in for Slack's Web API (/api/…) and incoming webhooks
// (/services/…) on 127.0.0.1. It records every request and answers with the
// replies queued by Reply, in order, then with success. All methods are safe
// to call from any goroutine.
type SlackServer struct {
	srv     *httptest.Server
	closing chan struct{}

	mu       sync.Mutex
	posts    int // chat.postMessage calls answered ok, for unique ts
	requests []SlackRequest
	replies  []SlackReply
	token    string
	now      func() time.Time
	changed  chan struct{} // closed and replaced whenever a request is recorded
}

// NewSlack starts a SlackServer; t.Cleanup closes it.
func NewSlack(t testing.TB) *SlackServer {
	t.Helper()
	s := &SlackServer{closing: make(chan struct{}), changed: make(chan struct{}), now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the server's base URL (http://127.0.0.1:port).
func (s *SlackServer) URL() string { return s.srv.URL }

// APIURL is the Web API base URL, with the trailing slash slack-go needs.
func (s *SlackServer) APIURL() string { return s.srv.URL + "/api/" }

// WebhookURL is an incoming-webhook URL served by s.
func (s *SlackServer) WebhookURL() string { return s.srv.URL + SlackWebhookPath }

// RequireToken makes Web API calls whose token is not token fail with
// invalid_auth, as Slack does. The default accepts any token.
func (s *SlackServer) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetNow sets the clock that stamps each request's At (default
// time.Now), e.g. a test's injected clock.
func (s *SlackServer) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Reply queues replies for the next requests, in order. Once the queue is
// empty every request succeeds.
func (s *SlackServer) Reply(replies ...SlackReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// Requests returns a copy of every request received so far.
func (s *SlackServer) Requests() []SlackRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackRequest(nil), s.requests...)
}

// Len returns how many requests the server has received.
func (s *SlackServer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// WaitFor waits until the server has received at least n requests, or
// timeout has passed, and returns the requests received so far. The error
// says how many arrived when fewer than n did.
func (s *SlackServer) WaitFor(n int, timeout time.Duration) ([]SlackRequest, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.requests) >= n {
			reqs := append([]SlackRequest(nil), s.requests...)
			s.mu.Unlock()
			return reqs, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			reqs := s.Requests()
			if len(reqs) >= n {
				return reqs, nil
			}
			return reqs, fmt.Errorf("slack peer: got %d requests after %s, want %d", len(reqs), timeout, n)
		}
	}
}

// Close releases hanging requests and shuts the server down. It is safe to
// call more than once.
func (s *SlackServer) Close() {
	s.mu.Lock()
	select {
	case <-s.closing:
		s.mu.Unlock()
		return
	default:
		close(s.closing)
	}
	s.mu.Unlock()
	s.srv.Close()
}

func (s *SlackServer) serve(w http.ResponseWriter, r *http.Request) {
	rec := SlackRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	rec.Body = body
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/x-www-form-urlencoded":
		rec.Form, _ = url.ParseQuery(string(body))
	case "application/json":
		_ = json.Unmarshal(body, &rec.JSON)
	}

	s.mu.Lock()
	reply := SlackReply{}
	if len(s.replies) > 0 {
		reply = s.replies[0]
		s.replies = s.replies[1:]
	}
	token := s.token
	rec.At = s.now()
	rec.OK = reply == (SlackReply{}) && answersOK(rec, token)
	if rec.APIMethod() == "chat.postMessage" && rec.OK {
		// Each message gets its own ts, as Slack's do.
		s.posts++
		rec.Header.Set(postedTSHeader, fmt.Sprintf("1767225600.%06d", s.posts))
	}
	s.requests = append(s.requests, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	if reply.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	switch {
	case rec.IsWebhook():
		s.webhookReply(w, reply)
	case rec.APIMethod() != "":
		if reply.Error == "" && reply.Status == 0 && token != "" && rec.Token() != token {
			reply.Error = "invalid_auth"
		}
		s.apiReply(w, rec, reply)
	default:
		http.NotFound(w, r)
	}
}

// answersOK reports whether an unscripted request succeeds: a webhook, or
// a Web API call with the right token to a method the server knows.
func answersOK(rec SlackRequest, token string) bool {
	switch {
	case rec.IsWebhook():
		return true
	case token != "" && rec.Token() != token:
		return false
	case rec.APIMethod() == "chat.update":
		return rec.TS() != ""
	}
	return rec.APIMethod() == "chat.postMessage"
}

func (s *SlackServer) apiReply(w http.ResponseWriter, rec SlackRequest, reply SlackReply) {
	body := reply.Body
	if body == "" {
		switch {
		case reply.Error != "":
			b, _ := json.Marshal(map[string]any{"ok": false, "error": reply.Error})
			body = string(b)
		case rec.APIMethod() == "chat.postMessage":
			b, _ := json.Marshal(map[string]any{"ok": true, "channel": SlackChannelID, "ts": rec.PostedTS()})
			body = string(b)
		case rec.APIMethod() == "chat.update":
			if rec.TS() == "" {
				body = `{"ok":false,"error":"message_not_found"}`
				break
			}
			b, _ := json.Marshal(map[string]any{"ok": true, "channel": rec.Channel(), "ts": rec.TS(), "text": rec.Text()})
			body = string(b)
		default:
			body = `{"ok":false,"error":"unknown_method"}`
		}
	}
	if reply.Status == 0 || reply.Status == http.StatusOK || reply.Error != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (s *SlackServer) webhookReply(w http.ResponseWriter, reply SlackReply) {
	body := reply.Body
	status := reply.Status
	if reply.Error != "" {
		if body == "" {
			body = reply.Error
		}
		if status == 0 {
			status = webhookErrorStatus(reply.Error)
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	if body == "" {
		body = "ok"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// webhookErrorStatus is the HTTP status Slack answers a webhook error code
// with.
func webhookErrorStatus(code string) int {
	switch code {
	case "channel_not_found", "no_service", "user_not_found":
		return http.StatusNotFound
	case "invalid_token", "action_prohibited", "posting_to_general_channel_denied", "no_active_hooks":
		return http.StatusForbidden
	case "channel_is_archived":
		return http.StatusGone
	case "rollup_error":
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}
