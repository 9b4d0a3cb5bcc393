package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// silenceDurations are the lengths offered in the form.
var silenceDurations = []string{"30m", "1h", "2h", "4h", "8h", "24h", "72h", "168h"}

// silenceForm is what the form last held, kept when it is refused.
type silenceForm struct {
	Rule, When, Duration, Reason string
}

func (u *UI) silencesPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "silences", u.silencesData(r, silenceForm{Duration: "2h"}, "", "", nil))
}

func (u *UI) silencesData(r *http.Request, form silenceForm, notice, problem string, errs []apiError) map[string]any {
	data := map[string]any{
		"Title": "Silences", "Notice": notice, "Problem": problem, "Errors": errs, "Form": form,
		"Rules": u.api.ruleNames(r.Context()), "Durations": silenceDurations,
	}
	rep, err := u.api.call(r.Context(), http.MethodGet, "/api/v1/silences?all=true", "", nil)
	if err != nil || !rep.ok() {
		data["Problem"] = "The silences cannot be read right now."
		return data
	}
	var out struct {
		Silences []silenceView `json:"silences"`
	}
	if json.Unmarshal(rep.Body, &out) == nil {
		data["Silences"] = out.Silences
	}
	return data
}

func (u *UI) addSilence(w http.ResponseWriter, r *http.Request) {
	form := silenceForm{
		Rule: r.PostFormValue("rule"), When: r.PostFormValue("when"),
		Duration: r.PostFormValue("duration"), Reason: r.PostFormValue("reason"),
	}
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/silences", "", silenceInput{
		Rule: form.Rule, When: form.When, Duration: form.Duration, Reason: form.Reason, Author: "editor",
	})
	switch {
	case err != nil:
		u.fragment(w, "silences-table", u.silencesData(r, form, "", err.Error(), nil))
	case !rep.ok():
		problem := rep.Message
		if rep.Code == http.StatusUnprocessableEntity {
			problem = "The silence was not added: see the fields marked below."
		} else if problem == "" {
			problem = fmt.Sprintf("The silence was not added (HTTP %d).", rep.Code)
		}
		u.fragment(w, "silences-table", u.silencesData(r, form, "", problem, rep.Errors))
	default:
		var s silenceView
		_ = json.Unmarshal(rep.Body, &s)
		notice := "Silence " + s.ID + " added until " + s.EndsAt.UTC().Format(time.RFC3339) + "."
		u.fragment(w, "silences-table", u.silencesData(r, silenceForm{Duration: form.Duration}, notice, "", nil))
	}
}

func (u *UI) expireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := u.api.call(r.Context(), http.MethodDelete, "/api/v1/silences/"+id, "", nil)
	notice, problem := outcome(rep, err, "Silence "+id+" expired.")
	u.fragment(w, "silences-table", u.silencesData(r, silenceForm{Duration: "2h"}, notice, problem, nil))
}
