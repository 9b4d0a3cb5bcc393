package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/backtest"
	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/router"
)

// DefaultBacktestTimeout bounds one backtest request.
const DefaultBacktestTimeout = 30 * time.Second

// maxBacktestWindow is the longest window a backtest request may ask for.
const maxBacktestWindow = 90 * 24 * time.Hour

// BacktestRequest is the body of POST /api/v1/backtest. The candidate is
// the current rules file with one change — Rule added (or replacing the
// rule named Original, else the rule of its name), or Delete removed — or
// a whole file in Rules. With Only, the report shows what that rule alone
// (of the candidate) would have sent, compared with nothing.
type BacktestRequest struct {
	Rule     *RuleInput `json:"rule,omitempty"`
	Original string     `json:"original,omitempty"`
	Delete   string     `json:"delete,omitempty"`
	Rules    string     `json:"rules,omitempty"`
	Only     string     `json:"only,omitempty"`
	// Since (default 7d), or From and To (RFC 3339), select the messages,
	// with Source, Type and Limit.
	Since  string `json:"since,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Source string `json:"source,omitempty"`
	Type   string `json:"type,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

func (a *API) backtest(w http.ResponseWriter, r *http.Request) {
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no store: backtests replay stored messages")
		return
	}
	var req BacktestRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON object: "+err.Error())
		return
	}
	now := time.Now()
	f, herr := window(req.Since, req.From, req.To, now)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	f.Source, f.Type, f.Limit = req.Source, req.Type, req.Limit
	cand, herr := a.candidate(req)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	defer cand.Close()
	o := backtest.Options{Candidate: cand, Filter: f, Now: func() time.Time { return now }}
	if req.Only != "" {
		if _, ok := cand.Rule(req.Only); !ok {
			writeError(w, http.StatusNotFound, "no rule named "+strconv.Quote(req.Only))
			return
		}
		o.Only = req.Only
	} else {
		o.Current = a.o.Reload.Current()
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.backtestTimeout())
	defer cancel()
	rep, err := backtest.Run(ctx, backtest.Stored{R: a.o.Store.MessageReader()}, o)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "the backtest took longer than "+a.backtestTimeout().String()+": narrow the window (since, from/to, type or limit)")
		return
	case errors.Is(err, context.Canceled):
		return // the client went away
	case err != nil:
		a.o.Logger.Error("backtest failed", "error", err)
		writeError(w, http.StatusServiceUnavailable, "read messages: the store is unavailable")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (a *API) backtestTimeout() time.Duration {
	if a.o.BacktestTimeout > 0 {
		return a.o.BacktestTimeout
	}
	return DefaultBacktestTimeout
}

// window reads a request's time bounds: since (default 7d) or from/to.
func window(since, from, to string, now time.Time) (backtest.Filter, *httpError) {
	bad := func(msg string) (backtest.Filter, *httpError) {
		return backtest.Filter{}, &httpError{code: http.StatusBadRequest, msg: msg}
	}
	var f backtest.Filter
	switch {
	case from != "":
		t, err := time.Parse(time.RFC3339Nano, from)
		if err != nil {
			return bad("from: want an RFC 3339 time such as 2026-12-01T09:00:00Z")
		}
		f.From = t
	default:
		if since == "" {
			since = "7d"
		}
		d, err := parseSince(since)
		if err != nil {
			return bad("since: " + err.Error())
		}
		f.From = now.Add(-d)
	}
	f.To = now
	if to != "" {
		t, err := time.Parse(time.RFC3339Nano, to)
		if err != nil {
			return bad("to: want an RFC 3339 time such as 2026-12-01T09:00:00Z")
		}
		f.To = t
	}
	if !f.To.After(f.From) {
		return bad("the window is empty: to must be after from")
	}
	if f.To.Sub(f.From) > maxBacktestWindow {
		return bad("the window is longer than 90 days")
	}
	return f, nil
}

// parseSince reads 7d, 24h, 90m or 1d12h.
func parseSince(s string) (time.Duration, error) {
	days := 0
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, errors.New("want a duration such as 7d, 24h or 90m")
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, errors.New("want a duration such as 7d, 24h or 90m")
		}
		rest = d
	}
	d := time.Duration(days)*24*time.Hour + rest
	if d <= 0 {
		return 0, errors.New("want a positive duration such as 7d, 24h or 90m")
	}
	return d, nil
}

// candidate compiles the configuration a request describes, in a
// temporary copy next to nothing (the current templates apply). Nothing
// is written next to the rules file.
func (a *API) candidate(req BacktestRequest) (*router.Ruleset, *httpError) {
	o := a.o.Reload.Options()
	var src []byte
	switch {
	case req.Rules != "":
		if req.Rule != nil || req.Delete != "" {
			return nil, &httpError{code: http.StatusBadRequest, msg: "give rules, or rule or delete, not both"}
		}
		src = []byte(req.Rules)
	case req.Rule != nil || req.Delete != "" || req.Only != "":
		cur, err := os.ReadFile(o.RulesPath)
		if err != nil {
			return nil, &httpError{code: http.StatusInternalServerError, msg: "read rules file: " + err.Error()}
		}
		f, err := rulesfile.Parse(cur)
		if err != nil {
			return nil, editFailed(err, "")
		}
		switch {
		case req.Rule != nil && req.Delete != "":
			return nil, &httpError{code: http.StatusBadRequest, msg: "give rule or delete, not both"}
		case req.Rule != nil:
			rc := req.Rule.Config()
			name := req.Original
			if name == "" {
				name = rc.Name
			}
			if f.Has(name) {
				src, err = f.Replace(name, rc)
			} else {
				src, err = f.Append(rc)
			}
			if err != nil {
				return nil, editFailed(err, rc.Name)
			}
		case req.Delete != "":
			if src, err = f.Delete(req.Delete); err != nil {
				return nil, editFailed(err, req.Delete)
			}
		default:
			src = cur
		}
	default:
		return nil, &httpError{code: http.StatusBadRequest, msg: "give rule, delete, rules or only"}
	}
	dir, err := os.MkdirTemp("", "switchboard-backtest-")
	if err != nil {
		return nil, &httpError{code: http.StatusInternalServerError, msg: "create temp directory: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	o.RulesPath = filepath.Join(dir, filepath.Base(o.RulesPath))
	if err := os.WriteFile(o.RulesPath, src, 0o600); err != nil {
		return nil, &httpError{code: http.StatusInternalServerError, msg: "write temp file: " + err.Error()}
	}
	o.DryRun = true // the candidate never sends: its notifiers only log
	rs, _, err := router.Load(o)
	if err != nil {
		ds := []config.Diagnostic{{Message: err.Error()}}
		var le *config.LoadError
		if errors.As(err, &le) {
			ds = le.Errors()
		}
		return nil, invalid(ds)
	}
	return rs, nil
}

// unmatched answers GET /api/v1/unmatched?since=24h: the received
// messages no current rule matches, by type.
func (a *API) unmatched(w http.ResponseWriter, r *http.Request) {
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no store")
		return
	}
	q := r.URL.Query()
	since := q.Get("since")
	if since == "" {
		since = "24h"
	}
	f, herr := window(since, q.Get("from"), q.Get("to"), time.Now())
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	f.Source, f.Type = q.Get("source"), q.Get("type")
	ctx, cancel := context.WithTimeout(r.Context(), a.backtestTimeout())
	defer cancel()
	rep, err := backtest.Unmatched(ctx, backtest.Stored{R: a.o.Store.MessageReader()}, a.o.Reload.Current(), f)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "counting took longer than "+a.backtestTimeout().String()+": narrow the window")
		return
	case errors.Is(err, context.Canceled):
		return
	case err != nil:
		a.o.Logger.Error("unmatched failed", "error", err)
		writeError(w, http.StatusServiceUnavailable, "read messages: the store is unavailable")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
