package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
)

// countDead answers a bulk replay's dry run: how many dead letters f
// selects, as {"would_replay": N}.
func (a *API) countDead(w http.ResponseWriter, r *http.Request, f store.ReplayFilter) {
	n, err := a.o.Store.CountDead(r.Context(), f)
	if err != nil {
		a.o.Logger.Warn("api: count dead letters", "error", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"would_replay": n})
}

// errFound stops a message scan at the message sought.
var errFound = errors.New("found")

// deliveryMessage returns the message d came from, with its body, or nil
// when it is no longer stored (retention removed it) or cannot be read.
func (a *API) deliveryMessage(ctx context.Context, d store.StoredDelivery) *MessageJSON {
	if d.MessageID == "" || d.ReceivedAt.IsZero() {
		return nil
	}
	var out *MessageJSON
	q := store.MessageQuery{From: d.ReceivedAt, To: d.ReceivedAt.Add(time.Microsecond), Source: d.Source, WebhookType: d.WebhookType}
	err := a.o.Store.MessageReader().Messages(ctx, q, func(m store.Message) error {
		if m.ID != d.MessageID {
			return nil
		}
		out = &MessageJSON{ID: m.ID, Source: m.Source, WebhookType: m.WebhookType, ReceivedAt: m.ReceivedAt}
		if json.Valid(m.Body) {
			out.Body = m.Body
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		a.o.Logger.Warn("api: read a delivery's message", "delivery", d.ID, "message", d.MessageID, "error", err)
		return nil
	}
	return out
}
