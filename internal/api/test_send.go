package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/router"
)

// SendTestRequest is the body of POST /api/v1/test/send: render one rule
// (saved, by name, or unsaved) on a message and send one target's
// notification, marked as a test.
type SendTestRequest struct {
	Message json.RawMessage `json:"message"`
	Source  string          `json:"source,omitempty"`
	// RuleName names a saved rule; Rule is an unsaved one (wins).
	RuleName string     `json:"rule_name,omitempty"`
	Rule     *RuleInput `json:"rule,omitempty"`
	// To is the channel (one of the rule's targets; default the first).
	To string `json:"to,omitempty"`
	// EmailTo is the only recipient of an email test: never the message's
	// or the channel's addresses.
	EmailTo string `json:"email_to,omitempty"`
}

// sendTestInterval is the least time between two test sends.
const sendTestInterval = time.Second

// testSender spaces test sends, so that a stuck key or a script cannot
// flood a channel.
type testSender struct {
	mu   sync.Mutex
	last time.Time
}

func (s *testSender) allow(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.last) < sendTestInterval {
		return false
	}
	s.last = now
	return true
}

func (a *API) sendTest(w http.ResponseWriter, r *http.Request) {
	var req SendTestRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be {"message": {…}, "rule_name" | "rule", "to", "email_to"}`)
		return
	}
	var data map[string]any
	if err := json.Unmarshal(req.Message, &data); err != nil || data == nil {
		writeError(w, http.StatusBadRequest, "message is not a JSON object")
		return
	}
	rs, name := a.o.Reload.Current(), req.RuleName
	if req.Rule != nil {
		rc := req.Rule.Config()
		compiled, herr := a.compileUnsaved(rc)
		if herr != nil {
			writeHTTPError(w, herr)
			return
		}
		defer compiled.Close()
		rs, name = compiled, rc.Name
	}
	src := req.Source
	if src == "" {
		src = "test"
	}
	msg := &router.Message{ID: "test-" + router.NewMessageID(), Source: src, ReceivedAt: a.o.Now(), Body: req.Message, Data: data}
	outs, ok := rs.RenderRule(name, msg)
	if !ok {
		writeHTTPError(w, &httpError{code: http.StatusUnprocessableEntity, msg: fmt.Sprintf("no rule named %q", name),
			details: []ErrorDetail{{Field: "rule_name", Message: fmt.Sprintf("no rule named %q", name)}}})
		return
	}
	var out *router.Outgoing
	for i := range outs {
		if req.To == "" || outs[i].Channel == req.To {
			out = &outs[i]
			break
		}
	}
	if out == nil {
		writeHTTPError(w, &httpError{code: http.StatusUnprocessableEntity, msg: fmt.Sprintf("rule %q does not send to %q", name, req.To),
			details: []ErrorDetail{{Field: "to", Message: fmt.Sprintf("rule %q does not send to %q", name, req.To)}}})
		return
	}
	if out.Err != nil {
		writeHTTPError(w, &httpError{code: http.StatusUnprocessableEntity, msg: out.Err.Error(),
			details: []ErrorDetail{{Rule: name, Field: "send", Message: out.Err.Error()}}})
		return
	}
	ch, ok := rs.Channels[out.Channel]
	if !ok || ch.Notifier == nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("channel %q is not usable (check its settings)", out.Channel))
		return
	}
	d := out.Notification
	d.Test = true
	if ch.Descriptor != nil && ch.Descriptor.TestRecipient {
		addr, err := mail.ParseAddress(strings.TrimSpace(req.EmailTo))
		if err != nil {
			writeHTTPError(w, &httpError{code: http.StatusUnprocessableEntity, msg: "email_to: give the one address the test goes to",
				details: []ErrorDetail{{Field: "email_to", Message: "give the one address the test goes to (it never goes to the message's or the channel's recipients)"}}})
			return
		}
		d.Parts.To, d.Parts.Cc = []string{addr.Address}, nil
	}
	if !a.tests.allow(a.o.Now()) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "one test send per second")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), ch.Timeout)
	err := ch.Notifier.Notify(ctx, d)
	cancel()
	attrs := []any{"rule", name, "channel", out.Channel, "delivery", d.ID}
	if err != nil {
		reason := rs.Scrub(err.Error())
		a.o.Logger.Warn("test notification failed", append(attrs, "error", reason)...)
		code := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusGatewayTimeout
		}
		writeError(w, code, "the channel refused the test: "+reason)
		return
	}
	a.o.Logger.Info("test notification sent", attrs...)
	p := d.Parts
	p.Path, p.Headers = "", nil
	writeJSON(w, http.StatusOK, map[string]any{
		"sent": true, "rule": name, "channel": out.Channel, "channel_type": out.Kind, "parts": PartsMap(out.Kind, p),
	})
}
