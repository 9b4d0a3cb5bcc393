package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/router"
)

// Condition modes of the editor.
const (
	modeGuided = "guided"
	modeExpr   = "expr"
)

// sendRow is one action of the rule being edited. Kind is "default",
// "template" or "message".
type sendRow struct {
	To, Kind, Template, Message string
}

// editorForm is the rule being edited, as the form posts it.
type editorForm struct {
	Original, Version string
	Name, Description string
	Enabled           bool
	Mode              string
	Type              string
	// Join is joinAll or joinAny: whether every row must hold or one.
	Join       string
	Rows       []condRow
	When       string
	Sends      []sendRow
	TrySource  string
	TryExample string
	TryRecent  string
	TryJSON    string
	// Note explains why the guided builder could not open the expression.
	Note string
}

func formValues(f url.Values, key string) []string { return f[key] }

func parseForm(r *http.Request) (editorForm, error) {
	if err := r.ParseForm(); err != nil {
		return editorForm{}, err
	}
	f := r.PostForm
	e := editorForm{
		Original: f.Get("original"), Version: f.Get("version"),
		Name: f.Get("name"), Description: f.Get("description"), Enabled: f.Get("enabled") == "on",
		Mode: f.Get("mode"), Type: f.Get("type"), When: f.Get("when"),
		TrySource: f.Get("try_source"), TryExample: f.Get("try_example"), TryRecent: f.Get("try_recent"), TryJSON: f.Get("try_json"),
	}
	if e.Mode != modeExpr {
		e.Mode = modeGuided
	}
	if e.Join = f.Get("join"); e.Join != joinAny {
		e.Join = joinAll
	}
	paths, ops, vals, curs := formValues(f, "cond_field"), formValues(f, "cond_op"), formValues(f, "cond_value"), formValues(f, "cond_currency")
	for i := range paths {
		row := condRow{Field: paths[i]}
		if i < len(ops) {
			row.Op = ops[i]
		}
		if i < len(vals) {
			row.Value = vals[i]
		}
		if i < len(curs) {
			row.Currency = curs[i]
		}
		if row.Value == setMarker {
			row.Value = strings.Join(f[fmt.Sprintf("cond_set_%d", i)], ", ")
		}
		e.Rows = append(e.Rows, row)
	}
	tos, kinds, tmpls, msgs := formValues(f, "send_to"), formValues(f, "send_kind"), formValues(f, "send_template"), formValues(f, "send_message")
	for i := range tos {
		s := sendRow{To: tos[i], Kind: "default"}
		if i < len(kinds) {
			s.Kind = kinds[i]
		}
		if i < len(tmpls) {
			s.Template = tmpls[i]
		}
		if i < len(msgs) {
			s.Message = msgs[i]
		}
		e.Sends = append(e.Sends, s)
	}
	return e, nil
}

// setMarker is the value of a row whose values are check boxes
// (cond_set_N): "is one of" a set of values.
const setMarker = "[set]"

// builder returns the rule builder with the field schema.
func (u *UI) builder() builder { return builder{schema: u.schema} }

// when returns the expression the form describes.
func (u *UI) when(e editorForm) (string, error) {
	if e.Mode == modeExpr {
		return e.When, nil
	}
	return u.builder().buildWhen(e.Type, e.Join, e.Rows)
}

// rule returns the rule the form describes, in the API's shape.
func (u *UI) rule(e editorForm) (ruleJSON, error) {
	when, err := u.when(e)
	out := ruleJSON{Name: e.Name, Description: e.Description, Enabled: e.Enabled, When: when, Send: []sendJSON{}}
	for _, s := range e.Sends {
		sj := sendJSON{To: s.To}
		switch s.Kind {
		case "template":
			sj.Template = s.Template
		case "message":
			sj.Message = s.Message
		}
		out.Send = append(out.Send, sj)
	}
	return out, err
}

// typeGroup is one <optgroup> of the event type picker.
type typeGroup struct {
	Name  string
	Types []lago.Type
}

func (u *UI) typeGroups() []typeGroup {
	var out []typeGroup
	idx := map[string]int{}
	for _, t := range u.o.Catalog.Types() {
		i, ok := idx[t.Group]
		if !ok {
			i = len(out)
			idx[t.Group] = i
			out = append(out, typeGroup{Name: t.Group})
		}
		out[i].Types = append(out[i].Types, t)
	}
	return out
}

// channelOption is a channel in the action picker.
type channelOption struct{ Name, Kind string }

// editorData is everything the editor's templates read.
func (u *UI) editorData(r *http.Request, e editorForm) map[string]any {
	st, _ := u.api.status(r.Context())
	var chans []channelOption
	for _, c := range st.Channels {
		chans = append(chans, channelOption(c))
	}
	data := map[string]any{
		"Title": "New rule", "Form": e, "Groups": u.typeGroups(), "FieldGroups": u.fieldGroups(e.Type),
		"RowViews": u.rowViews(e), "Channels": chans, "Templates": u.templateNames(r.Context()),
		"CSRF": sessionOf(r.Context()).csrf, "Writable": u.api.writable(r.Context()),
		"RulesFile": st.RulesFile,
	}
	if e.Original != "" {
		data["Title"] = "Edit rule " + e.Original
	}
	if e.Mode == modeGuided {
		when, err := u.builder().buildWhen(e.Type, e.Join, e.Rows)
		data["Built"] = when
		if err != nil {
			data["BuildError"] = err.Error()
		} else if when != "" {
			data["Check"] = u.check(when)
		}
	}
	if recent, err := u.api.recentMessages(r.Context(), u.o.RecentMessages); err == nil {
		data["Recent"] = recent
		labels := map[string]string{}
		for _, m := range recent {
			labels[m.ID] = u.recentLabel(m.Body)
		}
		data["RecentLabels"] = labels
	}
	return data
}

func (u *UI) check(when string) ExprCheck {
	c, err := CheckExpression(u.o.Catalog, when)
	if err != nil {
		return ExprCheck{Message: err.Error()}
	}
	return c
}

func (u *UI) editorPage(w http.ResponseWriter, r *http.Request) {
	e := editorForm{Enabled: true, Mode: modeGuided, Join: joinAll}
	list, err := u.api.rules(r.Context())
	if err != nil {
		http.Error(w, "cannot read the rules", http.StatusServiceUnavailable)
		return
	}
	e.Version = list.Version
	if name := r.PathValue("name"); name != "" {
		var found *ruleJSON
		for i := range list.Rules {
			if list.Rules[i].Name == name {
				found = &list.Rules[i]
			}
		}
		if found == nil {
			http.NotFound(w, r)
			return
		}
		e.Original, e.Name, e.Description, e.Enabled, e.When = found.Name, found.Name, found.Description, found.Enabled, found.When
		if typ, join, rows, ok := u.builder().parseGuided(found.When); ok {
			e.Type, e.Join, e.Rows = typ, join, rows
		} else {
			e.Mode = modeExpr
			e.Note = beyondBuilder
		}
		for _, s := range found.Send {
			row := sendRow{To: s.To, Kind: "default", Template: s.Template, Message: s.Message}
			if s.Template != "" {
				row.Kind = "template"
			} else if s.Message != "" {
				row.Kind = "message"
			}
			e.Sends = append(e.Sends, row)
		}
	} else {
		e.Type = "invoice.created"
		e.Rows = []condRow{{Op: ">="}}
		if names := u.channelNames(r.Context()); len(names) > 0 {
			e.Sends = []sendRow{{To: names[0], Kind: "default"}}
		}
	}
	e.TrySource, e.TryExample = "example", e.Type
	u.prefill(&e, r)
	u.render(w, r, http.StatusOK, "editor", u.editorData(r, e))
}

// conditionFragment re-renders the condition section after a change:
// op=add, op=remove-N, op=expr (switch to the expression), op=guided.
func (u *UI) conditionFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	typeChanged := false
	switch op := r.PostForm.Get("op"); {
	case op == "add":
		e.Rows = append(e.Rows, condRow{Op: "=="})
	case len(op) > 7 && op[:7] == "remove-":
		if i, err := strconv.Atoi(op[7:]); err == nil && i >= 0 && i < len(e.Rows) {
			e.Rows = append(e.Rows[:i], e.Rows[i+1:]...)
		}
	case op == "type":
		kept := e.Rows[:0]
		var dropped []string
		for _, row := range e.Rows {
			if u.o.Catalog.Lookup(e.Type, splitPath(row.Field)) == lago.Exists || row.Field == "" {
				kept = append(kept, row)
			} else {
				name := row.Field
				if f, ok := u.schema.Field("", row.Field); ok {
					name = f.Title() + " (" + row.Field + ")"
				}
				dropped = append(dropped, name)
			}
		}
		e.Rows = kept
		if len(dropped) > 0 {
			what := "any event"
			if e.Type != "" {
				what = e.Type + " messages"
			}
			e.Note = fmt.Sprintf("Removed the condition%s on %s: %s have no such field.",
				map[bool]string{true: "", false: "s"}[len(dropped) == 1], strings.Join(dropped, ", "), what)
		}
		typeChanged = true
	case op == modeExpr:
		if when, err := u.builder().buildWhen(e.Type, e.Join, e.Rows); err == nil {
			e.When = when
		}
		e.Mode = modeExpr
	case op == modeGuided:
		if typ, join, rows, ok := u.builder().parseGuided(e.When); ok {
			e.Mode, e.Type, e.Join, e.Rows = modeGuided, typ, join, rows
		} else {
			e.Note = beyondBuilder
		}
	}
	u.normalize(&e)
	data := u.editorData(r, e)
	data["TypeChanged"] = typeChanged
	u.fragment(w, "condition", data)
}

// builtFragment re-renders only the expression preview after a value is
// typed: the rows and buttons stay in place, so a click that blurred the
// value (mousedown) lands on the button it started on (mouseup).
func (u *UI) builtFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	u.fragment(w, "built-oob", u.editorData(r, e))
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

func (u *UI) actionsFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	switch op := r.PostForm.Get("op"); {
	case op == "add":
		row := sendRow{Kind: "default"}
		if names := u.channelNames(r.Context()); len(names) > 0 {
			row.To = names[0]
		}
		e.Sends = append(e.Sends, row)
	case len(op) > 7 && op[:7] == "remove-":
		if i, err := strconv.Atoi(op[7:]); err == nil && i >= 0 && i < len(e.Sends) {
			e.Sends = append(e.Sends[:i], e.Sends[i+1:]...)
		}
	}
	u.fragment(w, "actions", u.editorData(r, e))
}

// checkFragment validates the expression being typed.
func (u *UI) checkFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	u.fragment(w, "check", map[string]any{"Check": u.check(e.When), "When": e.When})
}

// tryOutcome is what "Try it" shows.
type tryOutcome struct {
	Problem     string
	Errors      []apiError
	Rule        string
	Matched     bool
	Explanation *router.Explanation
	Deliveries  []testNotification
	RuleErrors  []string
	// Said are the guided conditions in words with the message's values.
	Said []saidCondition
	// Message says which message was tried; Watch, after no match,
	// which saved rules look at its type.
	Message string
	Watch   *typeWatch
}

// message returns the JSON message "Try it" runs on.
func (u *UI) message(r *http.Request, e editorForm) ([]byte, error) {
	switch e.TrySource {
	case "paste":
		var obj map[string]any
		if err := json.Unmarshal([]byte(e.TryJSON), &obj); err != nil || obj == nil {
			return nil, errors.New("the pasted message is not a JSON object")
		}
		return []byte(e.TryJSON), nil
	case "recent":
		msgs, err := u.api.recentMessages(r.Context(), u.o.RecentMessages)
		if err != nil {
			return nil, errors.New("the store is unavailable")
		}
		for _, m := range msgs {
			if m.ID == e.TryRecent {
				return m.Body, nil
			}
		}
		return nil, errors.New("pick one of the received messages")
	}
	typ := e.TryExample
	if typ == "" {
		typ = e.Type
	}
	raw, ok := u.o.Catalog.Example(typ)
	if !ok {
		return nil, fmt.Errorf("no Lago example for %q", typ)
	}
	return raw, nil
}

func (u *UI) tryFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	out := tryOutcome{Rule: e.Name}
	defer func() { u.fragment(w, "try", out) }()
	rule, err := u.rule(e)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	if rule.Name == "" {
		rule.Name = "unsaved-rule"
		out.Rule = rule.Name
	}
	if c := u.check(rule.When); !c.OK {
		out.Problem = "The condition does not compile: " + c.Message
		return
	}
	// Try evaluates the rule even while it is disabled.
	rule.Enabled = true
	msg, err := u.message(r, e)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	res, rep, err := u.api.test(r.Context(), msg, rule)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	if !rep.ok() {
		out.Problem, out.Errors = writeProblem(rep), rep.Errors
		for i := range out.Errors {
			out.Errors[i].Message = inWords(out.Errors[i].Message)
		}
		if rep.Code == http.StatusBadRequest {
			out.Problem = rep.Message
		}
		return
	}
	for i := range res.Explain {
		if res.Explain[i].Rule == rule.Name {
			out.Explanation = explainInWords(res.Explain[i])
		}
	}
	if out.Explanation == nil {
		out.Problem = "This server cannot test an unsaved rule."
		return
	}
	for _, m := range res.Matches {
		if m.Rule == rule.Name {
			out.Matched = true
			out.Deliveries = m.Deliveries
		}
	}
	for _, re := range res.Errors {
		if re.Rule == rule.Name {
			if msg := inWords(re.Error); msg != out.Explanation.Error {
				out.RuleErrors = append(out.RuleErrors, msg)
			}
		}
	}
	out.Message = u.recentLabel(msg)
	if e.Mode == modeGuided {
		out.Said = u.sayConditions(e, msg, u.rowParts(r, e, msg, rule, out.Explanation.Parts))
	}
	if !out.Matched {
		out.Watch = u.watching(r.Context(), msg)
	}
}

// rowParts returns the explanation's conditions one per row: those of
// the tried rule when its rows are all joined by &&, else those of the
// same rows so joined, tried once more.
func (u *UI) rowParts(r *http.Request, e editorForm, msg []byte, rule ruleJSON, parts []router.Condition) []router.Condition {
	if e.Join != joinAny {
		return parts
	}
	all, err := u.builder().buildWhen(e.Type, joinAll, e.Rows)
	if err != nil {
		return parts
	}
	rule.When = all
	res, rep, err := u.api.test(r.Context(), msg, rule)
	if err != nil || !rep.ok() {
		return parts
	}
	for _, ex := range res.Explain {
		if ex.Rule == rule.Name {
			return ex.Parts
		}
	}
	return parts
}

// explainInWords returns a copy of ex with its errors in plain words.
func explainInWords(ex router.Explanation) *router.Explanation {
	ex.Error = inWords(ex.Error)
	ex.Parts = slices.Clone(ex.Parts)
	for i := range ex.Parts {
		ex.Parts[i].Error = inWords(ex.Parts[i].Error)
	}
	return &ex
}

// saveOutcome is what a failed save shows.
type saveOutcome struct {
	Problem string
	// Errors are the rule's own errors, each shown on its field.
	Errors []apiError
	// Elsewhere are problems of other parts of the file, in words.
	Elsewhere []string
}

func (u *UI) save(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	rule, err := u.rule(e)
	if err != nil {
		u.fragment(w, "save", saveOutcome{Problem: "Not saved: " + err.Error()})
		return
	}
	if c := u.check(rule.When); !c.OK {
		u.fragment(w, "save", saveOutcome{Problem: "Not saved: the condition does not compile.",
			Errors: []apiError{{Field: "when", Line: c.Line, Column: c.Column, Message: c.Message}}})
		return
	}
	switch r.PostForm.Get("action") {
	case "delete":
		if e.Original == "" {
			u.fragment(w, "save", saveOutcome{Problem: "This rule was never saved."})
			return
		}
		// The backend escapes the path: escaping here too would ask for
		// another rule's name.
		rep, err := u.api.call(r.Context(), http.MethodDelete, "/api/v1/rules/"+e.Original, e.Version, nil)
		if u.saveFailed(w, rep, err, e.Original) {
			return
		}
		w.Header().Set("HX-Redirect", "/ui/rules?deleted="+url.QueryEscape(e.Original))
		return
	}
	method, path := http.MethodPost, "/api/v1/rules"
	if e.Original != "" {
		method, path = http.MethodPut, "/api/v1/rules/"+e.Original
	}
	rep, err := u.api.call(r.Context(), method, path, e.Version, rule)
	if u.saveFailed(w, rep, err, rule.Name) {
		return
	}
	w.Header().Set("HX-Redirect", "/ui/rules?saved="+url.QueryEscape(rule.Name))
}

// saveFailed shows a refused save of rule name. The rule's own errors go
// on the fields they concern; a problem elsewhere in the file (another
// rule broken by hand, a channel) is named as such, never shown as this
// rule's.
func (u *UI) saveFailed(w http.ResponseWriter, rep apiReply, err error, name string) bool {
	if err != nil {
		u.fragment(w, "save", saveOutcome{Problem: "Not saved: " + err.Error()})
		return true
	}
	if rep.ok() {
		return false
	}
	if rep.Code != http.StatusUnprocessableEntity {
		u.fragment(w, "save", saveOutcome{Problem: "Not saved. " + writeProblem(rep)})
		return true
	}
	var own []apiError
	var elsewhere []string
	for _, e := range rep.Errors {
		e.Message = inWords(e.Message)
		if ownError(e, name) {
			own = append(own, e)
			continue
		}
		elsewhere = append(elsewhere, elsewhereText(e))
	}
	out := saveOutcome{Errors: own, Elsewhere: elsewhere}
	switch {
	case len(own) > 0:
		out.Problem = "Not saved: this rule has a problem, shown on its field below."
	case len(elsewhere) > 0:
		out.Problem = "Not saved: this rule is fine, but the rules file has another problem; fix it first (in the file or its own editor page)."
	default:
		out.Problem = "Not saved. " + writeProblem(rep)
	}
	u.fragment(w, "save", out)
	return true
}

// ownError reports whether e concerns the rule being saved: it names
// the rule, or it has no rule because the rule's name itself is the
// problem (refused or missing).
func ownError(e apiError, name string) bool {
	switch {
	case e.Rule == name:
		return true
	case e.Rule != "":
		return false
	case name == "":
		return strings.HasSuffix(e.Field, "name")
	}
	return strings.Contains(e.Message, strconv.Quote(name))
}

// elsewhereText says where a problem outside the rule being saved is.
func elsewhereText(e apiError) string {
	where := "the rules file"
	if e.Rule != "" {
		where = "rule " + e.Rule
	}
	if e.Line > 0 {
		where += fmt.Sprintf(", line %d", e.Line)
	}
	return "the file has another problem: " + where + ": " + e.Message
}
