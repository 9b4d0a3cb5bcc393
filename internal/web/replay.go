package web

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// replaySince are the time ranges the bulk replay form offers.
var replaySince = []struct{ Value, Label string }{
	{"1h", "the last hour"}, {"2h", "the last 2 hours"}, {"6h", "the last 6 hours"},
	{"24h", "the last day"}, {"168h", "the last week"}, {"", "any time"},
}

// bulkReplay requeues the dead letters the deliveries page's form selects,
// through POST /api/v1/deliveries/replay.
func (u *UI) bulkReplay(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := bulkReplayQuery(r.PostForm)
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/deliveries/replay?"+q.Encode(), "", nil)
	_, problem := outcome(rep, err, "")
	if problem != "" {
		u.fragment(w, "text", problem)
		return
	}
	var res struct {
		Replayed int `json:"replayed"`
		Failed   []struct {
			Error string `json:"error"`
		} `json:"failed"`
	}
	_ = json.Unmarshal(rep.Body, &res)
	notice := "Requeued " + deadLetters(res.Replayed) + "."
	if len(res.Failed) > 0 {
		notice += fmt.Sprintf(" %d could not be rendered again and stay dead (first: %s).", len(res.Failed), res.Failed[0].Error)
	}
	u.fragment(w, "text", notice)
}
