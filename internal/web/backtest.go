package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backtestWindow is how far back the editor's backtests look.
const backtestWindow = "7d"

// btReport is the part of POST /api/v1/backtest's answer the editor shows.
type btReport struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Days     float64   `json:"days"`
	Messages int       `json:"messages"`
	Matched  int       `json:"matched"`
	Changed  bool      `json:"changed"`
	Totals   struct {
		Added       int     `json:"added"`
		Removed     int     `json:"removed"`
		Changed     int     `json:"changed"`
		BeforeSent  int     `json:"before_sent"`
		AfterSent   int     `json:"after_sent"`
		SentPerDay  float64 `json:"sent_per_day"`
		DeltaPerDay float64 `json:"delta_per_day"`
	} `json:"totals"`
	Rules []btRule `json:"rules"`
}

type btRule struct {
	Rule    string `json:"rule"`
	Channel string `json:"channel"`
	Status  string `json:"status"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Changed int    `json:"changed"`
	Before  btSide `json:"before"`
	After   btSide `json:"after"`
	// Examples are the first few of each kind.
	Examples struct {
		Added   []btExample `json:"added"`
		Removed []btExample `json:"removed"`
		Changed []btExample `json:"changed"`
	} `json:"examples"`
}

type btSide struct {
	Matches    int `json:"matches"`
	Sent       int `json:"sent"`
	Suppressed int `json:"suppressed"`
	Grouped    int `json:"grouped"`
	Held       int `json:"held"`
	Dropped    int `json:"dropped"`
	Failed     int `json:"failed"`
}

type btExample struct {
	MessageID   string            `json:"message_id"`
	WebhookType string            `json:"webhook_type"`
	ReceivedAt  time.Time         `json:"received_at"`
	Before      map[string]string `json:"before"`
	After       map[string]string `json:"after"`
	Diff        string            `json:"diff"`
}

// Text is the example's notification as one text: its text part, or its
// error, or its other parts.
func (e btExample) Text() string {
	p := e.After
	if p == nil {
		p = e.Before
	}
	for _, k := range []string{"error", "text", "subject", "body"} {
		if v := p[k]; v != "" {
			if k == "error" {
				return "error: " + v
			}
			return v
		}
	}
	var parts []string
	for k, v := range p {
		parts = append(parts, k+": "+v)
	}
	return strings.Join(parts, "\n")
}

// backtestOutcome is what the backtest fragment shows.
type backtestOutcome struct {
	// Alone names the rule backtested alone (Rules page); empty for a
	// change in the editor.
	Alone   string
	Problem string
	Report  *btReport
	// SaveLabel, when set, replaces the editor's Save button label.
	SaveLabel string
}

// num formats a per-day figure: 12, 0.5.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// saveLabel says what saving the change would do to the notifications
// sent: "Save (would add 12 notifications a day)".
func saveLabel(rep *btReport) string {
	d := rep.Totals.DeltaPerDay
	switch {
	case rep.Messages == 0:
		return "Save (no messages in the last 7 days to compare)"
	case d > 0:
		return fmt.Sprintf("Save (would add %s notification%s a day)", num(d), plural(d))
	case d < 0:
		return fmt.Sprintf("Save (would send %s fewer notification%s a day)", num(-d), plural(-d))
	case rep.Changed:
		return "Save (same number of notifications, some different)"
	}
	return "Save (no change over the last 7 days)"
}

func plural(f float64) string {
	if f == 1 {
		return ""
	}
	return "s"
}

// backtest asks the admin API for a backtest and fills out.
func (u *UI) backtest(r *http.Request, body map[string]any, out *backtestOutcome) {
	body["since"] = backtestWindow
	rep, err := u.api.call(r.Context(), http.MethodPost, "/api/v1/backtest", "", body)
	switch {
	case err != nil:
		out.Problem = "The backtest did not run: " + err.Error()
		return
	case rep.Code == http.StatusNotFound && rep.Message == "":
		out.Problem = "This server cannot backtest."
		return
	case rep.Code == http.StatusUnprocessableEntity:
		out.Problem = writeProblem(rep)
		return
	case rep.Code == http.StatusGatewayTimeout:
		out.Problem = "The backtest took too long (more than 30 seconds over the last 7 days)."
		return
	case !rep.ok():
		out.Problem = "The backtest failed: " + cmpOr(rep.Message, http.StatusText(rep.Code))
		return
	}
	var report btReport
	if err := json.Unmarshal(rep.Body, &report); err != nil {
		out.Problem = "The backtest's answer is unreadable: " + err.Error()
		return
	}
	out.Report = &report
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// backtestFragment answers POST /ui/editor/backtest: what the rule being
// edited would have changed over the last 7 days, and the Save label.
func (u *UI) backtestFragment(w http.ResponseWriter, r *http.Request) {
	e, err := parseForm(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	out := backtestOutcome{}
	defer func() { u.fragment(w, "backtest", out) }()
	rule, err := u.rule(e)
	if err != nil {
		out.Problem = err.Error()
		return
	}
	if rule.Name == "" {
		out.Problem = "Name the rule to see what it would have done."
		return
	}
	if c := u.check(rule.When); !c.OK {
		out.Problem = "The condition does not compile: " + c.Message
		return
	}
	body := map[string]any{"rule": rule}
	if e.Original != "" {
		body["original"] = e.Original
	}
	u.backtest(r, body, &out)
	if out.Report != nil {
		out.SaveLabel = saveLabel(out.Report)
	}
}

// ruleBacktest answers POST /ui/rules/{name}/backtest: what the saved
// rule alone sent over the last 7 days.
func (u *UI) ruleBacktest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		name = r.FormValue("rule")
	}
	out := backtestOutcome{Alone: name}
	u.backtest(r, map[string]any{"only": name}, &out)
	if out.Problem == "" && out.Report == nil {
		out.Problem = "No answer."
	}
	u.fragment(w, "backtest", out)
}

// PerDay is the report's change in notifications a day, signed: "+12",
// "-0.5", "0".
func (rep *btReport) PerDay() string {
	d := rep.Totals.DeltaPerDay
	if d > 0 {
		return "+" + num(d)
	}
	return num(d)
}

// SentPerDay is the notifications a day the candidate sends.
func (rep *btReport) SentPerDay() string { return num(rep.Totals.SentPerDay) }

// Window describes the report's window.
func (rep *btReport) Window() string {
	if rep.From.IsZero() {
		return "the last 7 days"
	}
	return rep.From.UTC().Format("2006-01-02 15:04") + " to " + rep.To.UTC().Format("2006-01-02 15:04") + " UTC"
}

// Fatigue says what throttles, digests and quiet hours did to the
// candidate's notifications.
func (r btRule) Fatigue() string {
	var parts []string
	a := r.After
	for _, p := range []struct {
		n    int
		what string
	}{{a.Suppressed, "throttled"}, {a.Grouped, "into digests"}, {a.Held, "held by quiet hours"}, {a.Dropped, "dropped by quiet hours"}, {a.Failed, "failed to render"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return strings.Join(parts, ", ")
}
