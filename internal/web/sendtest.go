package web

import (
	"context"
	"encoding/json"
	"net/http"
)

// sendTestOutcome is what the Send test dialog shows.
type sendTestOutcome struct {
	Channel, Recipient, Problem string
	Errors                      []apiError
}

// sendTest sends one test notification of the rule being edited (saved or
// not) through the admin API's POST /api/v1/test/send.
func (u *UI) sendTest(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	out := sendTestOutcome{Channel: r.PostFormValue("test_channel")}
	defer func() { u.fragment(w, "send-test", out) }()
	rule, err := u.rule(e)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	if rule.Name == "" {
		rule.Name = "unsaved-rule"
	}
	msg, err := u.message(r, e)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	if u.takesRecipient(r.Context(), out.Channel) {
		out.Recipient = r.PostFormValue("test_email")
	}
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/test/send", "", map[string]any{
		"message": json.RawMessage(msg), "rule": rule, "to": out.Channel, "email_to": r.PostFormValue("test_email"),
	})
	switch {
	case err != nil:
		out.Problem = err.Error()
	case !rep.ok():
		out.Problem, out.Errors = writeProblem(rep), rep.Errors
		if rep.Message != "" {
			out.Problem = rep.Message
		}
	default:
		var res struct {
			Channel string `json:"channel"`
		}
		_ = json.Unmarshal(rep.Body, &res)
		out.Channel = res.Channel
	}
}

// takesRecipient reports whether Send test to channel goes to a recipient
// given in the dialog, as the channel's kind says.
func (u *UI) takesRecipient(ctx context.Context, channel string) bool {
	chans, err := u.api.channels(ctx)
	if err != nil {
		return false
	}
	kinds, err := u.api.kinds(ctx)
	if err != nil {
		return false
	}
	for _, c := range chans {
		if c.Name != channel {
			continue
		}
		for _, k := range kinds {
			if k.Name == c.Kind {
				return k.TestRecipient
			}
		}
	}
	return false
}
