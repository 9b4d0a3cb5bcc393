package api

import (
	"github.com/switchboard-dev/switchboard/config"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// author is who the history names for a save made with the admin token.
const author = "admin"

// registerEditing adds the routes that change the rules file.
func (a *API) registerEditing(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/rules", a.auth(http.HandlerFunc(a.createRule)))
	mux.Handle("PUT /api/v1/rules/{name}", a.auth(http.HandlerFunc(a.updateRule)))
	mux.Handle("DELETE /api/v1/rules/{name}", a.auth(http.HandlerFunc(a.deleteRule)))
	mux.Handle("GET /api/v1/history", a.auth(http.HandlerFunc(a.history)))
	mux.Handle("POST /api/v1/history/{id}/restore", a.auth(http.HandlerFunc(a.restore)))
	mux.Handle("GET /api/v1/history/{id}/rules/{name}", a.auth(http.HandlerFunc(a.historyRuleDiff)))
	mux.Handle("GET /api/v1/channels", a.auth(http.HandlerFunc(a.channels)))
	a.registerChannelEditing(mux)
}

// RuleInput is a rule as a client sends it: RuleJSON, except that a
// missing "enabled" means enabled.
type RuleInput struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Enabled     *bool      `json:"enabled,omitempty"`
	When        string     `json:"when"`
	Send        []SendJSON `json:"send"`
	// Throttle, Group and Schedule are kept raw: left out, an update keeps
	// the rule's; null removes them (see applyFatigue).
	Throttle json.RawMessage `json:"throttle,omitempty"`
	Group    json.RawMessage `json:"group,omitempty"`
	Schedule json.RawMessage `json:"schedule,omitempty"`
}

// Config returns the rule as the rules file holds it, without its
// alert-fatigue settings (see applyFatigue).
func (in RuleInput) Config() router.RuleConfig {
	rc := router.RuleConfig{Name: in.Name, Description: in.Description, When: in.When}
	if in.Enabled != nil && !*in.Enabled {
		off := false
		rc.Enabled = &off
	}
	for _, s := range in.Send {
		rc.Send = append(rc.Send, router.SendConfig{To: s.To, Template: s.Template, Message: s.Message})
	}
	return rc
}

func configJSON(rc router.RuleConfig) RuleJSON {
	out := RuleJSON{Name: rc.Name, Description: rc.Description, Enabled: rc.IsEnabled(), When: rc.When, Send: []SendJSON{}}
	for _, s := range rc.Send {
		out.Send = append(out.Send, SendJSON{To: s.To, Template: s.Template, Message: s.Message})
	}
	setFatigueJSON(&out, router.FatigueConfig{Throttle: rc.Throttle, Group: rc.Group, Schedule: rc.Schedule})
	return out
}

// SavedRule is the answer of a rule create or update: the rule and the
// rules file's new editing version.
type SavedRule struct {
	RuleJSON
	Version string `json:"version"`
}

// ErrorDetail is one problem of a 422 answer; positions refer to the
// candidate rules file that was refused.
type ErrorDetail struct {
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// httpError is a refusal with its status code and, for 422, the details.
type httpError struct {
	code    int
	msg     string
	details []ErrorDetail
	version string
}

func (e *httpError) Error() string { return e.msg }

func writeHTTPError(w http.ResponseWriter, e *httpError) {
	body := map[string]any{"error": e.msg}
	if e.details != nil {
		body["errors"] = e.details
	}
	if e.version != "" {
		body["version"] = e.version
	}
	writeJSON(w, e.code, body)
}

func invalid(ds []config.Diagnostic) *httpError {
	out := make([]ErrorDetail, 0, len(ds))
	for _, d := range ds {
		out = append(out, ErrorDetail{Rule: d.Rule, Field: d.Field, Line: d.Line, Column: d.Column, Message: d.Message})
	}
	msg := "the rules file would be invalid: " + out[0].Message
	if len(out) > 1 {
		msg = fmt.Sprintf("the rules file would be invalid (%d errors); first: %s", len(out), out[0].Message)
	}
	return &httpError{code: http.StatusUnprocessableEntity, msg: msg, details: out}
}

func decodeRule(r *http.Request, w http.ResponseWriter) (RuleInput, *httpError) {
	var in RuleInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, &httpError{code: http.StatusBadRequest,
			msg: "body must be a rule: {\"name\", \"description\", \"enabled\", \"when\", \"send\": [{\"to\", \"template\" | \"message\"}]}: " + err.Error()}
	}
	return in, nil
}

// ifMatch returns the version the client last read, without quotes.
func ifMatch(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// change is one edit of the rules file: it computes the new content from
// the current one, and says what the history records.
type change struct {
	action  string
	rules   []string
	summary string
	apply   func(src []byte) ([]byte, *httpError)
}

// editRules applies fn to the parsed rules file.
func editRules(fn func(f *rulesfile.File) ([]byte, *httpError)) func([]byte) ([]byte, *httpError) {
	return func(src []byte) ([]byte, *httpError) {
		f, err := rulesfile.Parse(src)
		if err != nil {
			return nil, &httpError{code: http.StatusUnprocessableEntity, msg: "the rules file cannot be edited here: " + err.Error(),
				details: []ErrorDetail{{Message: err.Error()}}}
		}
		return fn(f)
	}
}

func editFailed(err error, name string) *httpError {
	switch {
	case errors.Is(err, rulesfile.ErrNotFound):
		return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no rule named %q in the rules file", name)}
	default:
		return &httpError{code: http.StatusUnprocessableEntity, msg: err.Error(), details: []ErrorDetail{{Rule: name, Message: err.Error()}}}
	}
}

// save applies c under the save lock: it checks If-Match against the file
// on disk, writes the candidate next to the rules file, validates it with
// the server's load options, renames it into place, reloads, and records
// the save in the history. It returns the new editing version. apply may
// set c.summary.
func (a *API) save(r *http.Request, c *change) (string, *httpError) {
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	path := a.o.Reload.Options().RulesPath
	// Other processes (replicas sharing the file) take the same lock, so
	// the If-Match check and the rename below are one step for them too.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	lock, err := rulesfile.Lock(ctx, path)
	cancel()
	if errors.Is(err, rulesfile.ErrLocked) {
		return "", &httpError{code: http.StatusConflict, msg: "another save of the rules file is in progress; nothing was saved: reload and make the change again"}
	}
	if err != nil {
		return "", a.writeFailed(path, err)
	}
	defer lock.Unlock()
	src, err := os.ReadFile(path)
	if err != nil {
		return "", &httpError{code: http.StatusInternalServerError, msg: "read rules file: " + errors.Unwrap(err).Error()}
	}
	cur := rulesfile.Hash(src)
	if want := ifMatch(r); want != "" && want != cur {
		return "", &httpError{code: http.StatusConflict, version: cur,
			msg: fmt.Sprintf("the rules file changed since version %s was read (it is now %s); nothing was saved: reload and make the change again", want, cur)}
	}
	out, herr := c.apply(src)
	if herr != nil {
		return "", herr
	}
	if bytes.Equal(out, src) {
		return cur, nil
	}
	tmp, err := rulesfile.WriteTemp(path, out)
	if err != nil {
		return "", a.writeFailed(path, err)
	}
	defer tmp.Remove()
	if ds := a.validate(out); ds != nil {
		return "", invalid(ds)
	}
	// A writer that does not take the lock (a person with an editor, a
	// config sync) may have changed the file while it was validated.
	if now, err := os.ReadFile(path); err != nil || rulesfile.Hash(now) != cur {
		return "", &httpError{code: http.StatusConflict, version: rulesfile.Hash(now),
			msg: fmt.Sprintf("the rules file changed while version %s was being saved; nothing was saved: reload and make the change again", cur)}
	}
	if err := tmp.Commit(); err != nil {
		return "", a.writeFailed(path, err)
	}
	version := rulesfile.Hash(out)
	if err := a.o.Reload.Reload("saved through the admin API", true); err != nil {
		a.logger().Error("rules file saved but not applied", "error", a.o.Reload.Current().Scrub(err.Error()))
	}
	if a.o.Store != nil {
		a.recordOriginal(r.Context(), src)
		_, err := a.o.Store.RecordSave(r.Context(), store.Save{Author: author, Action: c.action, Rules: c.rules,
			Summary: c.summary, Version: version, Content: out})
		if err != nil {
			a.logger().Error("rules file saved but not recorded in the history", "error", err)
		}
	}
	return version, nil
}

func (a *API) writeFailed(path string, err error) *httpError {
	if errors.Is(err, rulesfile.ErrReadOnly) {
		return &httpError{code: http.StatusForbidden, msg: readOnlyMessage(path)}
	}
	a.logger().Error("write rules file", "error", err)
	return &httpError{code: http.StatusInternalServerError, msg: "the rules file could not be written; see the server log"}
}

func readOnlyMessage(path string) string {
	return fmt.Sprintf("the rules file is read-only here; rules are managed in %s where it comes from (a read-only mount, an immutable file or a config map): change them there", path)
}

// validate compiles the candidate rules file src with the server's
// options and returns its errors (warnings do not block), or nil.
func (a *API) validate(src []byte) []config.Diagnostic {
	o := a.o.Reload.Options()
	rs, _, err := router.Compile(o.RulesPath, src, o.TemplatesFS(), o)
	if err == nil {
		rs.Close()
		return nil
	}
	var le *config.LoadError
	if !errors.As(err, &le) {
		return []config.Diagnostic{{Severity: config.SeverityError, File: o.RulesPath, Message: err.Error()}}
	}
	return le.Errors()
}

func (a *API) logger() interface {
	Error(msg string, args ...any)
} {
	if a.o.Logger == nil {
		return nopLogger{}
	}
	return a.o.Logger
}

type nopLogger struct{}

func (nopLogger) Error(string, ...any) {}

func (a *API) respondSaved(w http.ResponseWriter, code int, version string, body any) {
	w.Header().Set("ETag", `"`+version+`"`)
	if body == nil {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, body)
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) {
	in, herr := decodeRule(r, w)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	rc := in.Config()
	if herr := in.applyFatigue(&rc, nil); herr != nil {
		writeHTTPError(w, herr)
		return
	}
	version, herr := a.save(r, &change{
		action: store.ActionCreate, rules: []string{rc.Name}, summary: fmt.Sprintf("created rule %q", rc.Name),
		apply: editRules(func(f *rulesfile.File) ([]byte, *httpError) {
			if f.Has(rc.Name) {
				return nil, &httpError{code: http.StatusConflict, msg: fmt.Sprintf("a rule named %q already exists; update it with PUT /api/v1/rules/%s", rc.Name, rc.Name)}
			}
			out, err := f.Append(rc)
			if err != nil {
				return nil, editFailed(err, rc.Name)
			}
			return out, nil
		}),
	})
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	a.respondSaved(w, http.StatusCreated, version, SavedRule{RuleJSON: configJSON(rc), Version: version})
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	in, herr := decodeRule(r, w)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	rc := in.Config()
	if rc.Name == "" {
		rc.Name = name
	}
	c := change{action: store.ActionUpdate, rules: []string{name}}
	if rc.Name != name {
		c.action, c.rules = store.ActionRename, []string{name, rc.Name}
	}
	c.apply = editRules(func(f *rulesfile.File) ([]byte, *httpError) {
		old, ok := f.Rule(name)
		if !ok {
			return nil, &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no rule named %q in the rules file", name)}
		}
		if rc.Name != name && f.Has(rc.Name) {
			return nil, &httpError{code: http.StatusConflict, msg: fmt.Sprintf("cannot rename %q to %q: a rule with that name already exists", name, rc.Name)}
		}
		if herr := in.applyFatigue(&rc, &old); herr != nil {
			return nil, herr
		}
		c.summary = summarize(old, rc)
		out, err := f.Replace(name, rc)
		if err != nil {
			return nil, editFailed(err, name)
		}
		return out, nil
	})
	// apply sets c.summary, before save records it.
	version, herr := a.save(r, &c)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	a.respondSaved(w, http.StatusOK, version, SavedRule{RuleJSON: configJSON(rc), Version: version})
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, herr := a.save(r, &change{
		action: store.ActionDelete, rules: []string{name}, summary: fmt.Sprintf("deleted rule %q", name),
		apply: editRules(func(f *rulesfile.File) ([]byte, *httpError) {
			out, err := f.Delete(name)
			if err != nil {
				return nil, editFailed(err, name)
			}
			return out, nil
		}),
	})
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	a.respondSaved(w, http.StatusNoContent, version, nil)
}

// summarize says in a few words how a rule changed.
func summarize(old, new router.RuleConfig) string {
	var fields []string
	if old.Description != new.Description {
		fields = append(fields, "description")
	}
	if strings.TrimSpace(old.When) != strings.TrimSpace(new.When) {
		fields = append(fields, "when")
	}
	if !slices.Equal(old.Send, new.Send) {
		fields = append(fields, "send")
	}
	var parts []string
	if old.Name != new.Name {
		parts = append(parts, fmt.Sprintf("renamed rule %q to %q", old.Name, new.Name))
	}
	switch {
	case old.IsEnabled() && !new.IsEnabled():
		parts = append(parts, fmt.Sprintf("disabled rule %q", new.Name))
	case !old.IsEnabled() && new.IsEnabled():
		parts = append(parts, fmt.Sprintf("enabled rule %q", new.Name))
	}
	if len(fields) > 0 {
		parts = append(parts, fmt.Sprintf("changed %s of rule %q", strings.Join(fields, ", "), new.Name))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("rewrote rule %q (no change in meaning)", new.Name)
	}
	return strings.Join(parts, "; ")
}
