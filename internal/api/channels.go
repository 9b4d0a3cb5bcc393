package api

import (
	"context"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/router"
)

// ChannelSettings is a channel as GET /api/v1/channels shows it: its kind
// and its settings as written in the rules file (before ${VAR}
// expansion), with every secret field shown as <secret>.
type ChannelSettings struct {
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	Settings map[string]any `json:"settings"`
	// Health is the channel's delivery state, when the store answers.
	Health *ChannelHealth `json:"health,omitempty"`
}

// ChannelHealth is a channel's circuit-breaker state and backlog.
type ChannelHealth struct {
	// State is closed (sending), open (failing: nothing is sent but one
	// probe per interval) or paused (the peer asked to wait).
	State string `json:"state"`
	// Backlog counts deliveries still to send: pending, in flight, held.
	Backlog int64 `json:"backlog"`
	// Failures counts consecutive failures while closed.
	Failures    int        `json:"failures"`
	OpenedAt    *time.Time `json:"opened_at,omitempty"`
	NextProbeAt *time.Time `json:"next_probe_at,omitempty"`
	PausedUntil *time.Time `json:"paused_until,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// channels is GET /api/v1/channels.
func (a *API) channels(w http.ResponseWriter, r *http.Request) {
	out := []ChannelSettings{}
	rs := a.o.Reload.Current()
	written := a.writtenChannels()
	health := a.channelHealth(r.Context(), rs)
	for _, n := range rs.ChannelNames() {
		c := rs.Channels[n]
		cs := ChannelSettings{Name: n, Kind: c.Kind, Settings: map[string]any{}, Health: health[n]}
		if m, ok := written[n]; ok {
			cs.Settings = redactSettings(m)
		}
		delete(cs.Settings, "type")
		out = append(out, cs)
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// channelHealth reads every channel's breaker and backlog; nil when the
// store does not answer (the list is still useful without them).
func (a *API) channelHealth(ctx context.Context, rs *router.Ruleset) map[string]*ChannelHealth {
	if a.o.Store == nil {
		return nil
	}
	breakers, err := a.o.Store.Breakers(ctx)
	if err != nil {
		return nil
	}
	backlog, err := a.o.Store.Backlog(ctx)
	if err != nil {
		return nil
	}
	now := a.o.Now()
	out := map[string]*ChannelHealth{}
	for _, n := range rs.ChannelNames() {
		h := &ChannelHealth{State: "closed", Backlog: backlog[n]}
		if b, ok := breakers[n]; ok {
			h.Failures, h.LastError = b.Failures, rs.Scrub(b.LastError)
			switch {
			case b.IsOpen():
				h.State = "open"
				opened, probe := b.OpenedAt, b.ProbeAt
				h.OpenedAt, h.NextProbeAt = &opened, &probe
			case b.Paused(now):
				h.State = "paused"
				until := b.PausedUntil
				h.PausedUntil = &until
			}
			if h.State == "closed" && h.Failures == 0 {
				h.LastError = ""
			}
		}
		out[n] = h
	}
	return out
}

// writtenChannels reads the channels section of the rules file on disk.
func (a *API) writtenChannels() map[string]map[string]any {
	src, err := os.ReadFile(a.o.Reload.Options().RulesPath)
	if err != nil {
		return nil
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil || len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil
	}
	var values []*ast.MappingValueNode
	switch n := f.Docs[0].Body.(type) {
	case *ast.MappingNode:
		values = n.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{n}
	}
	for _, mv := range values {
		if mv.Key.GetToken().Value == "channels" {
			var out map[string]map[string]any
			if config.NodeToValue(mv.Value, &out) != nil {
				return nil
			}
			return out
		}
	}
	return nil
}

// secretKeys are the keys whose values are credentials in any channel
// kind, found from the secret types of every kind's configuration.
func secretKeys() map[string]bool {
	out := map[string]bool{}
	for _, f := range channelFields() {
		config.Walk(reflect.Zero(f.typ), nil, "", func(cf config.Field) bool {
			ft := cf.Struct.Type
			if ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			switch ft {
			case reflect.TypeFor[secret.String](), reflect.TypeFor[secret.URL]():
				key, _, _ := strings.Cut(cf.Struct.Tag.Get("yaml"), ",")
				out[key] = true
				return false
			}
			return true
		})
	}
	return out
}

// hideLiteral returns a value that holds no literal secret as written —
// ${VAR} references (they say where a secret comes from, not what it is),
// {{ template }} actions, and in a header an authentication scheme before
// them ("Bearer ${CRM_TOKEN}") — and anything else as <secret>. It accepts
// exactly what a save accepts, so a channel saved unchanged stays valid.
func hideLiteral(v any, header bool) any {
	s, ok := v.(string)
	if !ok {
		return secret.Redacted
	}
	if isRef(s) {
		return s
	}
	if rest, refs := withoutReferences(s); refs > 0 && (rest == "" || header && schemeWord.MatchString(rest)) {
		return s
	}
	return secret.Redacted
}

// urlKeys are the settings holding a URL whose scheme, host and path are
// not secret (only its userinfo and query are): an HTTP channel's url,
// Slack's api_url. Slack's webhook_url is a secret as a whole.
func urlKeys(key string) bool {
	return key == "url" || key == "api_url" || key == "jwt_public_key_url"
}

// showURL shows a URL as written — a templated path stays
// "/customers/{{ .customer.external_id }}", never URL-escaped — with its
// userinfo and query as <secret> unless they hold only references.
func showURL(raw string) string {
	if urlSecretProblem(raw) == "" {
		return raw
	}
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok {
		return secret.Redacted
	}
	authority, rest := after, ""
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority, rest = after[:i], after[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = secret.Redacted + authority[at:]
	}
	rest, _, _ = strings.Cut(rest, "#")
	if path, _, hasQuery := strings.Cut(rest, "?"); hasQuery {
		rest = path + "?" + secret.Redacted
	}
	return scheme + "://" + authority + rest
}

// redactSettings replaces the values of secret keys, at any depth, with
// <secret> unless they hold no literal secret (see hideLiteral); header
// values count as secret, except the descriptive ones (Content-Type).
func redactSettings(m map[string]any) map[string]any {
	keys := secretKeys()
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		if urlKeys(key) {
			if u, ok := v.(string); ok {
				return showURL(u)
			}
		}
		if key == "headers" {
			if sub, ok := v.(map[string]any); ok {
				out := map[string]any{}
				for k, e := range sub {
					if slices.Contains(descriptiveHeaders, strings.ToLower(k)) {
						out[k] = e
						continue
					}
					out[k] = hideLiteral(e, true)
				}
				return out
			}
		}
		if keys[key] {
			return hideLiteral(v, false)
		}
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				out[k] = walk(k, e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(key, e)
			}
			return out
		}
		return v
	}
	out := map[string]any{}
	for k, v := range m {
		out[k] = walk(k, v)
	}
	return out
}
