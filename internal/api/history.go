package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard-dev/switchboard/internal/rulesfile"
	"github.com/switchboard-dev/switchboard/internal/store"
)

// history is GET /api/v1/history: the latest saves, newest first.
func (a *API) history(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", store.MaxListLimit))
			return
		}
		limit = n
	}
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no store: history is not kept")
		return
	}
	list, err := a.o.Store.History(r.Context(), limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": list})
}

// restore is POST /api/v1/history/{id}/restore: it writes the file as that
// save left it back through the same validated save path, and records a
// restore.
func (a *API) restore(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("rule") {
		a.restoreRule(w, r)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "the history id must be a positive number")
		return
	}
	if a.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no store: history is not kept")
		return
	}
	sv, err := a.o.Store.HistoryEntry(r.Context(), id)
	if errors.Is(err, store.ErrNoHistory) {
		writeError(w, http.StatusNotFound, "no such history entry")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	version, herr := a.save(r, &change{
		action: store.ActionRestore, rules: sv.Rules,
		summary: fmt.Sprintf("restored the rules file as saved in #%d (version %s)", sv.ID, rulesfile.Hash(sv.Content)),
		apply: func([]byte) ([]byte, *httpError) {
			return sv.Content, nil
		},
	})
	if herr != nil {
		writeHTTPError(w, herr)
		return
	}
	a.respondSaved(w, http.StatusOK, version, map[string]any{"version": version, "restored": sv.ID})
}
