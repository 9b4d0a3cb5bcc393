package api

import (
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits of the read endpoints the editor needs besides the rules.
const (
	// DefaultRecentMessages is how many messages GET /api/v1/messages
	// lists without ?limit; MaxRecentMessages the most it lists.
	DefaultRecentMessages = 20
	MaxRecentMessages     = 100
	// DefaultStatsWindow is the window of GET /api/v1/stats/rules
	// without ?since; MaxStatsWindow the longest it takes.
	DefaultStatsWindow = 24 * time.Hour
	MaxStatsWindow     = 90 * 24 * time.Hour
)

// registerReads adds the read-only routes the editor pages show: recent
// messages, rule activity, the templates directory and the channel kinds.
func (a *API) registerReads(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/messages", a.auth(http.HandlerFunc(a.recentMessages)))
	mux.Handle("GET /api/v1/stats/rules", a.auth(http.HandlerFunc(a.ruleStats)))
	mux.Handle("GET /api/v1/templates", a.auth(http.HandlerFunc(a.templates)))
	mux.Handle("GET /api/v1/channel-kinds", a.auth(http.HandlerFunc(a.channelKinds)))
}

// MessageJSON is a received message as GET /api/v1/messages shows it.
type MessageJSON struct {
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	WebhookType string    `json:"webhook_type"`
	ReceivedAt  time.Time `json:"received_at"`
	// Body is the message as received (a JSON object); absent when the
	// stored body is not JSON.
	Body json.RawMessage `json:"body,omitempty"`
}

// recentMessages is GET /api/v1/messages?limit=N: the last N messages
// received, newest first, with their bodies (what "Try it" runs on).
func (a *API) recentMessages(w http.ResponseWriter, r *http.Request) {
	n := DefaultRecentMessages
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > MaxRecentMessages {
			writeError(w, http.StatusBadRequest, "limit must be 1.."+strconv.Itoa(MaxRecentMessages))
			return
		}
		n = v
	}
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	list, err := a.o.Store.RecentMessages(r.Context(), n)
	if err != nil {
		a.o.Logger.Warn("api: recent messages", "error", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := make([]MessageJSON, 0, len(list))
	for _, m := range list {
		mj := MessageJSON{ID: m.ID, Source: m.Source, WebhookType: m.WebhookType, ReceivedAt: m.ReceivedAt}
		if json.Valid(m.Body) {
			mj.Body = m.Body
		}
		out = append(out, mj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// RuleStatJSON is one rule's activity in GET /api/v1/stats/rules.
type RuleStatJSON struct {
	// Matches counts the messages the rule matched in the window (a
	// message sent to several channels counts once).
	Matches int `json:"matches"`
	// Deliveries counts the deliveries it created in the window.
	Deliveries int `json:"deliveries"`
	// LastFired is when it last created a delivery, within the store's
	// retention; absent when never.
	LastFired *time.Time `json:"last_fired,omitempty"`
}

// ruleStats is GET /api/v1/stats/rules?since=24h: per rule in use, its
// matches and deliveries in the window and when it last fired. Every
// rule of the configuration in use is listed, with zeros when idle.
func (a *API) ruleStats(w http.ResponseWriter, r *http.Request) {
	window := DefaultStatsWindow
	if s := r.URL.Query().Get("since"); s != "" {
		d, err := parseSince(s)
		if err != nil || d <= 0 || d > MaxStatsWindow {
			writeError(w, http.StatusBadRequest, "since: write a positive duration of at most 90d, such as 24h or 7d")
			return
		}
		window = d
	}
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	since := a.o.Now().Add(-window)
	stats, err := a.o.Store.RuleStats(r.Context(), since)
	if err != nil {
		a.o.Logger.Warn("api: rule stats", "error", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := map[string]RuleStatJSON{}
	for _, rule := range a.o.Reload.Current().Rules {
		st := stats[rule.Name]
		rj := RuleStatJSON{Matches: st.Matches, Deliveries: st.Deliveries}
		if !st.LastFired.IsZero() {
			t := st.LastFired.UTC()
			rj.LastFired = &t
		}
		out[rule.Name] = rj
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since.UTC(), "rules": out})
}

// templates is GET /api/v1/templates: the names of the files of the
// templates directory a rule's send may name, sorted.
func (a *API) templates(w http.ResponseWriter, r *http.Request) {
	names := []string{}
	ents, err := os.ReadDir(a.o.Reload.Options().TemplatesDir)
	if err != nil && !os.IsNotExist(err) {
		a.o.Logger.Warn("api: list templates", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the templates directory cannot be read")
		return
	}
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	writeJSON(w, http.StatusOK, map[string]any{"templates": names})
}
