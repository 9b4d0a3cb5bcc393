package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// backend calls the admin API with the admin token: the editor saves
// through exactly the validated, comment-keeping path the JSON API offers,
// and sees the same status codes (409 stale, 422 invalid).
type backend struct {
	admin Admin
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
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return apiReply{}, fmt.Errorf("encode request: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := b.admin.Call(ctx, AdminRequest{Method: method, Path: path, IfMatch: ifMatch, Body: raw})
	if err != nil {
		return apiReply{}, err
	}
	out := apiReply{Code: rep.Code, Body: rep.Body}
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

// get reads a GET answer into out; a failed call or status is an error
// naming what was read.
func (b *backend) get(ctx context.Context, path, what string, out any) error {
	rep, err := b.call(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !rep.ok() {
		msg := rep.Message
		if msg == "" {
			msg = http.StatusText(rep.Code)
		}
		return fmt.Errorf("%s: %d %s", what, rep.Code, msg)
	}
	if err := json.Unmarshal(rep.Body, out); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// rulesList is GET /api/v1/rules.
type rulesList struct {
	Version string     `json:"version"`
	Rules   []ruleJSON `json:"rules"`
}

func (b *backend) rules(ctx context.Context) (rulesList, error) {
	var out rulesList
	err := b.get(ctx, "/api/v1/rules", "list rules", &out)
	return out, err
}

// writable reports whether the backend can write the rules file, from
// GET /api/v1/status; true when the status does not say.
func (b *backend) writable(ctx context.Context) bool {
	st, err := b.status(ctx)
	if err != nil || st.Writable == nil {
		return true
	}
	return *st.Writable
}

// testRequest is POST /api/v1/test with an unsaved rule.
type testRequest struct {
	Message json.RawMessage `json:"message"`
	Rule    *ruleJSON       `json:"rule,omitempty"`
}

func (b *backend) test(ctx context.Context, msg json.RawMessage, rule ruleJSON) (testResult, apiReply, error) {
	var res testResult
	rep, err := b.call(ctx, http.MethodPost, "/api/v1/test", "", testRequest{Message: msg, Rule: &rule})
	if err != nil || !rep.ok() {
		return res, rep, err
	}
	if err := json.Unmarshal(rep.Body, &res); err != nil {
		return res, rep, fmt.Errorf("test rule: %w", err)
	}
	return res, rep, nil
}
