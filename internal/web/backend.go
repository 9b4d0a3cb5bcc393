package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/secret"
)

// backend calls the admin API in process, with the admin token: the editor
// saves through exactly the validated, comment-keeping path the JSON API
// offers, and sees the same status codes (409 stale, 422 invalid).
type backend struct {
	h     http.Handler
	token secret.String
}

// apiError is one error of a 422 answer.
type apiError struct {
	Rule    string `json:"rule"`
	Field   string `json:"field"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// apiReply is an admin API answer.
type apiReply struct {
	Code int
	Body []byte
	// Message is the answer's "error" field, if any.
	Message string
	// Errors are the 422 errors, if any.
	Errors []apiError
}

func (r apiReply) ok() bool { return r.Code >= 200 && r.Code < 300 }

func (b *backend) call(ctx context.Context, method, path, ifMatch string, body any) (apiReply, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return apiReply{}, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The path is escaped (a rule name may hold any character the API
	// allows); the query after "?" is kept as written.
	p, q, _ := strings.Cut(path, "?")
	req, err := http.NewRequestWithContext(ctx, method, (&url.URL{Path: p, RawQuery: q}).String(), rd)
	if err != nil {
		return apiReply{}, fmt.Errorf("build request: %w", err)
	}
	req.Host = "switchboard.internal"
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+b.token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	out := apiReply{Code: rec.Code, Body: rec.Body.Bytes()}
	if !out.ok() {
		var e struct {
			Error  string     `json:"error"`
			Errors []apiError `json:"errors"`
		}
		if json.Unmarshal(out.Body, &e) == nil {
			out.Message, out.Errors = e.Error, e.Errors
		}
	}
	return out, nil
}

// rulesList is GET /api/v1/rules.
type rulesList struct {
	Version string         `json:"version"`
	Rules   []api.RuleJSON `json:"rules"`
}

func (b *backend) rules(ctx context.Context) (rulesList, error) {
	var out rulesList
	rep, err := b.call(ctx, http.MethodGet, "/api/v1/rules", "", nil)
	if err != nil {
		return out, err
	}
	if !rep.ok() {
		return out, fmt.Errorf("list rules: %d %s", rep.Code, rep.Message)
	}
	if err := json.Unmarshal(rep.Body, &out); err != nil {
		return out, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

// writable reports whether the backend can write the rules file, from
// GET /api/v1/status; true when the status does not say.
func (b *backend) writable(ctx context.Context) bool {
	rep, err := b.call(ctx, http.MethodGet, "/api/v1/status", "", nil)
	if err != nil || !rep.ok() {
		return true
	}
	var st struct {
		Writable *bool `json:"writable"`
	}
	if json.Unmarshal(rep.Body, &st) != nil || st.Writable == nil {
		return true
	}
	return *st.Writable
}

// testRequest is POST /api/v1/test with an unsaved rule.
type testRequest struct {
	Message json.RawMessage `json:"message"`
	Rule    *api.RuleJSON   `json:"rule,omitempty"`
}

func (b *backend) test(ctx context.Context, msg json.RawMessage, rule api.RuleJSON) (api.TestResult, apiReply, error) {
	var res api.TestResult
	rep, err := b.call(ctx, http.MethodPost, "/api/v1/test", "", testRequest{Message: msg, Rule: &rule})
	if err != nil || !rep.ok() {
		return res, rep, err
	}
	if err := json.Unmarshal(rep.Body, &res); err != nil {
		return res, rep, fmt.Errorf("test rule: %w", err)
	}
	return res, rep, nil
}
