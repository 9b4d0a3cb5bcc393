package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// SilenceInput is the body of POST /api/v1/silences: a rule, an
// expression or both; a duration or an end; a reason and an author.
type SilenceInput struct {
	Rule     string `json:"rule"`
	When     string `json:"when"`
	Duration string `json:"duration"`
	StartsAt string `json:"starts_at"`
	EndsAt   string `json:"ends_at"`
	Reason   string `json:"reason"`
	Author   string `json:"author"`
}

// SilenceJSON is a silence with its state now.
type SilenceJSON struct {
	store.Silence
	State string `json:"state"`
}

func (a *API) registerSilences(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/silences", a.auth(http.HandlerFunc(a.listSilences)))
	mux.Handle("POST /api/v1/silences", a.auth(http.HandlerFunc(a.addSilence)))
	mux.Handle("GET /api/v1/silences/{id}", a.auth(http.HandlerFunc(a.getSilence)))
	mux.Handle("DELETE /api/v1/silences/{id}", a.auth(http.HandlerFunc(a.expireSilence)))
}

func (a *API) listSilences(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Store.Silences(r.Context(), r.URL.Query().Get("all") == "true")
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	now := a.o.Now()
	out := make([]SilenceJSON, len(list))
	for i, s := range list {
		out[i] = SilenceJSON{s, s.State(now)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": out})
}

func (a *API) getSilence(w http.ResponseWriter, r *http.Request) {
	s, err := a.o.Store.GetSilence(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrSilenceNotFound):
		writeError(w, http.StatusNotFound, "no such silence")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
	default:
		writeJSON(w, http.StatusOK, SilenceJSON{s, s.State(a.o.Now())})
	}
}

func (a *API) addSilence(w http.ResponseWriter, r *http.Request) {
	var in SilenceInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"rule\", \"when\", \"duration\", \"reason\", \"author\"}: "+err.Error())
		return
	}
	if in.Author == "" {
		in.Author = "api"
	}
	s, details := NewSilence(in, a.o.Reload.Current(), a.o.Now())
	if len(details) > 0 {
		writeHTTPError(w, &httpError{code: http.StatusUnprocessableEntity, msg: "invalid silence: " + details[0].Message, details: details})
		return
	}
	s, err := a.o.Store.AddSilence(r.Context(), s)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot store the silence")
		return
	}
	a.refreshSilences(r.Context())
	a.o.Logger.Info("silence added", "silence", s.ID, "rule", s.Rule, "when", s.When, "ends_at", s.EndsAt,
		"author", s.Author, "reason", s.Reason)
	writeJSON(w, http.StatusCreated, SilenceJSON{s, s.State(a.o.Now())})
}

func (a *API) expireSilence(w http.ResponseWriter, r *http.Request) {
	s, err := a.o.Store.ExpireSilence(r.Context(), r.PathValue("id"), a.o.Now())
	switch {
	case errors.Is(err, store.ErrSilenceNotFound):
		writeError(w, http.StatusNotFound, "no such silence")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	a.refreshSilences(r.Context())
	a.o.Logger.Info("silence expired", "silence", s.ID, "rule", s.Rule)
	w.WriteHeader(http.StatusNoContent)
}

// refreshSilences makes this replica see a change at once; the others
// see it at their next refresh.
func (a *API) refreshSilences(ctx context.Context) {
	if a.o.Silences == nil {
		return
	}
	if err := a.o.Silences.Refresh(ctx); err != nil {
		a.o.Logger.Warn("cannot refresh silences", "error", err)
	}
}

// NewSilence validates a silence request against the current rules: the
// rule must exist (a typo would silence nothing) and the expression
// compile. The CLI and the editor use it too.
func NewSilence(in SilenceInput, rs *router.Ruleset, now time.Time) (store.Silence, []ErrorDetail) {
	var errs []ErrorDetail
	add := func(field, format string, args ...any) {
		errs = append(errs, ErrorDetail{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	s := store.Silence{Rule: strings.TrimSpace(in.Rule), When: strings.TrimSpace(in.When),
		Reason: strings.TrimSpace(in.Reason), Author: strings.TrimSpace(in.Author)}
	if s.Rule == "" && s.When == "" {
		add("rule", "give a rule, an expression (when), or both")
	}
	if s.Rule != "" && rs != nil {
		if _, ok := rs.Rule(s.Rule); !ok {
			add("rule", "no rule named %q in the current rules", s.Rule)
		}
	}
	if s.When != "" {
		if _, err := router.CompileMatcher(s.When, nil); err != nil {
			add("when", "when: %v", err)
		}
	}
	if s.Reason == "" {
		add("reason", "a reason is required (say why, for whoever wonders where the alerts went)")
	}
	s.StartsAt = now
	if in.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, in.StartsAt)
		if err != nil {
			add("starts_at", "starts_at: use RFC 3339, e.g. 2026-11-22T18:00:00Z")
		} else {
			s.StartsAt = t
		}
	}
	switch {
	case in.Duration != "" && in.EndsAt != "":
		add("duration", "give duration or ends_at, not both")
	case in.Duration != "":
		d, err := time.ParseDuration(in.Duration)
		if err != nil || d <= 0 {
			add("duration", "duration: a positive duration such as 30m, 2h or 72h")
		}
		s.EndsAt = s.StartsAt.Add(d)
	case in.EndsAt != "":
		t, err := time.Parse(time.RFC3339, in.EndsAt)
		if err != nil {
			add("ends_at", "ends_at: use RFC 3339, e.g. 2026-11-22T18:00:00Z")
		} else if !t.After(s.StartsAt) || !t.After(now) {
			add("ends_at", "ends_at must be in the future and after starts_at")
		}
		s.EndsAt = t
	default:
		add("duration", "give how long the silence lasts (duration) or when it ends (ends_at)")
	}
	return s, errs
}
