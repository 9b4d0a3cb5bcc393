package api

import (
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"github.com/switchboard-dev/switchboard/config"

	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/router"
)

// History actions of channel edits. The history's rules column holds the
// channel's name (old and new name for a rename).
const (
	ActionChannelCreate = "channel-create"
	ActionChannelUpdate = "channel-update"
	ActionChannelRename = "channel-rename"
	ActionChannelDelete = "channel-delete"
)

// SavedChannel is the answer of a channel create or update: the channel
// as GET /api/v1/channels shows it and the rules file's new editing
// version.
type SavedChannel struct {
	ChannelSettings
	Version string `json:"version"`
}

// registerChannelEditing adds the routes that change channels.
func (a *API) registerChannelEditing(mux *http.ServeMux) {
	mux.Handle("PUT /api/v1/channels/{name}", a.auth(http.HandlerFunc(a.putChannel)))
	mux.Handle("DELETE /api/v1/channels/{name}", a.auth(http.HandlerFunc(a.deleteChannel)))
}

// channelInput is a decoded PUT body: the channel's name and its
// settings as the rules file will hold them.
type channelInput struct {
	name     string
	kind     string
	settings yaml.MapSlice
}

// msgSecretValue is the answer to a literal in a secret field.
const msgSecretValue = "secret fields take a ${VAR} reference, never a value"

// isRef reports whether s is only a ${VAR} reference, or ${VAR:-} with
// an empty default. A default is written in the file, so in a secret
// field it is a literal secret: ${SLACK_TOKEN:-xoxb-…} is shown as
// <secret> and refused on a save, like the value itself.
func isRef(s string) bool {
	r, ok := config.ParseRef(s)
	return ok && r.Default == ""
}

// schemeWord matches what a header value may hold besides references and
// template actions: an authentication scheme and its space ("Bearer ").
var schemeWord = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]* $`)

// descriptiveHeaders are the headers whose values describe the request
// rather than authenticate it, so a literal value is allowed.
var descriptiveHeaders = []string{"accept", "accept-language", "cache-control", "content-type", "user-agent"}

func decodeChannel(r *http.Request, w http.ResponseWriter) (channelInput, *httpError) {
	var in channelInput
	var body map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || body == nil {
		msg := "body must be a channel: {\"name\", \"timeout\", \"concurrency\", \"rate\", \"retry\", \"slack\" | \"email\" | \"http\": {…}}"
		if err != nil {
			msg += ": " + err.Error()
		}
		return in, &httpError{code: http.StatusBadRequest, msg: msg}
	}
	if v, ok := body["name"]; ok {
		s, isString := v.(string)
		if !isString {
			return in, fieldsInvalid([]ErrorDetail{{Field: "name", Message: "must be a string"}})
		}
		in.name = s
		delete(body, "name")
	}
	var cv converter
	out := cv.object(body, channelFields(), "")
	if len(cv.errs) > 0 {
		return in, fieldsInvalid(cv.errs)
	}
	in.settings, _ = out.(yaml.MapSlice)
	var kinds []string
	for _, it := range in.settings {
		if k, ok := wiring.Kind(it.Key.(string)); ok {
			kinds = append(kinds, k.Name)
		}
	}
	if len(kinds) != 1 {
		return in, fieldsInvalid([]ErrorDetail{{Message: "a channel needs exactly one of slack, email, http, pagerduty, opsgenie, teams, discord"}})
	}
	in.kind = kinds[0]
	return in, nil
}

// fieldsInvalid is the 422 answer for a body whose fields are refused
// before anything is written.
func fieldsInvalid(ds []ErrorDetail) *httpError {
	msg := "the channel is invalid: " + ds[0].Message
	if ds[0].Field != "" {
		msg = fmt.Sprintf("the channel is invalid: %s: %s", ds[0].Field, ds[0].Message)
	}
	if len(ds) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(ds)-1)
	}
	return &httpError{code: http.StatusUnprocessableEntity, msg: msg, details: ds}
}

// converter turns a channel's JSON settings into the rules file's YAML,
// walking router.ChannelConfig so that keys are the file's keys in its
// order, and collects every problem: unknown keys, wrong types and
// secrets given as values.
type converter struct {
	errs []ErrorDetail
}

func (c *converter) fail(field, format string, args ...any) {
	c.errs = append(c.errs, ErrorDetail{Field: field, Message: fmt.Sprintf(format, args...)})
}

// value converts v for a field of type t; nil means leave the key out.
func (c *converter) value(v any, t reflect.Type, field string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil
	}
	switch t {
	case reflect.TypeFor[secret.String]():
		s, ok := c.str(v, field)
		if !ok || s == "" {
			return nil
		}
		if !isRef(s) {
			c.fail(field, "%s", secretMessage(s))
			return nil
		}
		return s
	case reflect.TypeFor[secret.URL]():
		s, ok := c.str(v, field)
		if !ok || s == "" {
			return nil
		}
		if msg := urlSecretProblem(s); msg != "" {
			c.fail(field, "%s", msg)
			return nil
		}
		return s
	case reflect.TypeFor[time.Duration]():
		s, ok := c.str(v, field)
		if !ok {
			return nil
		}
		if _, err := time.ParseDuration(s); err != nil {
			c.fail(field, "%q is not a duration such as 10s, 5m or 24h", s)
			return nil
		}
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := yamlFields(t)
		if len(fields) == 0 {
			return c.scalar(v, field) // a type with its own syntax (email port)
		}
		return c.object(v, fields, field)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(field, "must be an object")
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := yaml.MapSlice{}
		for _, k := range keys {
			f := join(field, k)
			var e any
			if t.Elem() == reflect.TypeFor[secret.String]() {
				// A map of secrets is a map of header values.
				e = c.header(k, m[k], f)
			} else {
				e = c.value(m[k], t.Elem(), f)
			}
			if e != nil {
				out = append(out, yaml.MapItem{Key: k, Value: e})
			}
		}
		return out
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			c.fail(field, "must be a list")
			return nil
		}
		out := make([]any, 0, len(list))
		for i, e := range list {
			if x := c.value(e, t.Elem(), fmt.Sprintf("%s[%d]", field, i)); x != nil {
				out = append(out, x)
			}
		}
		return out
	case reflect.String:
		s, ok := c.str(v, field)
		if !ok {
			return nil
		}
		return s
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			c.fail(field, "must be true or false")
			return nil
		}
		return b
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			c.fail(field, "must be a whole number")
			return nil
		}
		return i
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			c.fail(field, "must be a number")
			return nil
		}
		return number(n)
	}
	c.fail(field, "cannot be set here")
	return nil
}

// object converts a JSON object for a struct whose keys are fields.
func (c *converter) object(v any, fields []yamlField, field string) any {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(field, "must be an object")
		return nil
	}
	known := make([]string, 0, len(fields))
	for _, f := range fields {
		known = append(known, f.key)
	}
	for k := range m {
		if !slices.Contains(known, k) {
			sorted := slices.Clone(known)
			sort.Strings(sorted)
			c.fail(join(field, k), "unknown key %q (expected one of: %s)", k, strings.Join(sorted, ", "))
		}
	}
	out := yaml.MapSlice{}
	for _, f := range fields {
		e, ok := m[f.key]
		if !ok {
			continue
		}
		if x := c.value(e, f.typ, join(field, f.key)); x != nil {
			out = append(out, yaml.MapItem{Key: f.key, Value: x})
		}
	}
	return out
}

// scalar accepts a string or a number as written.
func (c *converter) scalar(v any, field string) any {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return number(x)
	}
	c.fail(field, "must be a number or a string")
	return nil
}

func (c *converter) str(v any, field string) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.fail(field, "must be a string")
	}
	return s, ok
}

// header checks one header value: references and templates only, except
// in the headers that describe the request.
func (c *converter) header(name string, v any, field string) any {
	s, ok := c.str(v, field)
	if !ok || s == "" {
		return nil
	}
	if slices.Contains(descriptiveHeaders, strings.ToLower(name)) {
		return s
	}
	rest, refs := withoutReferences(s)
	if refs == 0 || rest != "" && !schemeWord.MatchString(rest) {
		c.fail(field, "header values are secrets: write a ${VAR} reference, after an authentication scheme if any (\"Bearer ${CRM_TOKEN}\"), or a {{ template }}, never a value")
		return nil
	}
	return s
}

func number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// secretMessage explains why a secret field's value is refused.
func secretMessage(s string) string {
	if strings.Contains(s, secret.Redacted) {
		return msgSecretValue + " (" + secret.Redacted + " stands for a value written in the file, which cannot be kept: give the variable that holds it)"
	}
	return msgSecretValue
}

// withoutReferences returns s without its ${…} references and {{ … }}
// template actions, and how many it removed. "$${" is a literal "${".
func withoutReferences(s string) (string, int) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("$${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), n
			}
			if !isRef(s[i : i+end+1]) {
				b.WriteString(s[i : i+end+1])
			} else {
				n++
			}
			i += end + 1
		case strings.HasPrefix(s[i:], "{{"):
			end := strings.Index(s[i:], "}}")
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), n
			}
			n++
			i += end + 2
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), n
}

// urlSecretProblem checks a URL field whose userinfo and query are
// secret: the URL may be written as it is when those parts are absent or
// hold only references (and, in the query, template actions); otherwise
// the whole URL, or each secret part, must be a ${VAR} reference.
func urlSecretProblem(s string) string {
	if isRef(s) {
		return ""
	}
	_, after, ok := strings.Cut(s, "://")
	if !ok {
		return "" // not a URL: the load says so
	}
	authority, rest := after, ""
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority, rest = after[:i], after[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, pass, _ := strings.Cut(authority[:at], ":")
		for _, part := range []string{user, pass} {
			if part != "" && !isRef(part) {
				return "the user and password of a URL are secrets: write each as a ${VAR} reference (https://${CRM_USER}:${CRM_PASSWORD}@crm.example.com/hook), or the whole URL as one, never a value"
			}
		}
	}
	_, query, hasQuery := strings.Cut(rest, "?")
	if !hasQuery {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	for _, pair := range strings.Split(query, "&") {
		_, v, _ := strings.Cut(pair, "=")
		if v == "" || isRef(v) {
			continue
		}
		if rest, refs := withoutReferences(v); refs > 0 && rest == "" {
			continue
		}
		return "the query of a URL is secret: write each value as a ${VAR} reference or a {{ template }}, or the whole URL as one reference, never a value"
	}
	return ""
}

// yamlField is one key of a configuration struct.
type yamlField struct {
	key string
	typ reflect.Type
}

// yamlFields returns the keys of t's exported, yaml-tagged fields in
// declaration order.
func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		out = append(out, yamlField{key: key, typ: f.Type})
	}
	return out
}

// channelFields are the keys of a channel: the settings every kind
// shares (router.ChannelConfig), then one block per registered kind,
// typed by the kind's configuration.
func channelFields() []yamlField {
	fields := yamlFields(reflect.TypeFor[router.ChannelConfig]())
	for _, k := range wiring.Kinds() {
		fields = append(fields, yamlField{key: k.Name, typ: reflect.TypeOf(k.Config())})
	}
	return fields
}

// plainSettings turns converted settings into the maps and lists that
// redactSettings and JSON work with.
func plainSettings(v any) any {
	switch x := v.(type) {
	case yaml.MapSlice:
		out := make(map[string]any, len(x))
		for _, it := range x {
			out[fmt.Sprint(it.Key)] = plainSettings(it.Value)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainSettings(e)
		}
		return out
	}
	return v
}

// editChannels applies fn to the parsed channels section.
func editChannels(fn func(c *rulesfile.Channels) ([]byte, *httpError)) func([]byte) ([]byte, *httpError) {
	return func(src []byte) ([]byte, *httpError) {
		c, err := rulesfile.ParseChannels(src)
		if err != nil {
			return nil, &httpError{code: http.StatusUnprocessableEntity, msg: "the rules file cannot be edited here: " + err.Error(),
				details: []ErrorDetail{{Message: err.Error()}}}
		}
		return fn(c)
	}
}

func channelEditFailed(err error, name string) *httpError {
	if errors.Is(err, rulesfile.ErrNoChannel) {
		return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no channel named %q in the rules file", name)}
	}
	return &httpError{code: http.StatusUnprocessableEntity, msg: err.Error(), details: []ErrorDetail{{Field: "channels." + name, Message: err.Error()}}}
}

// putChannel is PUT /api/v1/channels/{name}: it creates the channel
// (201) or replaces it (200); a different "name" in the body renames it.
// Rules that send to the old name are not rewritten: the save is refused
// while they do.
func (a *API) putChannel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	in, herr := decodeChannel(r, w)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	if in.name == "" {
		in.name = name
	}
	if !router.ValidName(in.name) {
		writeHTTPError(w, fieldsInvalid([]ErrorDetail{{Field: "name",
			Message: fmt.Sprintf("channel name %q: use letters, digits, '-', '_' and '.'", in.name)}}))
		return
	}
	created := false
	c := change{}
	edit := editChannels(func(ch *rulesfile.Channels) ([]byte, *httpError) {
		old, exists := ch.Settings(name)
		if !exists {
			if in.name != name {
				return nil, &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no channel named %q to rename", name)}
			}
			created = true
			c.action, c.rules = ActionChannelCreate, []string{name}
			c.summary = fmt.Sprintf("created %s channel %q", in.kind, name)
			out, err := ch.Append(name, in.settings)
			if err != nil {
				return nil, channelEditFailed(err, name)
			}
			return out, nil
		}
		if in.name != name && ch.Has(in.name) {
			return nil, &httpError{code: http.StatusConflict, msg: fmt.Sprintf("cannot rename channel %q to %q: a channel with that name already exists", name, in.name)}
		}
		c.action, c.rules = ActionChannelUpdate, []string{name}
		if in.name != name {
			c.action, c.rules = ActionChannelRename, []string{name, in.name}
		}
		c.summary = summarizeChannel(name, in.name, old, in.settings)
		out, err := ch.Replace(name, in.name, in.settings)
		if err != nil {
			return nil, channelEditFailed(err, name)
		}
		return out, nil
	})
	c.apply = func(src []byte) ([]byte, *httpError) {
		if errs := a.checkReferences(plainSettings(in.settings), src); len(errs) > 0 {
			return nil, fieldsInvalid(errs)
		}
		return edit(src)
	}
	// apply sets the action and summary, before save records them.
	version, herr := a.save(r, &c)
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	settings, _ := plainSettings(in.settings).(map[string]any)
	a.respondSaved(w, code, version, SavedChannel{
		ChannelSettings: ChannelSettings{Name: in.name, Kind: in.kind, Settings: redactSettings(settings)},
		Version:         version,
	})
}

// deleteChannel is DELETE /api/v1/channels/{name}; it is refused while
// rules send to the channel.
func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, herr := a.save(r, &change{
		action: ActionChannelDelete, rules: []string{name}, summary: fmt.Sprintf("deleted channel %q", name),
		apply: editChannels(func(ch *rulesfile.Channels) ([]byte, *httpError) {
			out, err := ch.Delete(name)
			if err != nil {
				return nil, channelEditFailed(err, name)
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

// summarizeChannel says in a few words how a channel changed, naming
// the settings that changed, never their values.
func summarizeChannel(oldName, newName string, old map[string]any, settings yaml.MapSlice) string {
	cur, _ := plainSettings(settings).(map[string]any)
	all := map[string]bool{}
	for k := range old {
		all[k] = true
	}
	for k := range cur {
		all[k] = true
	}
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if !sameJSON(old[k], cur[k]) {
			keys = append(keys, k)
		}
	}
	var parts []string
	if oldName != newName {
		parts = append(parts, fmt.Sprintf("renamed channel %q to %q", oldName, newName))
	}
	if len(keys) > 0 {
		parts = append(parts, fmt.Sprintf("changed %s of channel %q", strings.Join(keys, ", "), newName))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("rewrote channel %q (no change in meaning)", newName)
	}
	return strings.Join(parts, "; ")
}

// sameJSON compares two decoded values by their JSON form, so that
// numbers compare by value whatever their Go type.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
