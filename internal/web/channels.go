package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// channelForm is the channel editor's form, as strings.
type channelForm struct {
	Original, Name, Kind string
	// Values are the kind blocks' keys as the form holds them, by
	// "kind.key".
	Values                                          map[string]string
	Timeout, Concurrency, Rate, MaxAttempts, MaxAge string
}

// kindBlock is one kind's part of the form.
type kindBlock struct {
	Name   string
	Fields []fieldInput
}

// fieldInput is one key of a kind's block as the form shows it.
type fieldInput struct {
	// ID is the control's id ("pagerduty-routing-key"), Name its form
	// name ("f.pagerduty.routing_key").
	ID, Name, Label, Type, Value string
	Secret                       bool
}

// formKey is the name a kind's key has in the form.
func formKey(kind, key string) string { return "f." + kind + "." + key }

// blocks lays out each kind's keys, filled from f.
func (f channelForm) blocks(kinds []channelKind) []kindBlock {
	out := make([]kindBlock, 0, len(kinds))
	for _, k := range kinds {
		b := kindBlock{Name: k.Name}
		for _, fd := range k.Fields {
			b.Fields = append(b.Fields, fieldInput{
				ID: k.Name + "-" + strings.ReplaceAll(fd.Key, "_", "-"), Name: formKey(k.Name, fd.Key),
				Label: strings.ReplaceAll(fd.Key, "_", " "), Type: fd.Type, Secret: fd.Secret,
				Value: f.Values[k.Name+"."+fd.Key],
			})
		}
		out = append(out, b)
	}
	return out
}

func (u *UI) channelData(r *http.Request, f channelForm, kinds []channelKind, problem string, errs []apiError) map[string]any {
	title := "New channel"
	if f.Original != "" {
		title = "Edit channel " + f.Original
	}
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.Name)
	}
	return map[string]any{
		"Title": title, "Form": f, "Problem": problem, "Errors": errs,
		"Kinds": names, "Blocks": f.blocks(kinds), "Writable": u.api.writable(r.Context()),
	}
}

// channelPage shows the form, filled from the rules file when editing.
func (u *UI) channelPage(w http.ResponseWriter, r *http.Request) {
	kinds, err := u.api.kinds(r.Context())
	if err != nil || len(kinds) == 0 {
		u.o.Logger.Warn("editor: channel kinds", "error", err)
		http.Error(w, "cannot read the channel kinds", http.StatusServiceUnavailable)
		return
	}
	f := channelForm{Kind: kinds[0].Name, Values: map[string]string{}}
	if name := r.PathValue("name"); name != "" {
		rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/channels", "", nil)
		var out struct {
			Channels []struct {
				Name     string         `json:"name"`
				Kind     string         `json:"kind"`
				Settings map[string]any `json:"settings"`
			} `json:"channels"`
		}
		if err != nil || !rep.ok() || json.Unmarshal(rep.Body, &out) != nil {
			http.Error(w, "cannot read the channels", http.StatusServiceUnavailable)
			return
		}
		found := false
		for _, c := range out.Channels {
			if c.Name == name {
				f, found = formOf(c.Name, c.Kind, c.Settings, kinds), true
			}
		}
		if !found {
			http.NotFound(w, r)
			return
		}
	}
	u.render(w, r, http.StatusOK, "channel", u.channelData(r, f, kinds, "", nil))
}

// str shows a setting as one line of text: lists joined with ", ".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(x)
	}
}

// formOf fills the form from a channel's settings as the API shows them,
// each key of the kind's block as its field type says.
func formOf(name, kind string, s map[string]any, kinds []channelKind) channelForm {
	sub := func(k string) map[string]any {
		m, _ := s[k].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		return m
	}
	f := channelForm{Original: name, Name: name, Kind: kind, Values: map[string]string{},
		Timeout: str(s["timeout"]), Concurrency: str(s["concurrency"]),
		Rate: str(sub("rate")["per_second"]), MaxAttempts: str(sub("retry")["max_attempts"]), MaxAge: str(sub("retry")["max_age"])}
	block := sub(kind)
	for _, k := range kinds {
		if k.Name != kind {
			continue
		}
		for _, fd := range k.Fields {
			v, ok := block[fd.Key]
			if !ok {
				continue
			}
			key := kind + "." + fd.Key
			switch fd.Type {
			case "map":
				m, _ := v.(map[string]any)
				keys := make([]string, 0, len(m))
				for mk := range m {
					keys = append(keys, mk)
				}
				sort.Strings(keys)
				var lines []string
				for _, mk := range keys {
					lines = append(lines, mk+": "+fmt.Sprint(m[mk]))
				}
				f.Values[key] = strings.Join(lines, "\n")
			case "json":
				b, _ := json.Marshal(v)
				f.Values[key] = string(b)
			default:
				f.Values[key] = str(v)
			}
		}
	}
	return f
}

// saveChannel writes the channel through PUT /api/v1/channels/{name},
// which validates it and keeps secrets to ${VAR} references.
func (u *UI) saveChannel(w http.ResponseWriter, r *http.Request) {
	get := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := channelForm{
		Original: get("original"), Name: get("name"), Kind: get("kind"), Values: map[string]string{},
		Timeout: get("timeout"), Concurrency: get("concurrency"), Rate: get("rate"),
		MaxAttempts: get("max_attempts"), MaxAge: get("max_age"),
	}
	for k, v := range r.PostForm {
		if key, ok := strings.CutPrefix(k, "f."); ok && len(v) > 0 {
			f.Values[key] = v[0]
		}
	}
	kinds, err := u.api.kinds(r.Context())
	if err != nil {
		u.render(w, r, http.StatusServiceUnavailable, "channel", u.channelData(r, f, nil, "The channel kinds cannot be read right now.", nil))
		return
	}
	body, errs := f.body(kinds)
	if len(errs) > 0 {
		u.render(w, r, http.StatusUnprocessableEntity, "channel", u.channelData(r, f, kinds, "The channel cannot be saved.", errs))
		return
	}
	target := f.Original
	if target == "" {
		target = f.Name
	}
	rep, err := u.api.call(r.Context(), http.MethodPut, "/api/v1/channels/"+url.PathEscape(target), "", body)
	switch {
	case err != nil:
		u.render(w, r, http.StatusServiceUnavailable, "channel", u.channelData(r, f, kinds, err.Error(), nil))
	case !rep.ok():
		msg := rep.Message
		if msg == "" {
			msg = writeProblem(rep)
		}
		u.render(w, r, http.StatusUnprocessableEntity, "channel", u.channelData(r, f, kinds, msg, rep.Errors))
	default:
		http.Redirect(w, r, "/ui/channels?saved="+url.QueryEscape(f.Name), http.StatusSeeOther)
	}
}

// body is the PUT body for the form's kind: the delivery settings and
// that kind's block, each key converted as its field type says; the
// other kinds' fields are not sent.
func (f channelForm) body(kinds []channelKind) (map[string]any, []apiError) {
	var errs []apiError
	fail := func(field, msg string) { errs = append(errs, apiError{Field: field, Message: msg}) }
	out := map[string]any{"name": f.Name}
	number := func(field, v string, whole bool) any {
		if v == "" {
			return nil
		}
		if whole {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				fail(field, "must be a whole number")
				return nil
			}
		} else if n, err := strconv.ParseFloat(v, 64); err != nil || n < 0 {
			fail(field, "must be a number")
			return nil
		}
		return json.Number(v)
	}
	if f.Timeout != "" {
		out["timeout"] = f.Timeout
	}
	if n := number("concurrency", f.Concurrency, true); n != nil {
		out["concurrency"] = n
	}
	if n := number("rate", f.Rate, false); n != nil {
		out["rate"] = map[string]any{"per_second": n}
	}
	retry := map[string]any{}
	if n := number("retry.max_attempts", f.MaxAttempts, true); n != nil {
		retry["max_attempts"] = n
	}
	if f.MaxAge != "" {
		retry["max_age"] = f.MaxAge
	}
	if len(retry) > 0 {
		out["retry"] = retry
	}
	var kind *channelKind
	names := make([]string, 0, len(kinds))
	for i := range kinds {
		names = append(names, kinds[i].Name)
		if kinds[i].Name == f.Kind {
			kind = &kinds[i]
		}
	}
	if kind == nil {
		fail("kind", "choose one of "+strings.Join(names, ", "))
		return out, errs
	}
	block := map[string]any{}
	for _, fd := range kind.Fields {
		field := kind.Name + "." + fd.Key
		raw := f.Values[field]
		if fd.Type != "map" && fd.Type != "json" {
			raw = strings.TrimSpace(raw)
		}
		if strings.TrimSpace(raw) == "" {
			continue
		}
		switch fd.Type {
		case "number":
			if n := number(field, raw, false); n != nil {
				block[fd.Key] = n
			}
		case "bool":
			block[fd.Key] = raw == "true"
		case "list":
			var list []string
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); p != "" {
					list = append(list, p)
				}
			}
			block[fd.Key] = list
		case "map":
			m := map[string]any{}
			for i, line := range strings.Split(raw, "\n") {
				if strings.TrimSpace(line) == "" {
					continue
				}
				name, value, ok := strings.Cut(line, ":")
				if !ok || strings.TrimSpace(name) == "" {
					fail(field, fmt.Sprintf("line %d: write Name: value", i+1))
					continue
				}
				m[strings.TrimSpace(name)] = strings.TrimSpace(value)
			}
			if len(m) > 0 {
				block[fd.Key] = m
			}
		case "json":
			var v any
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				fail(field, "must be JSON, such as [{\"type\": \"team\", \"name\": \"billing\"}]")
				continue
			}
			block[fd.Key] = v
		default:
			block[fd.Key] = raw
		}
	}
	out[kind.Name] = block
	return out, errs
}
