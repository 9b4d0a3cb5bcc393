package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// deliveryDetail is one delivery as GET /api/v1/deliveries/{id} shows it:
// what was sent (the parts the channel's kind shows, without credentials),
// each attempt, and the message it came from.
type deliveryDetail struct {
	Delivery struct {
		deliveryView
		MessageID   string            `json:"message_id"`
		Source      string            `json:"source"`
		GroupID     string            `json:"group_id"`
		NextAttempt *time.Time        `json:"next_attempt_at"`
		DeliveredAt *time.Time        `json:"delivered_at"`
		Parts       map[string]string `json:"parts"`
	} `json:"delivery"`
	Attempts []attemptView `json:"attempts"`
	Message  *messageView  `json:"message"`
}

// attemptView is one attempt at a delivery.
type attemptView struct {
	No         int       `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error"`
}

// deliveryPage shows one delivery: to which channel, what was sent, each
// attempt and the message it came from.
func (u *UI) deliveryPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	data := map[string]any{"Title": "Delivery " + id, "ID": id}
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/deliveries/"+url.PathEscape(id), "", nil)
	switch {
	case err != nil:
		data["Problem"] = "The delivery cannot be read right now: " + err.Error()
		u.render(w, r, http.StatusServiceUnavailable, "delivery", data)
		return
	case rep.Code == http.StatusNotFound:
		data["Problem"] = "There is no delivery " + id + " (retention may have removed it)."
		u.render(w, r, http.StatusNotFound, "delivery", data)
		return
	case !rep.ok():
		data["Problem"] = "The delivery cannot be read right now: " + writeProblem(rep)
		u.render(w, r, http.StatusServiceUnavailable, "delivery", data)
		return
	}
	var d deliveryDetail
	if err := json.Unmarshal(rep.Body, &d); err != nil {
		data["Problem"] = "The delivery cannot be read: " + err.Error()
		u.render(w, r, http.StatusBadGateway, "delivery", data)
		return
	}
	data["D"] = d.Delivery
	data["Attempts"] = d.Attempts
	if d.Message != nil {
		data["Message"] = d.Message
		var pretty bytes.Buffer
		if json.Indent(&pretty, d.Message.Body, "", "  ") == nil {
			data["Body"] = pretty.String()
		}
	}
	u.render(w, r, http.StatusOK, "delivery", data)
}

// bulkReplayCount says how many dead letters the bulk replay form's
// filter selects, from a dry run of POST /api/v1/deliveries/replay.
func (u *UI) bulkReplayCount(w http.ResponseWriter, r *http.Request) {
	q := bulkReplayQuery(r.URL.Query())
	q.Set("dry_run", "true")
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/deliveries/replay?"+q.Encode(), "", nil)
	if _, problem := outcome(rep, err, ""); problem != "" {
		u.fragment(w, "text", "Cannot count the dead letters: "+problem)
		return
	}
	var res struct {
		WouldReplay int `json:"would_replay"`
	}
	if err := json.Unmarshal(rep.Body, &res); err != nil {
		u.fragment(w, "text", "Cannot count the dead letters: "+err.Error())
		return
	}
	u.fragment(w, "text", fmt.Sprintf("This requeues %s.", deadLetters(res.WouldReplay)))
}

// bulkReplayQuery is the bulk replay's API query from the form's values.
func bulkReplayQuery(form url.Values) url.Values {
	q := url.Values{"status": {"dead"}}
	for _, k := range []string{"channel", "rule", "since"} {
		if v := form.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if form.Get("rerender") != "" {
		q.Set("rerender", "true")
	}
	return q
}

// deadLetters is "1 dead letter", "2 dead letters".
func deadLetters(n int) string {
	if n == 1 {
		return "1 dead letter"
	}
	return fmt.Sprintf("%d dead letters", n)
}
