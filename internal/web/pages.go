package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"
)

// ruleRow is one line of the rules list.
type ruleRow struct {
	Name, Description string
	Enabled           bool
	Channels          []string
	Stat              ruleStat
}

// rulesData is what the rules list shows.
func (u *UI) rulesData(r *http.Request, notice, problem string) map[string]any {
	ctx := r.Context()
	stats, err := u.api.ruleStats(ctx, 24*time.Hour)
	if err != nil {
		u.o.Logger.Warn("editor: rule stats", "error", err)
	}
	list, err := u.api.rules(ctx)
	if err != nil {
		problem = "cannot read the rules: " + err.Error()
	}
	var rows []ruleRow
	for _, rule := range list.Rules {
		row := ruleRow{Name: rule.Name, Description: rule.Description, Enabled: rule.Enabled, Stat: stats[rule.Name]}
		for _, s := range rule.Send {
			row.Channels = append(row.Channels, s.To)
		}
		rows = append(rows, row)
	}
	st, err := u.api.status(ctx)
	if err != nil {
		// Say nothing about a load state that cannot be read.
		st.OK = true
	}
	return map[string]any{
		"Title": "Rules", "Rules": rows, "Version": list.Version, "Status": st,
		"RulesFile": st.RulesFile, "Writable": st.Writable == nil || *st.Writable,
		"Notice": notice, "Problem": problem,
	}
}

func (u *UI) rulesPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	if n := r.URL.Query().Get("saved"); n != "" {
		notice = fmt.Sprintf("Saved rule %q.", n)
	}
	if n := r.URL.Query().Get("deleted"); n != "" {
		notice = fmt.Sprintf("Deleted rule %q.", n)
	}
	u.render(w, r, http.StatusOK, "rules", u.rulesData(r, notice, ""))
}

// writeProblem turns a failed write's answer into a sentence.
func writeProblem(rep apiReply) string {
	switch rep.Code {
	case http.StatusConflict:
		return "The file changed on disk since you opened it — reload the page and try again."
	case http.StatusForbidden:
		if rep.Message != "" {
			return rep.Message
		}
		return "The rules file is read-only here."
	case http.StatusNotFound:
		return "No such rule (or this server cannot edit rules)."
	case http.StatusUnprocessableEntity:
		msg := "The rules file would be invalid:"
		for _, e := range rep.Errors {
			msg += " " + e.Message + ";"
		}
		return msg
	}
	if rep.Message != "" {
		return rep.Message
	}
	return fmt.Sprintf("The save failed (HTTP %d).", rep.Code)
}

func (u *UI) toggleRule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/rules/"+name, "", nil)
	problem, notice := "", ""
	if err == nil && rep.ok() {
		var rule ruleJSON
		if err = json.Unmarshal(rep.Body, &rule); err == nil {
			rule.Enabled = !rule.Enabled
			rep, err = u.api.call(r.Context(), http.MethodPut, "/api/v1/rules/"+name, r.PostFormValue("version"), rule)
			if err == nil && rep.ok() {
				state := "disabled"
				if rule.Enabled {
					state = "enabled"
				}
				notice = fmt.Sprintf("Rule %q %s.", name, state)
			}
		}
	}
	if err != nil {
		problem = err.Error()
	} else if !rep.ok() {
		problem = writeProblem(rep)
	}
	u.fragment(w, "rules-table", u.rulesData(r, notice, problem))
}

func (u *UI) deleteRule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rep, err := u.api.call(r.Context(), http.MethodDelete, "/api/v1/rules/"+name, r.PostFormValue("version"), nil)
	notice, problem := outcome(rep, err, fmt.Sprintf("Deleted rule %q.", name))
	u.fragment(w, "rules-table", u.rulesData(r, notice, problem))
}

// historyEntry is one save, as GET /api/v1/history lists it.
type historyEntry map[string]any

func (h historyEntry) str(keys ...string) string {
	for _, k := range keys {
		switch v := h[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return fmt.Sprintf("%.0f", v)
		case []any:
			s := ""
			for i, x := range v {
				if i > 0 {
					s += ", "
				}
				s += fmt.Sprint(x)
			}
			return s
		}
	}
	return ""
}

// historyRow is one line of the history page.
type historyRow struct {
	ID, Time, Author, Action, Rules, Summary, Version string
	// Pick are the rule names offered for a one-rule restore: the
	// entry's own first, then the current ones.
	Pick []string
}

func (u *UI) historyData(r *http.Request, notice, problem string) map[string]any {
	data := map[string]any{"Title": "History", "Notice": notice, "Problem": problem}
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/history?limit=100", "", nil)
	if err != nil || !rep.ok() {
		data["Unavailable"] = true
		return data
	}
	var raw map[string]json.RawMessage
	var entries []historyEntry
	if json.Unmarshal(rep.Body, &raw) == nil {
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if json.Unmarshal(raw[k], &entries) == nil && len(entries) > 0 {
				break
			}
		}
	} else {
		_ = json.Unmarshal(rep.Body, &entries)
	}
	var current []string
	if list, err := u.api.rules(r.Context()); err == nil {
		for _, rule := range list.Rules {
			current = append(current, rule.Name)
		}
	}
	var rows []historyRow
	for _, e := range entries {
		row := historyRow{
			ID: e.str("id"), Time: e.str("time", "at", "created_at", "saved_at"), Author: e.str("author"),
			Action: e.str("action"), Rules: e.str("rules", "rule", "rule_names"), Summary: e.str("summary"),
			Version: e.str("version", "hash", "file_hash"),
		}
		seen := map[string]bool{}
		if names, ok := e["rules"].([]any); ok {
			for _, n := range names {
				if s, ok := n.(string); ok && !seen[s] {
					seen[s] = true
					row.Pick = append(row.Pick, s)
				}
			}
		}
		for _, n := range current {
			if !seen[n] {
				seen[n] = true
				row.Pick = append(row.Pick, n)
			}
		}
		rows = append(rows, row)
	}
	data["Entries"] = rows
	return data
}

func (u *UI) historyPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "history", u.historyData(r, "", ""))
}

func (u *UI) restore(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	path, done := "/api/v1/history/"+id+"/restore", "Restored the whole rules file as saved in #"+id+"."
	if rule := r.PostFormValue("rule"); rule != "" {
		path += "?" + url.Values{"rule": {rule}}.Encode()
		done = fmt.Sprintf("Restored rule %q as saved in #%s; the rest of the file is unchanged.", rule, id)
	}
	rep, err := u.api.call(r.Context(), http.MethodPost, path, "", nil)
	notice, problem := outcome(rep, err, done)
	u.fragment(w, "history-table", u.historyData(r, notice, problem))
}

// historyDiff shows what restoring one rule from a history entry would
// change, before it is applied.
func (u *UI) historyDiff(w http.ResponseWriter, r *http.Request) {
	id, rule := r.PathValue("id"), r.URL.Query().Get("rule")
	data := map[string]any{"ID": id, "Rule": rule}
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/history/"+id+"/rules/"+rule, "", nil)
	var diff ruleRestore
	switch {
	case err != nil:
		data["Problem"] = err.Error()
	case !rep.ok():
		data["Problem"] = rep.Message
	case json.Unmarshal(rep.Body, &diff) != nil:
		data["Problem"] = "The difference cannot be read."
	default:
		data["Diff"] = diff
		data["Same"] = diff.Current == diff.Restored
	}
	u.fragment(w, "history-diff", data)
}

// outcome turns an admin API answer into the notice or the problem a page
// shows.
func outcome(rep apiReply, err error, done string) (notice, problem string) {
	switch {
	case err != nil:
		return "", err.Error()
	case !rep.ok():
		return "", writeProblem(rep)
	}
	return done, ""
}

// channelRow is one line of the channels page.
type channelRow struct {
	Name, Kind string
	Settings   [][2]string
	// Health is the channel's breaker state and backlog, when known.
	Health *channelHealth
}

func (u *UI) channelsPage(w http.ResponseWriter, r *http.Request) {
	var rows []channelRow
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/channels", "", nil)
	if err == nil && rep.ok() {
		var out struct {
			Channels []map[string]any `json:"channels"`
		}
		if json.Unmarshal(rep.Body, &out) == nil {
			for _, c := range out.Channels {
				row := channelRow{Name: fmt.Sprint(c["name"]), Kind: fmt.Sprint(c["kind"])}
				if h, ok := c["health"]; ok {
					if b, err := json.Marshal(h); err == nil {
						row.Health = &channelHealth{}
						_ = json.Unmarshal(b, row.Health)
					}
				}
				flat := map[string]string{}
				if settings, ok := c["settings"].(map[string]any); ok {
					flatten("", settings, flat)
				}
				keys := make([]string, 0, len(flat))
				for k := range flat {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					row.Settings = append(row.Settings, [2]string{k, flat[k]})
				}
				rows = append(rows, row)
			}
		}
	}
	if err != nil || !rep.ok() {
		u.o.Logger.Warn("editor: list channels", "error", err, "status", rep.Code)
		u.render(w, r, http.StatusServiceUnavailable, "channels", map[string]any{"Title": "Channels",
			"Problem": "The channels cannot be read right now."})
		return
	}
	notice := ""
	if saved := r.URL.Query().Get("saved"); saved != "" {
		notice = "Saved channel " + saved + "."
	}
	u.render(w, r, http.StatusOK, "channels", map[string]any{"Title": "Channels", "Channels": rows, "Notice": notice})
}

// flatten writes nested settings as dotted keys.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
	case []any:
		s := ""
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprint(e)
		}
		out[prefix] = s
	case nil:
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// deliveryStates are the delivery states the deliveries page filters
// by, as GET /api/v1/deliveries takes them.
var deliveryStates = []string{"pending", "in_flight", "held", "grouped", "delivered", "dead",
	"digested", "suppressed", "silenced", "dropped", "collapsed", "dry_run"}

// deliveryFilter is the deliveries page's filter.
type deliveryFilter struct{ Status, Rule string }

func (u *UI) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := deliveryFilter{Status: q.Get("status"), Rule: q.Get("rule")}
	if !slices.Contains(deliveryStates, f.Status) {
		f.Status = ""
	}
	var channels []string
	if chans, err := u.api.channels(ctx); err == nil {
		for _, c := range chans {
			channels = append(channels, c.Name)
		}
	}
	data := map[string]any{"Title": "Deliveries", "Filter": f, "Rules": u.api.ruleNames(ctx),
		"States": deliveryStates, "Channels": channels, "Since": replaySince}
	list, err := u.api.deliveries(ctx, f.Status, f.Rule, 200)
	if err != nil {
		u.o.Logger.Warn("editor: list deliveries", "error", err)
		data["Problem"] = "The store is unavailable."
	}
	data["Deliveries"] = list
	u.render(w, r, http.StatusOK, "deliveries", data)
}

// replay requeues one delivery through POST
// /api/v1/deliveries/{id}/replay, which also wakes the workers.
func (u *UI) replay(w http.ResponseWriter, r *http.Request) {
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/deliveries/"+r.PathValue("id")+"/replay", "", nil)
	msg := "Queued again."
	switch {
	case err != nil || rep.Code == http.StatusServiceUnavailable:
		msg = "The store is unavailable."
	case rep.Code == http.StatusNotFound:
		msg = "Not replayable (already queued?)."
	case !rep.ok():
		msg = writeProblem(rep)
	}
	u.fragment(w, "text", msg)
}
